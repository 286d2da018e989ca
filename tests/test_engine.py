"""The engine's formulas against hand computations, and the subsets' identities."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camwidget as cw
from camwidget.engine import hook_count

from nets import tiny_preprocess


def _hand_activations_and_gradients(model, image, target):
    """Layer features.3 (second conv) of TinyCNN, computed without any hook."""
    x = tiny_preprocess(image)
    f = model.features
    a = f[3](f[2](F.relu(f[0](x))))
    a.retain_grad()
    score = model.fc(torch.flatten(model.pool(F.relu(a)), 1))[0, target]
    (g,) = torch.autograd.grad(score, a)
    return a[0].detach().double(), g[0].double()


def test_layers_are_discovered_in_depth_order(tiny_session):
    names = [i.name for i in tiny_session.layers]
    assert names == ["features.0", "features.1", "features.2", "features.3", "features", ]
    assert tiny_session.layer_info("features.4").name == "features"  # the container's alias
    assert tiny_session.layers[0].shape == (8, 16, 16)
    assert [i.depth for i in tiny_session.layers] == list(range(len(names)))


def test_gradcam_matches_a_hand_computation(tiny_model, tiny_image, tiny_session):
    a, g = _hand_activations_and_gradients(tiny_model, tiny_image, target=2)
    weights = g.mean(dim=(1, 2))
    expected = torch.relu((weights[:, None, None] * a).sum(0)).numpy()
    e = tiny_session.explain("gradcam", layer="features.3", target=2)
    np.testing.assert_allclose(e.weights, weights.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-6)


def test_gradcampp_follows_the_papers_formula(tiny_model, tiny_image, tiny_session):
    a, g = (t.numpy() for t in _hand_activations_and_gradients(tiny_model, tiny_image, target=1))
    total = a.sum(axis=(1, 2), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(g != 0, g**2 / (2 * g**2 + total * g**3), 0.0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    expected = np.maximum((weights[:, None, None] * a).sum(0), 0)
    e = tiny_session.explain("gradcam++", layer="features.3", target=1)
    np.testing.assert_allclose(e.weights, weights, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-6)


def test_region_weights_use_only_the_regions_neurons(tiny_model, tiny_image, tiny_session):
    a, g = _hand_activations_and_gradients(tiny_model, tiny_image, target=0)
    e = tiny_session.explain("gradcam", layer="features.3", target=0, region=(1, 2, 4, 6))
    np.testing.assert_allclose(e.weights, g[:, 1:4, 2:6].mean(dim=(1, 2)).numpy(), rtol=1e-5, atol=1e-7)
    assert e.region == (1, 2, 4, 6)
    mask = np.zeros((8, 8), bool)
    mask[1:4, 2:6] = True
    np.testing.assert_allclose(tiny_session.explain("gradcam", layer="features.3", target=0, region=mask).map, e.map)


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcam++"])
def test_subsets_of_everything_equal_the_full_map(tiny_session, method):
    layer = tiny_session.layer_info("features")
    full = tiny_session.explain(method, layer=layer.name, target=3)
    every = tiny_session.explain(
        method, layer=layer.name, target=3, channels=list(range(layer.channels)), region=(0, 0, *layer.grid)
    )
    np.testing.assert_allclose(every.map, full.map, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(every.weights, full.weights, rtol=1e-6, atol=1e-8)


def test_a_channel_subset_keeps_the_weights_and_sums_only_its_maps(tiny_session):
    full = tiny_session.explain("gradcam", layer="features.3", target=0)
    part = tiny_session.explain("gradcam", layer="features.3", target=0, channels=[5, 1, 1])
    a = tiny_session.activations("features.3").numpy()
    w = full.weights
    expected = np.maximum(w[1] * a[1] + w[5] * a[5], 0)
    np.testing.assert_allclose(part.weights, w)
    np.testing.assert_allclose(part.map, expected, rtol=1e-5, atol=1e-6)
    assert part.channels == [1, 5]


def test_cam_equals_gradcam_on_a_gap_linear_net(tiny_session):
    for target in range(4):
        cam = tiny_session.explain("cam", target=target)
        grad = tiny_session.explain("gradcam", layer=cam.layer, target=target)
        if cam.blank:
            assert grad.blank
            continue
        assert np.corrcoef(cam.upsampled().ravel(), grad.upsampled().ravel())[0, 1] >= 0.999


def test_cam_equals_gradcam_on_the_default_model(default_model, chelsea):
    model, preprocess, classes = default_model
    s = cw.Session(model, chelsea, preprocess=preprocess, classes=classes)
    cam, grad = s.explain("cam"), s.explain("gradcam", layer=s.explain("cam").layer)
    assert cam.layer == "bn2"
    assert np.corrcoef(cam.map.ravel(), grad.map.ravel())[0, 1] >= 0.999


def test_all_zero_map_is_flagged_not_divided(tiny_session):
    full = tiny_session.explain("gradcam", layer="features.3", target=0)
    negative = [int(k) for k in np.flatnonzero(full.weights < 0)]
    e = tiny_session.explain("gradcam", layer="features.3", target=0, channels=negative)
    assert e.blank and not e.map.any()
    up = e.upsampled()
    assert np.isfinite(up).all() and not up.any()


def test_explanation_as_numpy(tiny_session):
    e = tiny_session.explain("gradcam++", target="3" if False else 3)
    assert e.map.dtype == np.float32 and e.map.shape == (8, 8)
    assert e.weights.dtype == np.float32 and e.weights.shape == (16,)
    up = e.upsampled()
    assert up.shape == (32, 40) and up.dtype == np.float32
    assert 0.0 <= up.min() and up.max() <= 1.0
    assert e.upsampled((10, 12)).shape == (10, 12)
    import matplotlib

    matplotlib.use("Agg")
    assert e.plot(image=tiny_session.image) is not None
    assert "gradcam++" in repr(e)


def test_one_forward_one_backward_then_arithmetic(tiny_model, tiny_image):
    calls = {"forward": 0}
    tiny_model.register_forward_pre_hook(lambda *_: calls.__setitem__("forward", calls["forward"] + 1))
    s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    after_discovery = calls["forward"]
    for layer in [i.name for i in s.layers]:
        for method in ("gradcam", "gradcam++"):
            s.explain(method, layer=layer, target=1, region=(0, 0, 1, 1) if layer == "features" else None)
    s.explain("cam", target=2)
    assert calls["forward"] == after_discovery + 1
    assert list(s._gradients) == [1]  # one backward for the target; CAM needs none


def test_top_and_targets_by_name(tiny_model, tiny_image):
    s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, classes=["cat", "dog", "car", "boat"])
    top = s.top(2)
    assert len(top) == 2 and top[0][2] >= top[1][2]
    assert s.resolve_target("Dog") == 1
    assert s.explain("gradcam", target="car").target == 2
    assert s.explain("gradcam").target == top[0][0]
    assert abs(sum(p for *_, p in s.top(4)) - 1) < 1e-5


def test_caller_state_is_respected(tiny_model, tiny_image):
    tiny_model.train()
    tiny_model.features[0].eval()  # a mixed state must come back as it was
    tiny_model.fc.weight.requires_grad_(False)
    with torch.no_grad():
        s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
        e = s.explain("gradcam++", layer="features.3")
    with torch.inference_mode():
        e2 = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess).explain("gradcam++", layer="features.3")
    np.testing.assert_allclose(e.map, e2.map, rtol=1e-5)
    assert tiny_model.training and not tiny_model.features[0].training and tiny_model.features[1].training
    assert not tiny_model.fc.weight.requires_grad and tiny_model.fc.bias.requires_grad
    assert hook_count(tiny_model) == 0
    assert e.map.any()


def test_in_place_relu_does_not_corrupt_captured_activations(tiny_session):
    conv = tiny_session.activations("features.0")
    relu = tiny_session.activations("features.1")
    assert (conv < 0).any(), "the conv output must keep its negative values"
    np.testing.assert_allclose(relu.numpy(), np.maximum(conv.numpy(), 0))


def test_a_narrowed_session_records_only_from_its_layer_and_gives_the_same_maps(tiny_model, tiny_image, tiny_session):
    """layers= narrows the graph to start at the shallowest chosen layer (parameter-free ones too)."""
    for info in tiny_session.layers:
        narrowed = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, layers=[info.name])
        for method in ("gradcam", "gradcam++"):
            ours = narrowed.explain(method, layer=info.name, target=1).map
            np.testing.assert_allclose(ours, tiny_session.explain(method, layer=info.name, target=1).map, rtol=1e-5, atol=1e-7)
        assert not narrowed._graph_from_input or info.depth == 0
        np.testing.assert_allclose(
            narrowed.explain("neurons", layer=info.name, region=(0, 0, 2, 2)).map,
            tiny_session.explain("neurons", layer=info.name, region=(0, 0, 2, 2)).map, rtol=1e-5, atol=1e-8)
    assert hook_count(tiny_model) == 0


def test_grad_mode_is_left_as_it_was(tiny_model, tiny_image):
    for outer in (torch.no_grad, torch.enable_grad):
        with outer():
            before = torch.is_grad_enabled()
            s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, layers=["features.3"])
            s.explain("smooth-gradcam++", layer="features.3", n=2)
            s.explain("gradcam", layer="features.3")
            assert torch.is_grad_enabled() == before
