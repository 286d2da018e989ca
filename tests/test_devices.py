"""Every method, metric and the widget on the session's device (issue 14's GPU path).

Each test runs on the CPU and, where CUDA is present, on the GPU (skipped otherwise: CI has none).
On the device, the session's activations and gradients stay there and maps come back as numpy
arrays only at the edge; the device's answers equal the CPU's (float rounding apart: other
kernels sum in another order). On the CPU the comparison is with a second session of its own —
the same check, so the test's own logic runs on every machine.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

import camwidget as cw
from camwidget.engine.capture import hook_count
from camwidget.widget import CamWidget

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]
#: small settings for the slow methods (the point is where tensors live, not the method)
QUICK = {
    "smooth-gradcam++": {"n": 4, "batch_size": 4},
    "lime": {"n_samples": 32, "n_segments": 12, "segmenter": "slic", "k": 3},
    "secam": {"segmenter": "slic", "n_segments": 12, "k": 3},
    "scorecam": {"batch_size": 64},
    "sscam": {"n": 2, "batch_size": 64},
    "ablationcam": {"batch_size": 64},
}
LAYER = "layer3"


def _pre(image: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    return torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def cpu_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return cw.samples.load("chelsea")


@pytest.fixture(scope="module")
def reference(cpu_model, image) -> cw.Session:
    return cw.Session(cpu_model, image, preprocess=_pre)


def _on(device: str, cpu_model: torch.nn.Module) -> torch.nn.Module:
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    model.load_state_dict(cpu_model.state_dict())
    return model.to(device)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        return 1.0  # both constant (an all-zero map): the same map
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("device", DEVICES)
def test_every_method_runs_on_the_device_and_equals_the_cpu(device, cpu_model, image, reference):
    model = _on(device, cpu_model)
    s = cw.Session(model, image, preprocess=_pre, device=device)
    target = reference.resolve_target(None)
    assert s.resolve_target(None) == target
    assert s.input.device.type == device and s.activations(LAYER).device.type == device
    assert s.gradients(LAYER, target).device.type == device
    for spec in cw.methods.available():
        params = QUICK.get(spec.name, {})
        layer = None if spec.name == "cam" else LAYER
        e = s.explain(spec.name, layer=layer, target=target, **params)
        ref = reference.explain(spec.name, layer=layer, target=target, **params)
        assert isinstance(e.map, np.ndarray) and e.map.dtype == np.float32, spec.name
        assert np.isfinite(e.map).all() and e.map.shape == ref.map.shape, spec.name
        if e.weights is not None:
            assert isinstance(e.weights, np.ndarray) and np.isfinite(e.weights).all(), spec.name
        assert _correlation(e.map, ref.map) > 0.999, f"{spec.name} on {device}: {_correlation(e.map, ref.map)}"
    s.prefetch_gradients(target)
    assert all(g.device.type == device for g in s._gradients[target].values())
    assert hook_count(model) == 0


@pytest.mark.parametrize("device", DEVICES)
def test_every_metric_runs_on_the_device_and_equals_the_cpu(device, cpu_model, image, reference):
    model = _on(device, cpu_model)
    s = cw.Session(model, image, preprocess=_pre, device=device)
    target = reference.resolve_target(None)
    e, ref = (session.explain("gradcam", layer=LAYER, target=target) for session in (s, reference))
    box = (60, 100, 220, 330)
    options = {"steps": 16, "box": box, "stages": 2}
    names = cw.metrics.available()
    got, expected = s.evaluate(e, names, **options), reference.evaluate(ref, names, **options)
    assert set(got) == set(names)
    for name in names:
        assert np.isfinite(got[name].value), name
        assert got[name].value == pytest.approx(expected[name].value, rel=1e-3, abs=1e-3), name
    assert hook_count(model) == 0


@pytest.mark.parametrize("device", DEVICES)
def test_the_widget_explains_a_session_on_the_device(device, cpu_model, image, reference):
    model = _on(device, cpu_model)
    s = cw.Session(model, image, preprocess=_pre, device=device)
    w = CamWidget(s, method="gradcam++", layer=LAYER)
    try:
        assert w.wait(60) and w.error == ""
        target = reference.resolve_target(None)
        ref = reference.explain("gradcam++", layer=LAYER, target=target)
        assert isinstance(w.explanation.map, np.ndarray)
        assert _correlation(w.explanation.map, ref.map) > 0.999
        w.layer = "layer2"
        assert w.wait(60) and w.error == "" and w.explanation.layer == "layer2"
        assert np.isfinite(w.faithfulness["deletion"].value)
    finally:
        w.close()
    assert hook_count(model) == 0
