"""XGrad-CAM, LayerCAM, HiResCAM, Grad-CAM element-wise, EigenCAM, EigenGrad-CAM, Score-CAM, SS-CAM,
Ablation-CAM and layer fusion: hand formulas, subsets, regions, seeds, batching, cancellation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidget as cw
from camwidget.engine import progress

LAYER = "features"  # 16 × 8 × 8 on TinyCNN
CACHED = ["xgradcam", "layercam", "hirescam", "gradcam-elementwise", "eigencam", "eigengradcam"]
PERTURBATION = ["scorecam", "sscam", "ablationcam"]


def _a_g(session, target=1):
    return session.activations(LAYER).double(), session.gradients(LAYER, target).double()


def _corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_every_new_method_is_registered_for_the_widget():
    names = [m.name for m in cw.methods.available()]
    for name in CACHED + PERTURBATION:
        assert name in names


def test_xgradcam_hand_formula_and_region_partition(tiny_session):
    a, g = _a_g(tiny_session)
    total = a.sum(dim=(1, 2))
    weights = torch.where(total != 0, (a * g).sum(dim=(1, 2)) / torch.where(total != 0, total, 1), 0)
    expected = torch.relu(torch.einsum("k,khw->hw", weights, a)).numpy()
    e = tiny_session.explain("xgradcam", layer=LAYER, target=1)
    np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-7)
    top = tiny_session.explain("xgradcam", layer=LAYER, target=1, region=(0, 0, 4, 8)).weights
    bottom = tiny_session.explain("xgradcam", layer=LAYER, target=1, region=(4, 0, 8, 8)).weights
    np.testing.assert_allclose(top + bottom, e.weights, rtol=1e-4, atol=1e-7)  # the normaliser is the whole map's


@pytest.mark.parametrize("method", ["layercam", "hirescam", "gradcam-elementwise"])
def test_elementwise_hand_formulas_and_regions(tiny_session, method):
    a, g = _a_g(tiny_session)
    expected = {
        "layercam": torch.relu((torch.relu(g) * a).sum(0)),
        "hirescam": torch.relu((g * a).sum(0)),
        "gradcam-elementwise": torch.relu(g * a).sum(0),
    }[method].numpy()
    e = tiny_session.explain(method, layer=LAYER, target=1)
    np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-7)
    everything = tiny_session.explain(method, layer=LAYER, target=1, channels=list(range(16)), region=(0, 0, 8, 8))
    np.testing.assert_allclose(everything.map, e.map, rtol=1e-6)
    inside = tiny_session.explain(method, layer=LAYER, target=1, region=(2, 2, 5, 6))
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:6] = True
    assert np.all(inside.map[~mask] == 0)
    np.testing.assert_allclose(inside.map[mask], e.map[mask], rtol=1e-6)
    if method == "layercam":
        np.testing.assert_allclose(e.weights, torch.relu(g).mean(dim=(1, 2)).numpy(), rtol=1e-5)


@pytest.mark.parametrize("method", ["eigencam", "eigengradcam"])
def test_eigen_projection_sign_and_subsets(tiny_session, method):
    a, g = _a_g(tiny_session)
    values = a if method == "eigencam" else g * a
    rows = values.flatten(1).T
    centred = rows - rows.mean(0)
    projection = (centred @ torch.linalg.svd(centred, full_matrices=False)[2][0]).reshape(8, 8).numpy()
    if _corr(projection, values.sum(0).numpy()) < 0:
        projection = -projection
    e = tiny_session.explain(method, layer=LAYER, target=1)
    np.testing.assert_allclose(e.map, np.maximum(projection, 0), rtol=1e-4, atol=1e-6)
    everything = tiny_session.explain(method, layer=LAYER, target=1, channels=list(range(16)), region=(0, 0, 8, 8))
    np.testing.assert_allclose(everything.map, e.map, rtol=1e-5, atol=1e-7)
    if method == "eigencam":  # class-agnostic
        np.testing.assert_array_equal(tiny_session.explain(method, layer=LAYER, target=2).map, e.map)


def _hand_scorecam(session, target, align_corners=False):
    a = session.activations(LAYER)
    x = session.input
    up = F.interpolate(a[:, None], size=x.shape[-2:], mode="bilinear", align_corners=align_corners)
    lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
    masks = torch.where(hi > lo, (up - lo) / (hi - lo).clamp_min(1e-30), 0)
    with torch.no_grad():
        scores = torch.stack([session.model(x * m)[0, target] for m in masks])
    weights = torch.softmax(scores.double(), 0)
    return torch.relu(torch.einsum("k,khw->hw", weights, a.double())).numpy(), weights.numpy()


def test_scorecam_hand_formula_batch_size_and_every_target_from_one_run(tiny_session, monkeypatch):
    expected, weights = _hand_scorecam(tiny_session, 1)
    calls = []
    predict = tiny_session.predict
    monkeypatch.setattr(tiny_session, "predict", lambda x: calls.append(len(x)) or predict(x))
    e = tiny_session.explain("scorecam", layer=LAYER, target=1, batch_size=5)
    np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(e.weights, weights, rtol=1e-4)
    assert max(calls) <= 5 and sum(calls) <= 16
    calls.clear()
    other, _ = _hand_scorecam(tiny_session, 2)
    np.testing.assert_allclose(tiny_session.explain("scorecam", layer=LAYER, target=2, batch_size=5).map, other,
                               rtol=1e-4, atol=1e-7)
    assert calls == []  # the masked logits of every class were cached


def test_scorecam_probability_weighting_and_align_corners(tiny_session):
    soft = tiny_session.explain("scorecam", layer=LAYER, target=1)
    prob = tiny_session.explain("scorecam", layer=LAYER, target=1, weighting="probability")
    assert not np.allclose(soft.weights, prob.weights)
    aligned, _ = _hand_scorecam(tiny_session, 1, align_corners=True)
    np.testing.assert_allclose(tiny_session.explain("scorecam", layer=LAYER, target=1, align_corners=True).map,
                               aligned, rtol=1e-4, atol=1e-7)


def test_sscam_seeded_batch_invariant_and_scorecam_without_noise(tiny_session):
    a = tiny_session.explain("sscam", layer=LAYER, target=1, n=3, sigma=0.5, seed=7, batch_size=4)
    b = tiny_session.explain("sscam", layer=LAYER, target=1, n=3, sigma=0.5, seed=7, batch_size=16)
    c = tiny_session.explain("sscam", layer=LAYER, target=1, n=3, sigma=0.5, seed=8)
    np.testing.assert_allclose(a.map, b.map, rtol=1e-4, atol=1e-7)
    assert not np.allclose(a.weights, c.weights)
    plain = tiny_session.explain("sscam", layer=LAYER, target=1, n=1, sigma=0.0)
    np.testing.assert_allclose(plain.map, tiny_session.explain("scorecam", layer=LAYER, target=1).map, rtol=1e-5)


def test_ablationcam_batch_size_does_not_change_it(tiny_session):
    small = tiny_session.explain("ablationcam", layer=LAYER, target=1, batch_size=3)
    assert cw.engine.hook_count(tiny_session.model) == 0
    fresh = cw.Session(tiny_session.model, tiny_session.image, preprocess=tiny_session.preprocess)
    np.testing.assert_allclose(small.weights, fresh.explain("ablationcam", layer=LAYER, target=1, batch_size=16).weights,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", PERTURBATION)
def test_perturbation_methods_refuse_a_region(tiny_session, method):
    with pytest.raises(ValueError, match="^region: "):
        tiny_session.explain(method, layer=LAYER, region=(0, 0, 2, 2))


@pytest.mark.parametrize("method, params", [("scorecam", {}), ("sscam", {"n": 2}), ("ablationcam", {})])
def test_a_newer_request_cancels_between_batches_and_nothing_is_cached(tiny_session, method, params, monkeypatch):
    seen = []
    with pytest.raises(progress.Cancelled), \
            progress.reporting(lambda done, total, _: seen.append(done), cancelled=lambda: len(seen) >= 1):
        tiny_session.explain(method, layer=LAYER, target=1, batch_size=4, **params)
    assert seen == [4]
    counts = []
    for session in (cw.Session(tiny_session.model, tiny_session.image, preprocess=tiny_session.preprocess), tiny_session):
        calls = []
        predict = session.predict
        monkeypatch.setattr(session, "predict", lambda x, calls=calls, predict=predict: calls.append(len(x)) or predict(x))
        session.explain(method, layer=LAYER, target=1, batch_size=4, **params)
        counts.append(sum(calls))
    assert counts[1] == counts[0] > 4  # everything ran again, as in a fresh session: the cancelled run cached nothing


def test_fusion_is_the_max_of_normalised_upsampled_maps(tiny_session):
    from camwidget.engine.explanation import normalise, resize

    layers = ["features.2", "features"]
    fused = tiny_session.explain("layercam", layer=layers, target=1)
    size = tiny_session.image.shape[:2]
    maps = [normalise(resize(tiny_session.explain("layercam", layer=n, target=1).map, size)) for n in layers]
    np.testing.assert_allclose(fused.map, np.maximum(*maps), rtol=1e-6)
    assert fused.layer == "features.2 + features" and fused.params["layers"] == layers
    scaled = tiny_session.explain("layercam", layer=layers, target=1, gamma=2.0)
    np.testing.assert_allclose(scaled.map, np.maximum(*[np.tanh(2 * m / m.max()) for m in maps]), rtol=1e-5)
    with pytest.raises(ValueError, match="^channels: "):
        tiny_session.explain("layercam", layer=layers, channels=[0])
    with pytest.raises(ValueError, match="^gamma: "):
        tiny_session.explain("layercam", layer=layers, gamma=-1.0)
    with pytest.raises(ValueError, match="^layer: "):
        tiny_session.explain("layercam", layer=[])
    for method in ("lime", "secam", "inv", "cam"):  # maps that are not one layer's map
        with pytest.raises(ValueError, match=f"^layer: '{method}' cannot fuse several layers"):
            tiny_session.explain(method, layer=layers)
