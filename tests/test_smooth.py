"""Smooth Grad-CAM++ and "neurons": against Grad-CAM++, hand autograd and torchcam, on tiny CNNs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import camwidget as cw
from camwidget.engine import hook_count, progress
from camwidget.engine.methods.smooth import smoothed_derivatives

SMOOTH = "smooth-gradcam++"


# ---- Smooth Grad-CAM++ ----------------------------------------------------------------------
def test_n1_sigma0_reproduces_gradcampp_exactly(tiny_session):
    s = tiny_session
    for info in s.layers:
        h, w = info.grid
        for kwargs in ({}, {"region": (0, 1, max(1, h // 2), w)}, {"channels": [0, 2, 5]}):
            plain = s.explain("gradcam++", layer=info.name, **kwargs)
            smooth = s.explain(SMOOTH, layer=info.name, n=1, sigma=0, **kwargs)
            assert np.array_equal(plain.map, smooth.map), (info.name, kwargs)
            assert np.array_equal(plain.weights, smooth.weights), (info.name, kwargs)


def test_same_seed_same_map_different_seed_different_map(tiny_model, tiny_image):
    from nets import tiny_preprocess

    # the last layer feeds GAP → linear, so its gradient is the same for every copy: use an
    # earlier one, whose gradient passes ReLU masks and max-pooling that the noise changes
    layer = "features.0"
    first = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    second = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    a = first.explain(SMOOTH, layer=layer, n=6, seed=3)
    b = second.explain(SMOOTH, layer=layer, n=6, seed=3)
    c = second.explain(SMOOTH, layer=layer, n=6, seed=4)
    assert np.array_equal(a.map, b.map)
    assert not np.allclose(a.map, c.map)
    assert a.params == {"n": 6, "sigma": pytest.approx(0.15 * float(first.input.max() - first.input.min())), "seed": 3}


def test_batch_size_does_not_change_the_result(tiny_model, tiny_image):
    from nets import tiny_preprocess

    maps = []
    for batch_size in (1, 2, 5):
        s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
        maps.append(s.explain(SMOOTH, layer="features.0", n=5, batch_size=batch_size).map)
    for m in maps[1:]:
        np.testing.assert_allclose(m, maps[0], rtol=1e-5, atol=1e-6)


def test_subsets_of_everything_equal_the_full_map(tiny_session):
    s = tiny_session
    for info in s.layers:
        h, w = info.grid
        full = s.explain(SMOOTH, layer=info.name, n=3)
        channels = s.explain(SMOOTH, layer=info.name, n=3, channels=list(range(info.channels)))
        region = s.explain(SMOOTH, layer=info.name, n=3, region=(0, 0, h, w))
        mask = s.explain(SMOOTH, layer=info.name, n=3, region=np.ones((h, w), bool))
        for other in (channels, region, mask):
            np.testing.assert_allclose(other.map, full.map, rtol=1e-6, atol=1e-7)


def test_region_weights_come_from_the_region_only(tiny_session):
    s = tiny_session
    d1, d2, d3 = smoothed_derivatives(s, s.resolve_target(None), n=3)["features.0"]
    e = s.explain(SMOOTH, layer="features.0", n=3, region=(2, 3, 5, 7))
    a = s.activations("features.0").double()
    alpha = d2 / (2 * d2 + a.sum(dim=(1, 2), keepdim=True) * d3)
    alpha = torch.where(d2 != 0, alpha, torch.zeros_like(alpha))
    expected = (alpha * torch.relu(d1))[:, 2:5, 3:7].sum(dim=(1, 2))
    np.testing.assert_allclose(e.weights, expected.float().numpy(), rtol=1e-6)


def test_derivatives_deep_layer_first_then_every_layer_once(tiny_session, monkeypatch):
    s = tiny_session
    s.logits  # the clean forward
    captured = []
    original = s.forward_batch
    monkeypatch.setattr(s, "forward_batch", lambda batch, names, **kw: captured.append(list(names)) or original(batch, names, **kw))
    s.explain(SMOOTH, layer="features.3", n=4, batch_size=2)  # that layer and the deeper ones only
    assert captured == [["features.3", "features"]] * 2
    s.explain(SMOOTH, layer="features", n=4, channels=[0], region=(0, 0, 1, 1))  # deeper: cached
    assert len(captured) == 2
    s.explain(SMOOTH, layer="features.0", n=4, batch_size=4)  # shallower: every layer, once
    assert captured[2:] == [[i.name for i in s.layers]]
    for info in s.layers:
        s.explain(SMOOTH, layer=info.name, n=4, channels=[0], region=(0, 0, 1, 1))
    sigma = 0.15 * float(s.input.max() - s.input.min())
    s.explain(SMOOTH, n=4, sigma=sigma, batch_size=1)  # same noise, spelt out: same cache entry
    assert len(captured) == 3


def test_deep_first_and_every_layer_give_the_same_maps(tiny_model, tiny_image):
    from nets import tiny_preprocess

    deep_first = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    every = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    smoothed_derivatives(every, every.resolve_target(None), n=3)
    for info in reversed(deep_first.layers):
        a = deep_first.explain(SMOOTH, layer=info.name, n=3)
        b = every.explain(SMOOTH, layer=info.name, n=3)
        np.testing.assert_allclose(a.map, b.map, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("params, name", [({"sigma": -0.1}, "sigma"), ({"n": 0}, "n"), ({"batch_size": 0}, "batch_size")])
def test_bad_noise_parameters_name_the_parameter(tiny_session, params, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        tiny_session.explain(SMOOTH, **params)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        tiny_session.explain("neurons", **params)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        smoothed_derivatives(tiny_session, 0, **params)


def test_progress_partials_refine_to_the_final_map_and_no_hooks_remain(tiny_session):
    s = tiny_session
    seen = []
    with progress.reporting(lambda done, total, partial: seen.append((done, total, partial))):
        final = s.explain(SMOOTH, layer="features.0", n=5, batch_size=2)
    assert [(d, t) for d, t, _ in seen] == [(2, 5), (4, 5), (5, 5)]
    assert all(p.map.shape == final.map.shape for _, _, p in seen)
    np.testing.assert_array_equal(seen[-1][2].map.numpy(), final.map)
    assert hook_count(s.model) == 0


def test_cancelled_leaves_no_hooks_and_nothing_cached(tiny_session):
    s = tiny_session
    with progress.reporting(cancelled=lambda: True), pytest.raises(progress.Cancelled):
        s.explain(SMOOTH, n=6, batch_size=2)
    assert hook_count(s.model) == 0
    with progress.reporting(cancelled=lambda: True), pytest.raises(progress.Cancelled):
        s.explain("neurons", n=4, batch_size=2)
    assert hook_count(s.model) == 0
    reported = []
    with progress.reporting(lambda done, total, partial: reported.append(done)):
        s.explain(SMOOTH, n=6, batch_size=2)
    assert reported == [2, 4, 6]  # computed from scratch: the cancelled run cached nothing
    assert hook_count(s.model) == 0


# ---- neurons ----------------------------------------------------------------------------------
def _hand_input_gradient(model, x, rows, cols, channels=None):
    x = x.clone().requires_grad_(True)
    a = model.features(x)
    a = a if channels is None else a[:, channels]
    (g,) = torch.autograd.grad(a[:, :, rows, cols].sum(), x)
    return g[0].abs().amax(0).numpy()


def test_neurons_is_the_input_gradient_and_stays_in_the_receptive_field(tiny_session):
    s = tiny_session
    e = s.explain("neurons", layer="features", region=(2, 2, 3, 3))
    assert e.weights is None and e.map.shape == tuple(s.input.shape[-2:])
    np.testing.assert_allclose(e.map, _hand_input_gradient(s.model, s.input, slice(2, 3), slice(2, 3)), rtol=1e-5, atol=1e-8)
    # conv3×3 → maxpool 2 → conv3×3: cell (2, 2) of the 8×8 grid sees input rows/cols 1..8
    outside = np.ones_like(e.map, bool)
    outside[1:9, 1:9] = False
    assert e.map[~outside].max() > 0 and not e.map[outside].any()
    subset = s.explain("neurons", layer="features", channels=[1, 4], region=(0, 0, 4, 8))
    np.testing.assert_allclose(
        subset.map, _hand_input_gradient(s.model, s.input, slice(0, 4), slice(0, 8), [1, 4]), rtol=1e-5, atol=1e-8
    )
    assert e.upsampled().shape == s.image.shape[:2]
    assert hook_count(s.model) == 0


def test_smoothed_neurons_average_the_gradients_of_the_noisy_copies(tiny_session):
    s = tiny_session
    n, sigma, seed = 4, 0.1, 7
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros_like(s.input)
    for _ in range(n):
        x = (s.input + sigma * torch.randn(s.input.shape, generator=generator)).requires_grad_(True)
        (g,) = torch.autograd.grad(s.model.features(x)[:, :, 1:3, 2:6].sum(), x)
        total += g
    expected = (total / n)[0].abs().amax(0).numpy()
    for batch_size in (1, 3):
        e = s.explain("neurons", layer="features", region=(1, 2, 3, 6), n=n, sigma=sigma, seed=seed, batch_size=batch_size)
        np.testing.assert_allclose(e.map, expected, rtol=1e-4, atol=1e-7)
    assert hook_count(s.model) == 0


# ---- torchcam's SmoothGradCAMpp ---------------------------------------------------------------
class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.down is None else self.down(x)))


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = _Block(8, 8, 1)
        self.layer2 = _Block(8, 16, 2)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layer2(self.layer1(self.stem(x))), 1), 1))


@pytest.fixture
def resnet_session(tiny_image):
    from nets import tiny_preprocess

    torch.manual_seed(1)
    model = TinyResNet()
    for m in model.modules():  # non-trivial running statistics, as after training
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return cw.Session(model.eval(), tiny_image, preprocess=tiny_preprocess)


def _torchcam_weights(session, layer, target, n, sigma, seed):
    """torchcam's channel weights. (Its *map* weights the activations of the last noisy copy —
    its activation hook fires on every noisy pass — so we compare weights, not maps.)"""
    from torchcam.methods import SmoothGradCAMpp

    x = session.input.clone()
    with SmoothGradCAMpp(session.model, target_layer=layer, num_samples=n, std=sigma, input_shape=tuple(x.shape[1:])) as extractor:
        scores = session.model(x)
        torch.manual_seed(seed)  # torchcam draws its noise from the global generator, copy by copy
        (weights,) = extractor._get_weights(target, scores)
    assert hook_count(session.model) == 0
    return weights[0].detach().double()


def _torchcam_formula(d1, d2, d3, a):
    """torchcam's weights from derivatives: Σ_ab D3·A (not ΣA · D3_ij) and eps in α's denominator."""
    alpha = d2 / (2 * d2 + (d3 * a).sum(dim=(1, 2), keepdim=True) + 1e-8)
    return (alpha * torch.relu(d1)).sum(dim=(1, 2))


def test_torchcam_at_the_last_layer_where_every_copy_has_the_same_gradient(resnet_session):
    """Before GAP → linear the gradient is constant, so torchcam's formula (Σ_ab D3·A in α's
    denominator, ReLU of the last copy's gradient in w) coincides with the paper's up to its
    eps = 1e-8 — which matters where g² is tiny, so the eps is put into the expected value."""
    s = resnet_session
    target = s.resolve_target(None)
    ours = s.explain(SMOOTH, layer="layer2", target=target, n=4, sigma=0.2, seed=5)
    d1, d2, d3 = smoothed_derivatives(s, target, n=4, sigma=0.2, seed=5)["layer2"]
    a = s.activations("layer2").double()
    theirs = _torchcam_weights(s, "layer2", target, n=4, sigma=0.2, seed=5)
    np.testing.assert_allclose(_torchcam_formula(d1, d2, d3, a).numpy(), theirs.numpy(), rtol=1e-4, atol=1e-8)
    big = theirs.numpy() > 0.03  # where eps is negligible, ours and theirs agree directly
    assert big.sum() >= 3
    np.testing.assert_allclose(ours.weights[big], theirs.numpy()[big], rtol=1e-2)


def test_torchcam_noisy_gradients_match_ours_at_an_inner_layer(resnet_session):
    """At an inner layer torchcam's formula differs from the paper's (α's denominator sums D3·A
    over the grid; w uses ReLU of the *last* copy's gradient), so its weights are not ours for
    n > 1. With n = 1 and matched noise (same seed, same σ) torchcam's formula evaluated on *our*
    cached derivatives must give torchcam's weights: our noisy copies and gradients are torchcam's."""
    s = resnet_session
    target = s.resolve_target(None)
    d1, d2, d3 = smoothed_derivatives(s, target, n=1, sigma=0.3, seed=11)["layer1"]
    expected = _torchcam_formula(d1, d2, d3, s.activations("layer1").double())
    theirs = _torchcam_weights(s, "layer1", target, n=1, sigma=0.3, seed=11)
    np.testing.assert_allclose(expected.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-8)
    # and the noise mattered: the clean gradient is another one
    clean = smoothed_derivatives(s, target, n=1, sigma=0.0)["layer1"][0]
    assert not torch.allclose(clean, d1)


def test_copies_run_in_near_equal_batches(tiny_session):
    from camwidget.engine.methods.smooth import noisy_batches

    sizes = [len(batch) for _, batch in noisy_batches(tiny_session.input, 25, 0.1, 0, 16)]
    assert sizes == [13, 12]
    assert [done for done, _ in noisy_batches(tiny_session.input, 9, 0.1, 0, 4)] == [3, 6, 9]
