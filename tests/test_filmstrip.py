"""The filmstrip: every layer's map for one selection, equal to explaining each layer alone."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.engine.filmstrip import _DIRECT, _gradcampp_map, filmstrip, scale_region


@pytest.fixture(scope="module")
def session(default_model, chelsea):
    model, preprocess, classes = default_model
    s = cw.Session(model, chelsea, preprocess=preprocess, classes=classes)
    s.explain("gradcam++", target=281)
    return s


@pytest.mark.parametrize("method", sorted(_DIRECT))
@pytest.mark.parametrize("region", [None, (1, 2, 4, 6)])
def test_the_direct_maps_equal_the_engines_at_every_layer(session, region, method):
    infos = session.layers if region is None else [session.layer_info(n) for n in ("conv_stem", "blocks.3", "bn2")]
    for info in infos:
        r = None if region is None else scale_region(region, (7, 7), info.grid)
        expected = session.explain(method, layer=info.name, target=281, region=r).map
        got = _DIRECT[method](session, info, 281, None, r).numpy()
        scale = max(float(np.abs(expected).max()), 1e-12)
        # the identity in four fused float64 passes against the engine's powers and masks
        assert np.abs(got - expected).max() <= 1e-5 * scale, info.name


def test_a_vanishing_denominator_counts_zero_as_in_the_engine():
    from types import SimpleNamespace

    from camwidget.engine.methods.gradcam import gradcampp_weights

    activations = torch.tensor([[[-1.0, -1.0], [0.5, -0.5]], [[1.0, 2.0], [0.0, 1.0]]])  # S = -2, 4
    g = torch.tensor([[[1.0, 0.5], [-1.0, 0.0]], [[0.25, -1.0], [2.0, 0.0]]])  # 2 + S g = 0 at (0, 0, 0)
    session = SimpleNamespace(activations=lambda name: activations, gradients=lambda name, target: g)
    info = SimpleNamespace(name="x", channels=2, grid=(2, 2))
    got = _gradcampp_map(session, info, 0, None, None)
    gd = g.double()
    weights = gradcampp_weights(activations.double(), gd, gd**2, gd**3, None).float()
    expected = torch.relu(torch.einsum("k,khw->hw", weights, activations))
    assert torch.isfinite(got).all() and torch.allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_filmstrip_covers_every_layer_in_depth_order(session):
    strip = filmstrip(session, "gradcam++", 281, region=(1, 2, 4, 6), region_layer="bn2",
                      channels=[3, 5], channels_layer="bn2", size=12)
    assert strip.layers == [i.name for i in session.layers] and len(strip.layers) == 67
    assert strip.maps.shape == (67, 12, 12) and strip.maps.dtype == np.float32 and (strip.maps >= 0).all()
    assert strip.target == 281 and not all(strip.blank)
    # the channel subset applies on its own layer only
    alone = session.explain("gradcam++", layer="bn2", target=281, channels=[3, 5], region=(1, 2, 4, 6)).map
    small = torch.nn.functional.interpolate(torch.from_numpy(alone)[None, None], size=(12, 12), mode="bilinear",
                                            align_corners=False)[0, 0].numpy()
    assert np.abs(strip.maps[-1] - small).max() <= 1e-5 * float(small.max())
    # every thumbnail is its layer's own map at thumbnail size (area-averaged when shrinking)
    for name in ("conv_stem", "blocks.2.0.conv_dw", "blocks.3"):
        own = session.explain("gradcam++", layer=name, target=281,
                              region=scale_region((1, 2, 4, 6), (7, 7), session.layer_info(name).grid)).map
        t = torch.from_numpy(own)[None, None]
        mode = {"mode": "area"} if min(own.shape) >= 12 else {"mode": "bilinear", "align_corners": False}
        thumb = torch.nn.functional.interpolate(t, size=(12, 12), **mode)[0, 0].numpy()
        assert np.abs(strip.maps[strip.layers.index(name)] - thumb).max() <= 1e-5 * float(thumb.max()), name
    plain = filmstrip(session, "gradcam", 281, layers=["blocks.3", "bn2"])
    assert plain.layers == ["blocks.3", "bn2"] and plain.maps.shape == (2, 16, 16)


def test_region_scales_to_every_grid_and_bad_values_are_refused(session):
    assert scale_region((1, 2, 4, 6), (7, 7), (7, 7)) == (1, 2, 4, 6)
    assert scale_region((1, 2, 4, 6), (7, 7), (112, 112)) == (16, 32, 64, 96)
    assert scale_region((6, 6, 7, 7), (7, 7), (1, 1)) == (0, 0, 1, 1)
    with pytest.raises(ValueError, match="method: 'lime' has no filmstrip"):
        filmstrip(session, "lime")
    with pytest.raises(ValueError, match="size: expected an integer"):
        filmstrip(session, "gradcam", size=0)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_widget_sends_one_filmstrip_per_selection(default_model, chelsea):
    model, preprocess, classes = default_model
    w = cw.CamWidget(cw.Session(model, chelsea, preprocess=preprocess, classes=classes))
    try:
        _wait_for(lambda: len(w.filmstrip_meta.get("layers", [])) == 67)
        meta = w.filmstrip_meta
        assert meta["method"] == "gradcam++" and meta["tile"] == [16, 16] and len(w.filmstrip) == 67 * 16 * 16
        assert meta["layers"][-1] == "bn2" and max(meta["peaks"]) > 0
        first = w.filmstrip
        w.layer = "blocks.3"  # a new layer alone does not change any layer's map: nothing is resent
        w.wait()
        w.region = (2, 2, 5, 5)  # a region does: the filmstrip follows
        _wait_for(lambda: w.filmstrip_meta.get("layer") == "blocks.3" and w.filmstrip != first)
        w.layer = "bn2"
        w.method = "cam"  # not arithmetic on the cache at every layer: an empty filmstrip
        _wait_for(lambda: w.filmstrip_meta.get("method") == "cam")
        assert w.filmstrip == b"" and w.filmstrip_meta["layers"] == []
    finally:
        w.close()
