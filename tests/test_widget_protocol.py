"""Raw frontend messages through the widget's real comm handler (``_handle_msg``).

Whatever a browser (or anything speaking the widget protocol) sends: no exception escapes the
handler, the kernel keeps what it owns, a refusal says why in ``error``, and the next valid
selection is answered.
"""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from camwidget.widget import CamWidget
from camwidget.widget import wire

LAYER = "features.3"

#: Everything the kernel sends (docs/widget-protocol.md, "Kernel → browser").
KERNEL_OWNED = {
    "image": "forged", "image_shape": [0, 0], "heatmap": "x", "heatmap_meta": {"request": 10**9, "shape": [0, 0]},
    "mask": [1, 2], "channels_atlas": 5, "atlas_meta": {"tile": [0]}, "clusters_atlas": None,
    "clusters_meta": {"clusters": [1]}, "layers": [], "top": [{"index": 1}], "classes": ["forged"],
    "methods": [{"name": "evil"}], "status": "forged", "busy": True, "progress": 0.5, "answered": 10**6,
    "error": "forged", "game": {"active": True, "outcome": None, "cluster": 0, "layer": LAYER},
    "reveal_step": 4, "reveal_map": "x", "labels": [{"label": "forged"}], "annotations": [{"text": "forged"}],
    "_esm": "export default {}",
}

#: Wrongly typed (or impossible) values of every trait the browser may write.
WRONG = [
    ("layer", None), ("layer", 5), ("layer", ["features.2"]), ("layer", "no.such.layer"),
    ("method", None), ("method", 3), ("method", {"name": "gradcam"}), ("method", "nope"),
    ("target", [1]), ("target", {"a": 1}), ("target", 1.5), ("target", math.inf), ("target", True), ("target", 10**30),
    ("channels", "3"), ("channels", 3), ("channels", [True]), ("channels", [math.nan]), ("channels", [[1]]),
    ("channels", {"0": 1}), ("channels", [10**30]),
    ("region", "0022"), ("region", [True, 0, 2, 2]), ("region", [0, 0, math.inf, 2]), ("region", ["x", 0, 1, 1]),
    ("region", [0, 0, 2]), ("region", 7), ("region", [-1, 0, 2, 2]), ("region", [0, 0, 10**30, 2]),
    ("params", []), ("params", "x"), ("params", 3), ("params", {"n": [1]}), ("params", {"nope": 1}),
    ("opacity", "x"), ("opacity", None), ("opacity", math.nan), ("opacity", True), ("opacity", [0.5]),
    ("colormap", None), ("colormap", 5), ("colormap", ["jet"]), ("colormap", "rainbow"),
    ("outline", "yes"), ("outline", 3), ("outline", None), ("hide_rest", 3), ("hide_rest", "no"),
    ("annotator", 5), ("annotator", None), ("annotator", ["ana"]),
]


def update(w: CamWidget, **state) -> None:
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def custom(w: CamWidget, content) -> None:
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    assert w.wait(30)


@pytest.fixture
def widget(tiny_session):
    w = CamWidget(tiny_session, method="gradcam", layer=LAYER)
    assert w.wait(30) and w.error == ""
    yield w
    w.close()


@pytest.fixture
def no_escape(caplog):
    """Fails the test if anything was logged with a traceback (what ipywidgets does with an
    exception that escaped a comm handler) or at ERROR."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture(autouse=True)
def quick_atlas(monkeypatch):
    monkeypatch.setattr("camwidget.widget.maps.ATLAS_AFTER_S", 0.0)  # wait() includes the atlas


def answers_next(w: CamWidget, request: int, layer: str = "features.2") -> None:
    """The next valid selection is computed and shown, and it clears the error (then back)."""
    update(w, layer=layer, request=request)
    assert w.wait(30)
    assert w.answered == request and w.heatmap_meta["request"] == request
    assert w.explanation.layer == layer and w.error == ""
    update(w, layer=LAYER, request=request + 1)
    assert w.wait(30) and w.explanation.layer == LAYER


def snapshot(w: CamWidget) -> dict:
    return {k: (bytes(v) if isinstance(v, (bytes, memoryview)) else json.loads(json.dumps(v, default=str)))
            for k, v in w.get_state().items() if k != "_esm"}


def test_a_browser_cannot_write_what_the_kernel_owns(widget, no_escape):
    w = widget
    before = snapshot(w)
    request = 10
    for name, forged in KERNEL_OWNED.items():
        update(w, **{name: forged})
        assert w.wait(30)
        now = snapshot(w)
        assert now.get(name) == before.get(name), f"{name} was overwritten by the browser"
        assert now["image_shape"] == before["image_shape"] and now["layers"] == before["layers"]
    assert any("kernel-owned" in r.getMessage() for r in no_escape.records if r.levelno == logging.DEBUG)
    answers_next(w, request)
    # A forged write next to a valid change: the change applies, the forgery does not.
    update(w, image_shape=[0, 0], error="forged", layer="features.2", request=20)
    assert w.wait(30) and w.answered == 20 and w.explanation.layer == "features.2"
    assert w.image_shape == before["image_shape"] and w.error == ""


def test_every_wrongly_typed_value_is_refused_and_the_widget_answers_on(widget, no_escape):
    w = widget
    for i, (name, value) in enumerate(WRONG):
        before = snapshot(w)
        request = 100 + 3 * i
        update(w, **{name: value}, request=request)
        assert w.wait(30)
        assert w.error.startswith(name), (name, value, w.error)
        assert snapshot(w)[name] == before[name], f"the refused {name}={value!r} reached the trait"
        if name in ("layer", "method", "target", "channels", "region", "params"):
            assert w.answered == request, (name, value)  # the view stops waiting for the refused request
            assert w.explanation.layer == LAYER and w.explanation.method == "gradcam"
        answers_next(w, request + 1)


def test_a_bad_request_id_is_refused(widget, no_escape):
    for i, value in enumerate(["x", None, 1.5, True, -1, math.inf, [3]]):
        update(widget, request=value)
        assert widget.wait(30) and widget.error.startswith("request"), (value, widget.error)
        answers_next(widget, 10 + 2 * i)


def test_a_mixed_message_applies_the_valid_parts_and_refuses_the_rest(widget, no_escape):
    w = widget
    update(w, layer="features.2", opacity="x", colormap="viridis", region=[0, 0, 99, 99], request=30)
    assert w.wait(30)
    assert w.layer == "features.2" and w.explanation.layer == "features.2" and w.answered == 30
    assert w.colormap == "viridis" and w.opacity == 0.5 and w.region is None
    assert "opacity" in w.error and "region" in w.error
    update(w, channels=[0, 1], outline="yes", request=31)
    assert w.wait(30) and w.channels == [0, 1] and w.explanation.channels == [0, 1] and "outline" in w.error
    answers_next(w, 40, layer="features.1")


def test_non_dict_states_and_unknown_methods_do_not_escape(widget, no_escape):
    w = widget
    w.set_state(["not", "a", "dict"])
    assert w.error.startswith("message")
    w._handle_msg({"content": {"data": {"method": "update", "state": {"region": [0, 0, 1, 1]},
                                        "buffer_paths": [["nope", "deeper"]]}}, "buffers": []})
    w._handle_msg({"content": {"data": {"method": "teleport"}}, "buffers": []})
    answers_next(w, 50)


CUSTOM = [
    ("x", "message"), (None, "message"), ([1, 2], "message"), (5, "message"),
    ({}, "kind"), ({"kind": 5}, "kind"), ({"kind": "teleport"}, "kind"),
    ({"kind": "label", "cluster": math.inf, "text": "x"}, "finite"),
    ({"kind": "label", "cluster": 0}, "text"), ({"kind": "label", "cluster": 0, "text": 5}, "text"),
    ({"kind": "label", "cluster": "0", "text": "edges"}, "cluster"), ({"kind": "label", "cluster": 1.5, "text": "a"}, "cluster"),
    ({"kind": "label", "cluster": 99, "text": "edges"}, "cluster"), ({"kind": "label", "cluster": 0, "text": "x" * 201}, "200"),
    ({"kind": "game"}, "action"), ({"kind": "game", "action": 5}, "action"), ({"kind": "game", "action": "more"}, "no reveal round"),
    ({"kind": "game", "action": "start", "cluster": [0]}, "cluster"), ({"kind": "game", "action": "start", "cluster": math.nan}, "finite"),
    ({"kind": "label", "nested": {"deep": [math.inf]}, "cluster": 0, "text": "a"}, "finite"),
]


@pytest.fixture
def inv(tiny_session):
    w = CamWidget(tiny_session, method="inv", layer=LAYER)
    assert w.wait(30) and w.error == ""
    yield w
    w.close()


def test_bad_custom_messages_are_refused_with_a_message(inv, no_escape):
    for i, (content, message) in enumerate(CUSTOM):
        custom(inv, content)
        assert message in inv.error, (content, inv.error)
        assert len(inv.store) == 0
        answers_next(inv, 60 + 2 * i)


def test_a_lost_round_cannot_be_replayed_by_forging_the_game(inv, no_escape):
    w = inv
    target = w.clusters()[0].target
    custom(w, {"kind": "game", "action": "start", "cluster": 0})
    custom(w, {"kind": "game", "action": "guess", "guess": (target + 1) % w.session.num_classes, "text": "stripes"})
    assert w.game["outcome"] == "loss"
    lost = dict(w.game)
    update(w, game={**lost, "outcome": None}, reveal_step=0)
    assert w.game == lost
    custom(w, {"kind": "game", "action": "guess", "guess": target, "text": "stripes"})
    assert "over" in w.error
    assert [a.outcome for a in w.store.annotations()] == ["loss"]


def test_a_lone_surrogate_label_is_refused_and_the_view_keeps_painting(inv, no_escape):
    w = inv
    custom(w, {"kind": "label", "cluster": 0, "text": "pointy \ud83d ears"})
    assert w.error and len(w.store) == 0
    json.dumps(w.get_state(), default=lambda b: "<bytes>", ensure_ascii=False).encode("utf-8")  # it all can travel
    with pytest.raises(ValueError):
        w.label("pointy \ud83d ears")
    custom(w, {"kind": "label", "cluster": 0, "text": "pointy ears"})
    assert w.error == "" and [a["text"] for a in w.annotations] == ["pointy ears"]
    answers_next(w, 70)


def test_label_writes_run_off_the_comm_thread(inv, no_escape):
    import threading
    import time

    w = inv
    release = threading.Event()
    original = w.store.annotate
    seen = []

    def slow(*args, **kwargs):
        seen.append(threading.current_thread().name)
        release.wait(10)
        return original(*args, **kwargs)

    w.store.annotate = slow
    start = time.monotonic()
    w._handle_msg({"content": {"data": {"method": "custom", "content": {"kind": "label", "cluster": 0, "text": "slow"}}},
                   "buffers": []})
    update(w, layer="features.2", request=80)  # the kernel stays responsive meanwhile
    assert time.monotonic() - start < 1.0, "the comm handler waited for the store"
    assert w.worker.wait(30) and w.panels["overlay"].explanation.layer == "features.2"
    assert seen == ["camwidget-actions"] and len(w.store) == 0  # still writing
    release.set()
    assert w.wait(30) and seen == ["camwidget-actions"]
    assert [a["text"] for a in w.annotations] == ["slow"]


def test_the_reveal_map_and_threshold_agree(inv):
    inv.start_game(0)
    values = np.frombuffer(inv.reveal_map, np.uint8)
    for step, percent in enumerate(wire.REVEAL_PERCENT):
        assert inv.reveal_mask(step).sum() >= math.ceil(values.size * percent / 100)
