"""SeCAM and the superpixels: the paper's checks on tiny CNNs, one realistic check on the default model."""
from __future__ import annotations

import numpy as np
import pytest

import camwidget as cw
from camwidget.engine import segments
from camwidget.engine.explanation import normalise, resize
from camwidget.engine.methods import secam


@pytest.fixture
def small_session(tiny_model, chelsea):
    """The tiny CNN on a 38 × 57 chelsea: small, but with real superpixels (noise has none)."""
    from nets import tiny_preprocess

    return cw.Session(tiny_model, chelsea[::8, ::8].copy(), preprocess=tiny_preprocess)


def _lit_target(session) -> int:
    """A class whose CAM is not blank on the tiny random network."""
    return next(t for t in range(session.num_classes) if not session.explain("cam", target=t).blank)


def _head_info(session):
    return session.layer_info(secam._secam_layer(session))


def test_one_segment_per_pixel_gives_the_upsampled_cam(tiny_session):
    s = tiny_session
    h, w = s.image.shape[:2]
    info = _head_info(s)
    target = _lit_target(s)
    result = secam.secam_on_segments(s, info, target, None, None, np.arange(h * w).reshape(h, w), k=5)
    cam = s.explain("cam", target=target)
    assert result.map.shape == (h, w)
    np.testing.assert_allclose(result.map.numpy(), cam.upsampled(), atol=1e-6)
    np.testing.assert_allclose(result.weights.numpy(), cam.weights)
    assert result.mask.sum() == 5  # five pixels = five segments


def test_one_segment_gives_a_constant_map(tiny_session):
    s = tiny_session
    h, w = s.image.shape[:2]
    target = _lit_target(s)
    result = secam.secam_on_segments(s, _head_info(s), target, None, None, np.zeros((h, w), int), k=1)
    values = result.map.numpy()
    assert np.all(values == values[0, 0])
    np.testing.assert_allclose(values[0, 0], s.explain("cam", target=target).upsampled().mean(), rtol=1e-5)
    assert result.mask.all()


def test_explain_secam_shapes_cache_and_threshold(small_session):
    s = small_session
    target = _lit_target(s)
    e = s.explain("secam", target=target, n_segments=12, k=3)
    h, w = s.image.shape[:2]
    assert e.map.shape == (h, w) and e.map.dtype == np.float32
    assert e.segments.shape == (h, w) and e.segments.dtype == np.int32
    assert e.mask.dtype == bool and e.mask.shape == (h, w)
    assert e.params["weights_from"] == "cam" and len(e.params["selected"]) <= 3
    assert set(np.unique(e.segments[e.mask])) == set(e.params["selected"])
    # segmentations are cached per image and parameters
    assert s.explain("secam", n_segments=12, k=1).segments is e.segments
    assert s.explain("secam", n_segments=20).segments is not e.segments
    t = s.explain("secam", target=target, n_segments=12, threshold=0.5)
    scores = t.params["scores"]
    chosen = t.params["selected"]
    assert set(chosen) == set(np.flatnonzero(scores >= 0.5 * scores.max()))
    # a channel subset of everything is the full map (summed in another order: equal up to rounding)
    everything = s.explain("secam", target=target, n_segments=12, channels=list(range(s.layer_info(e.layer).channels)))
    np.testing.assert_allclose(everything.map, e.map, rtol=1e-6, atol=1e-7 * float(np.abs(e.map).max()))


def test_no_cam_head_uses_gradcam_weights(chelsea):
    import torch
    from nets import TinyVGG, tiny_preprocess

    torch.manual_seed(0)
    image = chelsea[::8, ::8].copy()
    s = cw.Session(TinyVGG().eval(), image, preprocess=tiny_preprocess)
    e = s.explain("secam", n_segments=8, k=2)
    assert e.params["weights_from"] == "gradcam"
    np.testing.assert_allclose(e.weights, s.explain("gradcam", layer=e.layer).weights)


def test_segmenters_label_zero_to_n(chelsea):
    small = chelsea[::3, ::3].copy()
    for name in segments.SEGMENTERS:
        labels = segments.segment(small, name, 30)
        assert labels.dtype == np.int32 and labels.shape == small.shape[:2]
        assert labels.min() == 0 and len(np.unique(labels)) == labels.max() + 1


def test_bad_input(tiny_session):
    s = tiny_session
    with pytest.raises(ValueError, match="n_segments"):
        s.explain("secam", n_segments=0)
    with pytest.raises(ValueError, match="segmenter"):
        s.explain("secam", segmenter="watershed")
    with pytest.raises(ValueError, match="k: "):
        s.explain("secam", n_segments=4, k=500)
    with pytest.raises(ValueError, match="threshold"):
        s.explain("secam", threshold=1.5)
    rgb = s.image
    with pytest.raises(ValueError, match="image"):
        segments.segment(rgb[..., 0])  # grayscale
    with pytest.raises(ValueError, match="image"):
        segments.segment(np.dstack([rgb, rgb[..., :1]]))  # RGBA
    with pytest.raises(ValueError, match="n_segments"):
        segments.segment(rgb, "slic", 0)
    with pytest.raises(ValueError, match="segmenter"):
        segments.segment(rgb, "nope")


@pytest.fixture(scope="module")
def chelsea_session(default_model, chelsea):
    model, preprocess, classes = default_model
    return cw.Session(model, chelsea, preprocess=preprocess, classes=classes)


def test_selected_segments_hold_far_more_cam_per_pixel(chelsea_session):
    s = chelsea_session
    e = s.explain("secam")
    cam = normalise(resize(s.explain("cam").map, s.image.shape[:2]))
    inside, outside = cam[e.mask].mean(), cam[~e.mask].mean()
    assert e.mask.any() and (~e.mask).any()
    # 0.84 vs 0.33 per pixel on chelsea (the cat fills much of the frame, so its CAM is broad)
    assert inside > 2 * outside, (inside, outside)
    share = cam[e.mask].sum() / cam.sum()
    assert share > 2 * e.mask.mean(), (share, e.mask.mean())
