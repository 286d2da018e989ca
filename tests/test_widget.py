"""The widget's Python side, without a browser: what goes out, what comes in, what is refused.

"From the frontend" means through ipywidgets' own message handler (``_handle_msg``), exactly as
a browser's update arrives in the kernel.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.widget import wire as _wire
from camwidget.widget import CamWidget

REPO = Path(__file__).resolve().parents[1]


def from_frontend(w: CamWidget, **state) -> None:
    """Deliver ``state`` the way a browser update reaches the kernel."""
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


@pytest.fixture
def widget(tiny_session):
    w = CamWidget(tiny_session, method="gradcam")
    assert w.wait(30)
    yield w
    w.close()


class Calls:
    """Counts (and can break or slow down) the session's explain()."""

    def __init__(self, session, delay: float = 0.0):
        self.session, self.original, self.delay = session, session.explain, delay
        self.layers: list[str] = []
        self.fail_on: str | None = None
        session.explain = self

    def __call__(self, method, layer=None, **kw):
        self.layers.append(layer)
        if self.delay:
            time.sleep(self.delay)
        if layer is not None and layer == self.fail_on:
            raise RuntimeError("the method broke")
        return self.original(method, layer=layer, **kw)


# ---- what goes out ---------------------------------------------------------------------------
def test_heatmap_and_image_travel_as_bytes(widget, tiny_session):
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    for name in ("image", "heatmap", "channels_atlas"):
        assert [name] in paths, f"{name} is not sent as a binary buffer"
    large_text = [k for k, v in state.items() if isinstance(v, str) and len(v) > 1000 and not k.startswith("_")]
    assert not large_text, f"{large_text} went out as text"
    h, w = widget.image_shape
    assert len(widget.image) == h * w * 3 and (h, w) == tiny_session.image.shape[:2]
    e = widget.explanation
    shape = widget.heatmap_meta["shape"]
    assert shape == list(e.map.shape) and len(widget.heatmap) == shape[0] * shape[1]
    sent = np.frombuffer(widget.heatmap, dtype=np.uint8).reshape(shape)
    np.testing.assert_array_equal(sent, _wire.to_uint8(e.map))
    assert widget.heatmap_meta["layer"] == e.layer == tiny_session.default_layer
    assert widget.heatmap_meta["request"] == widget.answered == widget.request


def test_static_traits_describe_the_session(widget, tiny_session):
    assert [d["name"] for d in widget.layers] == [i.name for i in tiny_session.layers]
    assert widget.layers[0]["shape"] == list(tiny_session.layers[0].shape)
    names = [m["name"] for m in widget.methods]
    assert names == [m.name for m in cw.engine.methods.available()]  # from the registry, not hard-coded
    assert len(widget.top) == min(5, tiny_session.num_classes)
    assert widget.top[0]["index"] == tiny_session.resolve_target(None)
    meta = widget.atlas_meta
    c = tiny_session.layer_info(widget.layer).shape[0]
    assert meta["total"] == c and len(meta["order"]) == min(c, _wire.MAX_TILES)
    th, tw = meta["tile"]
    assert len(widget.channels_atlas) == len(meta["order"]) * th * tw
    weights = meta["weights"]
    assert weights == sorted(weights, reverse=True)


# ---- Python sets, the state follows ------------------------------------------------------------
def test_python_set_traits_update_the_state(widget, tiny_session):
    request = widget.request
    widget.layer = "features.2"
    e = widget.explanation
    assert e.layer == "features.2" and widget.heatmap_meta["layer"] == "features.2"
    assert widget.request > request and widget.answered == widget.request
    widget.region = (1, 2, 4, 6)
    assert widget.explanation.region == (1, 2, 4, 6)
    widget.channels = [3, 1]
    assert widget.channels == [1, 3] and widget.explanation.channels == [1, 3]
    widget.target = 2
    assert widget.explanation.target == 2
    widget.method = "gradcam++"
    assert widget.explanation.method == "gradcam++"
    expected = tiny_session.explain("gradcam++", layer="features.2", target=2, channels=[1, 3], region=(1, 2, 4, 6))
    np.testing.assert_allclose(widget.explanation.map, expected.map)
    # Channels and grid cells belong to a layer: changing the layer clears them.
    widget.layer = "features.0"
    assert widget.region is None and widget.channels is None
    assert widget.explanation.layer == "features.0"
    assert widget.error == ""


def test_aliases_and_names_are_canonicalised(widget):
    widget.layer = "features.4"  # an alias of "features"
    assert widget.layer == "features"
    widget.method = "GradCAM++".lower()
    assert widget.method == "gradcam++"


def test_bad_python_values_show_in_the_widget_and_keep_the_last_valid_state(widget):
    widget.layer = "features.2"
    widget.wait()
    widget.layer = "no.such.layer"
    assert widget.layer == "features.2" and "layer" in widget.error
    widget.region = (0, 0, 99, 99)
    assert widget.region is None and "region" in widget.error
    widget.method = "nope"
    assert widget.method == "gradcam" and "method" in widget.error
    widget.target = 99
    assert "target" in widget.error
    widget.colormap = "rainbow-unicorn"
    assert widget.colormap == "jet" and "colormap" in widget.error
    # Still usable: the next valid value is computed and clears the error.
    widget.region = (0, 0, 2, 2)
    assert widget.explanation.region == (0, 0, 2, 2)
    assert widget.error == ""


def test_constructor_arguments_are_validated(tiny_session):
    with pytest.raises(ValueError, match="layer"):
        CamWidget(tiny_session, layer="nope")
    with pytest.raises(ValueError, match="region"):
        CamWidget(tiny_session, region=(0, 0, 50, 50))
    with pytest.raises(TypeError, match="session"):
        CamWidget("not a session")


# ---- what comes in from the browser ------------------------------------------------------------
def test_frontend_region_outside_the_grid_is_refused(widget):
    before = widget.explanation
    from_frontend(widget, region=[0, 0, 99, 99], request=7)
    assert widget.wait()
    assert widget.region is None  # the last valid state
    assert "region" in widget.error and "grid" in widget.error
    assert widget.answered == 7  # the view stops waiting
    assert widget.explanation.region is None and widget.explanation.layer == before.layer
    # The widget keeps working.
    from_frontend(widget, region=[1, 1, 3, 3], request=8)
    assert widget.wait()
    assert widget.region == [1, 1, 3, 3] and widget.explanation.region == (1, 1, 3, 3)
    assert widget.error == "" and widget.answered == 8


@pytest.mark.parametrize(
    "region",
    [[0, 0, 0, 2], [3, 3, 1, 1], [-1, 0, 2, 2], [0, 0, 1.5, 2], "0,0,2,2", [0, 0, 2], {"a": 1}, [True, 0, 2, 2]],
)
def test_frontend_malformed_regions_are_refused(widget, region):
    from_frontend(widget, region=region, request=3)
    assert widget.region is None and widget.error.startswith("region")


def test_frontend_channel_that_does_not_exist_is_refused(widget, tiny_session):
    c = tiny_session.layer_info(widget.layer).shape[0]
    from_frontend(widget, channels=[0, c], request=5)
    assert widget.channels is None and "channels" in widget.error and str(c - 1) in widget.error
    for bad in ([], ["1"], [1.5], "3", 3):
        from_frontend(widget, channels=bad, request=6)
        assert widget.channels is None and widget.error.startswith("channels")
    from_frontend(widget, channels=[2, 0], request=9)
    assert widget.wait()
    assert widget.channels == [0, 2] and widget.explanation.channels == [0, 2] and widget.error == ""


def test_frontend_target_by_name_and_params_are_validated(widget, tiny_session):
    from_frontend(widget, target="no such class", request=4)
    assert widget.target == tiny_session.resolve_target(None) and "target" in widget.error
    from_frontend(widget, method="smooth-gradcam++", params={"n": 0}, request=5)
    assert widget.method == "smooth-gradcam++" and widget.params == {} and "n" in widget.error
    from_frontend(widget, params={"n": 2, "seed": 1}, request=6)
    assert widget.wait()
    assert widget.explanation.method == "smooth-gradcam++" and widget.error == ""
    from_frontend(widget, params={"no_such_param": 1}, request=7)
    assert "no_such_param" in widget.error and widget.params == {"n": 2, "seed": 1}


def test_a_failing_method_shows_its_error_and_the_widget_recovers(widget, tiny_session):
    calls = Calls(tiny_session)
    calls.fail_on = "features.2"
    from_frontend(widget, layer="features.2", request=11)
    assert widget.wait()
    assert "the method broke" in widget.error and widget.answered == 11
    assert widget.explanation.layer != "features.2"  # the map on screen is the last good one
    from_frontend(widget, layer="features.3", request=12)
    assert widget.wait()
    assert widget.explanation.layer == "features.3" and widget.error == ""
    assert widget.worker.alive


def test_view_traits_do_no_kernel_work(widget, tiny_session):
    calls = Calls(tiny_session)
    request, heatmap = widget.request, widget.heatmap
    widget.opacity = 0.8
    widget.colormap = "viridis"
    from_frontend(widget, opacity=0.25, colormap="inferno")
    assert widget.wait()
    time.sleep(0.1)
    assert calls.layers == []
    assert widget.request == request and widget.heatmap is heatmap
    assert (widget.opacity, widget.colormap) == (0.25, "inferno")
    from_frontend(widget, opacity=3.0)
    assert widget.opacity == 0.25 and "opacity" in widget.error


# ---- segment methods: SeCAM and LIME ------------------------------------------------------------
@pytest.fixture
def seg_widget(tiny_model):
    """SeCAM on a tiny image of 4 × 5 flat colour blocks (SLIC finds 26 segments at n_segments=50)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from nets import tiny_preprocess

    rng = np.random.default_rng(0)
    image = np.zeros((32, 40, 3), dtype=np.uint8)
    for i in range(4):
        for j in range(5):
            image[i * 8 : (i + 1) * 8, j * 8 : (j + 1) * 8] = rng.integers(0, 256, 3)
    session = cw.Session(tiny_model, image, preprocess=tiny_preprocess)
    w = CamWidget(session, method="secam", target=0)  # class 0: a CAM with positive segments
    assert w.wait(60) and w.error == ""
    yield w
    w.close()


def _mask_bits(w: CamWidget) -> np.ndarray:
    return np.frombuffer(w.mask, dtype=np.uint8).reshape(w.heatmap_meta["mask_shape"])


def test_outline_and_hide_rest_are_view_only(seg_widget):
    w = seg_widget
    assert (w.outline, w.hide_rest) == (True, True)
    mask = _mask_bits(w)
    assert (mask & 1).any() and (mask & 2).any(), "the mask carries selected segments and boundaries"
    calls = Calls(w.session)
    request, heatmap, mask_bytes = w.request, w.heatmap, w.mask
    w.outline = False
    w.hide_rest = False
    from_frontend(w, outline=True)
    from_frontend(w, hide_rest=True)
    from_frontend(w, outline=False, hide_rest=False)
    assert w.wait()
    time.sleep(0.1)
    assert calls.layers == [], "a view-only switch reached the session"
    assert w.request == request and w.answered == request
    assert w.heatmap is heatmap and w.mask is mask_bytes
    assert (w.outline, w.hide_rest) == (False, False) and w.error == ""
    opened = CamWidget(w.session, method="secam", target=0, outline=False, hide_rest=False)
    try:
        assert (opened.outline, opened.hide_rest) == (False, False)
    finally:
        opened.close()


def test_secam_controls_render_and_recompute(seg_widget):
    w = seg_widget
    schema = next(m for m in w.methods if m["name"] == "secam")["params"]
    assert schema["segmenter"]["type"] == "choice" and "felzenszwalb" in schema["segmenter"]["choices"]
    assert schema["n_segments"]["type"] == "int" and schema["k"]["type"] == "int"
    first = w.explanation
    assert first.method == "secam" and w.heatmap_meta["method"] == "secam"
    assert first.params["k"] == 5 and first.params["segmenter"] == "slic"
    h, wd = w.image_shape
    assert w.heatmap_meta["mask_shape"] == [h, wd] and len(w.mask) == h * wd
    assert int((_mask_bits(w) & 1).sum()) == int(first.mask.sum())
    before = w.mask
    from_frontend(w, params={"segmenter": "felzenszwalb", "n_segments": 10, "k": 2}, request=20)
    assert w.wait(60) and w.error == "" and w.answered == 20
    e = w.explanation
    assert (e.params["segmenter"], e.params["n_segments"], e.params["k"]) == ("felzenszwalb", 10, 2)
    assert e.params["segment_count"] != first.params["segment_count"]
    assert len(np.unique(e.segments[e.mask])) == 2  # the top 2 segments are selected
    assert w.mask != before
    from_frontend(w, params={"segmenter": "felzenszwalb", "n_segments": 10, "k": 4}, request=21)
    assert w.wait(60) and len(np.unique(w.explanation.segments[w.explanation.mask])) == 4
    # LIME's answer carries a mask too (the widget's outline and hide-rest apply to it).
    from_frontend(w, method="lime", params={"n_samples": 20, "batch_size": 10, "k": 2}, request=22)
    assert w.wait(60) and w.error == "" and w.explanation.method == "lime"
    assert w.heatmap_meta["mask_shape"] == [h, wd] and (_mask_bits(w) & 2).any()


def test_secam_bad_values_show_in_the_widget_and_it_stays_usable(seg_widget):
    w = seg_widget
    good = w.explanation
    count = good.params["segment_count"]
    calls = Calls(w.session)
    from_frontend(w, params={"k": 500}, request=30)
    assert w.wait(60)
    assert w.error.startswith("SeCAM") and "k: 500" in w.error and str(count) in w.error
    assert w.answered == 30 and w.busy is False
    assert w.explanation is good and w.heatmap_meta["request"] < 30  # the last good map stays
    # Asking again (a bare request bump) re-reports the error without recomputing.
    w.error = ""
    from_frontend(w, request=31)
    assert w.wait() and "k: 500" in w.error and w.answered == 31 and len(calls.layers) == 1
    # A segment count < 1 is refused before it reaches the session; the message names it.
    from_frontend(w, params={"k": 5, "n_segments": 0}, request=32)
    assert w.wait()
    assert "n_segments" in w.error and w.params == {"k": 500} and w.answered == 32
    from_frontend(w, params={"segmenter": "nope"}, request=33)
    assert w.wait() and "segmenter" in w.error
    # Still usable: a valid k is computed and clears the error.
    from_frontend(w, params={"k": 3}, request=34)
    assert w.wait(60)
    assert w.error == "" and w.answered == 34 and w.explanation.params["k"] == 3
    assert w.worker.alive


def test_latest_wins_while_dragging(widget, tiny_session):
    calls = Calls(tiny_session, delay=0.05)
    names = [i.name for i in tiny_session.layers]
    sent = [names[i % len(names)] for i in range(1, 31)]
    for request, name in enumerate(sent, start=100):
        from_frontend(widget, layer=name, request=request)
    assert widget.wait(30)
    assert len(calls.layers) < len(sent) / 2, f"computed {len(calls.layers)} of {len(sent)} drag states"
    assert widget.explanation.layer == sent[-1]
    assert widget.answered == 129 and widget.heatmap_meta["request"] == 129


@pytest.mark.parametrize("step", [1, -1])
def test_a_step_along_the_strip_is_answered_from_the_neighbours_made_in_the_idle_time(widget, tiny_session, step):
    names = [i.name for i in tiny_session.layers]  # the widget opened at the deepest, names[-1]
    here = 0 if step > 0 else len(names) - 2
    from_frontend(widget, layer=names[here], request=90)
    assert widget.wait(30)
    calls = Calls(tiny_session)
    from_frontend(widget, layer=names[here + step], request=91)
    assert widget.wait(30)
    assert calls.layers[:1] != [names[here + step]], "the step was computed, not taken from the recent cache"
    shown = widget.explanation
    fresh = calls.original("gradcam", layer=names[here + step], target=shown.target)
    assert shown.layer == names[here + step] and widget.answered == 91
    np.testing.assert_array_equal(shown.map, fresh.map)
    # the next step ahead in the direction of travel was made in the idle time after the answer
    assert names[here + 2 * step] in calls.layers


def test_no_neighbours_for_methods_that_are_not_arithmetic_on_the_cache(widget, tiny_session, monkeypatch):
    names = [i.name for i in tiny_session.layers]
    from_frontend(widget, method="smooth-gradcam++", params={"n": 2, "batch_size": 2}, layer=names[2], request=95)
    assert widget.wait(60)
    calls = Calls(tiny_session)
    from_frontend(widget, layer=names[3], request=96)
    assert widget.wait(60)
    assert calls.layers == [names[3]], "only the asked-for layer is computed for a slow method"
    monkeypatch.setattr("camwidget.widget.worker.NEIGHBOURS", 0)
    from_frontend(widget, method="gradcam", layer=names[1], request=97)
    assert widget.wait(60)
    assert calls.layers == [names[3], names[1]], "NEIGHBOURS = 0 turns the neighbours off"


def test_explain_runs_off_the_comm_thread(widget, tiny_session):
    Calls(tiny_session, delay=0.5)
    start = time.monotonic()
    from_frontend(widget, layer="features.0", request=50)
    assert time.monotonic() - start < 0.4, "the comm handler waited for the computation"
    assert widget.wait(10) and widget.explanation.layer == "features.0"
    assert threading.current_thread() is not widget.worker._thread



# ---- slow methods: progress, partial maps, superseded ------------------------------------------
class Recorder:
    """Every value a trait takes (set from the worker), in order."""

    def __init__(self, widget, *names):
        self.values: dict[str, list] = {n: [] for n in names}
        widget.observe(lambda c: self.values[c["name"]].append(c["new"]), names=list(names))


def test_smooth_gradcampp_paints_partial_maps_as_batches_finish(widget, tiny_session, monkeypatch):
    monkeypatch.setattr("camwidget.widget.worker.PROGRESS_EVERY_S", 0.0)
    seen = Recorder(widget, "progress")
    painted = []
    widget.observe(lambda c: painted.append((c["new"], widget.heatmap)), names=["heatmap_meta"])
    from_frontend(widget, method="smooth-gradcam++", params={"n": 8, "batch_size": 2}, request=60)
    assert widget.wait(60)
    partial = [(m, h) for m, h in painted if m.get("partial")]
    assert [m["done"] for m, _ in partial] == [2, 4, 6], "one partial map per batch but the last"
    assert all(m["request"] == widget.request and m["total"] == 8 for m, _ in partial)
    assert any(0 < p < 1 for p in seen.values["progress"]) and widget.progress == -1.0
    # The partial map after 4 copies is Smooth Grad-CAM++ at n = 4 (the noise is drawn copy by copy).
    meta, data = partial[1]
    at4 = tiny_session.explain("smooth-gradcam++", layer=widget.layer, n=4, batch_size=2)
    np.testing.assert_array_equal(np.frombuffer(data, np.uint8).reshape(meta["shape"]), _wire.to_uint8(at4.map))
    final = widget.heatmap_meta
    assert not final.get("partial") and final["method"] == "smooth-gradcam++"
    assert widget.explanation.params["n"] == 8 and widget.busy is False


def test_smooth_gradcampp_is_superseded_by_a_newer_request(widget, tiny_session):
    batches = []
    original = tiny_session.forward_batch

    def slow(batch, names, **options):
        batches.append(len(batch))
        time.sleep(0.1)
        return original(batch, names, **options)

    tiny_session.forward_batch = slow
    from_frontend(widget, method="smooth-gradcam++", params={"n": 400, "batch_size": 2}, request=70)
    deadline = time.monotonic() + 20
    while len(batches) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    from_frontend(widget, method="gradcam", params={}, request=71)
    assert widget.wait(30)
    assert len(batches) < 50, f"the superseded computation ran {len(batches)} of 200 batches"
    assert widget.explanation.method == "gradcam" and widget.answered == 71 and widget.error == ""


def test_lime_shows_progress_per_batch_and_can_be_superseded(widget, tiny_session, monkeypatch):
    from camwidget.engine.methods import lime

    monkeypatch.setattr("camwidget.widget.worker.PROGRESS_EVERY_S", 0.0)
    seen = Recorder(widget, "progress", "status")
    from_frontend(widget, method="lime", params={"n_samples": 40, "batch_size": 10, "k": 1}, request=80)
    assert widget.wait(60) and widget.error == ""
    assert [p for p in seen.values["progress"] if 0 < p < 1] == [0.25, 0.5, 0.75]
    assert any("10/40" in s for s in seen.values["status"])
    assert widget.explanation.method == "lime"

    calls = []
    original = lime.probabilities

    def slow(session, images, *args):
        calls.append(len(images))
        time.sleep(0.1)
        return original(session, images, *args)

    monkeypatch.setattr(lime, "probabilities", slow)
    from_frontend(widget, params={"n_samples": 2000, "batch_size": 10, "k": 1}, request=90)
    deadline = time.monotonic() + 20
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    from_frontend(widget, method="gradcam", params={}, request=91)
    assert widget.wait(30)
    assert len(calls) < 40, f"the superseded LIME ran {len(calls)} of 200 batches"
    assert widget.explanation.method == "gradcam" and widget.answered == 91

def test_explore_on_a_model_and_an_array(tiny_model, tiny_image):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from nets import tiny_preprocess

    w = cw.explore(tiny_model, tiny_image, preprocess=tiny_preprocess, layer="features.2", colormap="gray")
    try:
        assert w.explanation.layer == "features.2" and w.colormap == "gray"
    finally:
        w.close()


# ---- _wire -------------------------------------------------------------------------------------
def test_wire_packing_caps_sizes():
    big = np.zeros((1500, 3000, 3), dtype=np.uint8)
    data, shape = _wire.pack_image(big)
    assert max(shape) == _wire.MAX_IMAGE_SIDE and len(data) == shape[0] * shape[1] * 3
    acts = torch.rand(300, 112, 112)
    weights = np.arange(300, dtype=np.float32)
    data, meta = _wire.pack_atlas(acts, weights)
    assert meta["order"][:3] == [299, 298, 297] and len(meta["order"]) == _wire.MAX_TILES
    assert max(meta["tile"]) <= _wire.MAX_TILE_SIDE
    assert len(data) == _wire.MAX_TILES * meta["tile"][0] * meta["tile"][1]
    data, meta = _wire.pack_atlas(torch.rand(4, 5, 6), None)
    assert meta["weight_kind"] == "mean activation" and meta["tile"] == [5, 6]
    data, shape = _wire.pack_map(np.random.rand(600, 900).astype(np.float32), (300, 450))
    assert shape == [300, 450]
    data, shape = _wire.pack_map(np.zeros((7, 7), np.float32), (300, 450))
    assert data == bytes(49)


def test_wire_mask_marks_selection_and_boundaries():
    segments = np.zeros((4, 6), dtype=np.int32)
    segments[:, 3:] = 1
    mask = segments == 1
    data, shape = _wire.pack_mask(mask, segments, (4, 6))
    m = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    assert (m[:, 4:] & 1).all() and not (m[:, :3] & 1).any()
    assert (m[:, 3] & 2).all() and not (m[:, 4:] & 2).any()
    # The selection's edge: the pixels on both sides of where selected meets unselected.
    assert (m[:, 2:4] & 4).all() and not (m[:, :2] & 4).any() and not (m[:, 4:] & 4).any()
    assert _wire.pack_mask(None, None, (4, 6)) == (b"", [])


# ---- the notebook ------------------------------------------------------------------------------
@pytest.mark.slow
def test_quickstart_notebook_runs(monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            assert out.get("name") != "stderr", out.get("text")
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "gradcam++ bn2 281 tabby (1, 2, 4, 6) (7, 7) not blank" in printed


def test_colormaps_match_the_frontend_tables():
    import re

    names = re.findall(r"^  (\w+):", (REPO / "js" / "lut_data.ts").read_text(), re.M)
    assert tuple(names) == _wire.COLORMAPS
    assert {"jet", "viridis", "inferno", "gray"} <= set(names)
