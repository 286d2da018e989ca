"""The compiled copy for perturbation passes: used only where it is checked to be the same function."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import camwidget as cw
from camwidget.engine import compiled, folding


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class BatchTwo(Small):
    """Traces, but the trace bakes in a branch on the batch size: not the same function."""

    def forward(self, x):
        y = super().forward(x)
        return y * 2 if x.shape[0] == 2 else y


class DictOut(Small):
    def forward(self, x):
        return {"logits": super().forward(x)}


def _model(cls=Small) -> nn.Module:
    torch.manual_seed(0)
    net = cls()
    net.bn.running_mean.uniform_(-1, 1)
    net.bn.running_var.uniform_(0.5, 2)
    return net.eval()


@pytest.fixture(autouse=True)
def _fresh_cache():
    compiled._cache.clear()
    yield
    compiled._cache.clear()


def test_a_large_job_runs_through_an_equivalent_compiled_copy_a_small_one_does_not_build_it():
    net, x = _model(), torch.randn(1, 3, 16, 16)
    assert compiled.equivalent(net, x, passes=compiled.MIN_PASSES - 1) is folding.folded(net, x)
    twin = compiled.equivalent(net, x, passes=compiled.MIN_PASSES)
    assert isinstance(twin, torch.jit.ScriptModule)
    assert compiled.equivalent(net, x, passes=1) is twin  # once built, any job reuses it
    batch = torch.randn(7, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(twin(batch), net(batch), rtol=1e-4, atol=1e-5)
    assert net.training is False and all(p.requires_grad for p in net.parameters())  # the model untouched


def test_a_changed_weight_builds_a_new_copy():
    net, x = _model(), torch.randn(1, 3, 16, 16)
    first = compiled.equivalent(net, x, passes=10_000)
    with torch.no_grad():
        net.fc.weight.mul_(-3)
    second = compiled.equivalent(net, x, passes=10_000)
    assert second is not first
    batch = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(second(batch), net(batch), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [BatchTwo, DictOut])
def test_a_model_the_trace_would_change_or_cannot_hold_is_run_as_it_is(cls):
    net, x = _model(cls), torch.randn(1, 3, 16, 16)
    twin = compiled.equivalent(net, x, passes=10_000)
    assert not isinstance(twin, torch.jit.ScriptModule)


def test_turned_off_it_builds_nothing(monkeypatch):
    monkeypatch.setattr(compiled, "ENABLED", False)
    net, x = _model(), torch.randn(1, 3, 16, 16)
    assert not isinstance(compiled.equivalent(net, x, passes=10_000), torch.jit.ScriptModule)
    assert net not in compiled._cache


def test_score_cam_lime_and_the_metrics_give_the_eager_numbers(monkeypatch):
    from nets import TinyCNN

    torch.manual_seed(0)
    model = TinyCNN().eval()
    image = cw.samples.load("chelsea")
    preprocess = cw.models.Preprocess(size=(32, 32))

    def run():
        session = cw.Session(model, image, preprocess=preprocess)
        layer = session.layers[-1].name
        grad = session.explain("gradcam", layer=layer, target=0)
        metrics = session.evaluate(grad, ["deletion", "insertion"], steps=80, baseline="zero")  # builds it
        score = session.explain("scorecam", layer=layer, target=0, batch_size=16)  # reuses it
        return score.map, [metrics[k].value for k in ("deletion", "insertion")], session

    fast_map, fast_metrics, session = run()
    assert any(isinstance(c, torch.jit.ScriptModule) for c in compiled._cache[model]["copies"].values())
    monkeypatch.setattr(compiled, "ENABLED", False)
    eager_map, eager_metrics, _ = run()
    np.testing.assert_allclose(fast_map, eager_map, rtol=1e-4, atol=1e-5 * float(np.abs(eager_map).max()))
    np.testing.assert_allclose(fast_metrics, eager_metrics, atol=1e-5)
