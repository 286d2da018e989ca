"""Models that would give garbage are refused by name: NaN weights, constant scores, TorchScript;
models in float64 / float16 get input in their own dtype."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import TinyCNN, tiny_preprocess

import camwidget as cw
from camwidget.engine import guards, hook_count

GRADIENT_METHODS = ["gradcam", "gradcam++", "smooth-gradcam++", "inv"]
ALL = [*GRADIENT_METHODS, "cam", "secam", "lime", "neurons"]
FAST = {"smooth-gradcam++": {"n": 2}, "lime": {"n_samples": 8}, "secam": {"k": 1}, "neurons": {}}


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, size=(32, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("where, value", [("features.3.weight", float("nan")), ("features.0.bias", float("inf"))])
def test_non_finite_weights_name_the_layer_and_the_parameter(image, where, value):
    model = TinyCNN().eval()
    with torch.no_grad():
        model.get_parameter(where).view(-1)[0] = value
    session = cw.Session(model, image, preprocess=tiny_preprocess)
    layer = where.rsplit(".", 1)[0]
    for method in ALL:
        with pytest.raises(ValueError) as caught:
            session.explain(method, **FAST.get(method, {}))
        message = str(caught.value)
        assert message.startswith("model: the forward pass gives non-finite values"), (method, message)
        assert f"first at layer {layer!r}" in message and where in message, (method, message)
    assert hook_count(model) == 0


def test_non_finite_gradients_name_the_layer(image):
    class Overflowing(TinyCNN):
        def forward(self, x):  # finite forward; sqrt's derivative is infinite at ReLU's exact zeros
            a = self.features(x)
            return self.fc(torch.flatten(self.pool(a), 1)) + torch.sqrt(a).sum()

    session = cw.Session(Overflowing().eval(), image, preprocess=tiny_preprocess)
    with pytest.raises(ValueError, match=r"^model: the gradient of the logit of class 0 .*not finite \((NaN|inf).*\) at layer 'features"):
        session.explain("gradcam", target=0)


def test_a_constant_target_score_is_reported(image):
    model = TinyCNN().eval()
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()
    session = cw.Session(model, image, preprocess=tiny_preprocess)
    for method in [*GRADIENT_METHODS, "cam"]:
        with pytest.raises(ValueError, match=r"^target: .*class 0 .*(gradient is zero at every layer|all zero)"):
            session.explain(method, target=0, **FAST.get(method, {}))
    assert session.explain("neurons").map.any()  # the input gradient of neurons does not need a target
    assert hook_count(model) == 0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_the_input_follows_the_models_dtype(image, dtype):
    torch.manual_seed(0)
    model = TinyCNN().eval()
    reference = cw.Session(model, image, preprocess=tiny_preprocess)  # makes float32, as the default one
    expected = reference.explain("gradcam++", target=1).map
    session = cw.Session(model.to(dtype), image, preprocess=tiny_preprocess)
    assert session.input.dtype == dtype
    for method in ("gradcam", "gradcam++", "cam", "neurons"):
        e = session.explain(method, target=1)
        assert e.map.dtype == np.float32 and np.isfinite(e.map).all()
    got = session.explain("gradcam++", target=1).map
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > (0.9999 if dtype == torch.float64 else 0.99)
    assert np.isfinite(session.explain("smooth-gradcam++", target=1, n=2).map).all()
    assert session.predict(reference.input).dtype == dtype  # perturbation passes too (LIME, metrics)


class Scriptable(torch.nn.Module):
    """conv → ReLU → GAP → linear, in this file (TorchScript compiles from the source it reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("kind", ["script", "trace"])
def test_torchscript_models_are_refused_with_what_to_pass(image, kind):
    model = Scriptable().eval()  # defined here: scripting reads its source file
    compiled = torch.jit.script(model) if kind == "script" else torch.jit.trace(model, torch.zeros(1, 3, 16, 16))
    with pytest.raises(TypeError, match=rf"^model: a {kind}.* TorchScript module .*pass the original torch.nn.Module"):
        cw.Session(compiled, image, preprocess=tiny_preprocess)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=40),
       dtype=st.sampled_from([torch.float32, torch.float16, torch.float64]))
def test_all_finite_agrees_with_the_elementwise_test(values, dtype):
    """The sums' shortcut never changes the answer: overflowing sums of finite values are finite,
    a NaN or an inf anywhere (also +inf and -inf whose sum would be NaN) is not."""
    t = torch.tensor(values, dtype=torch.float32).to(dtype)
    expected = bool(torch.isfinite(t).all())
    assert guards.all_finite([torch.ones(3), t]) is expected


def test_all_finite_on_sums_that_overflow():
    big = torch.full((4,), 3e38)  # finite, but their float32 sum overflows to inf
    assert guards.all_finite([big]) and not guards.all_finite([big, torch.tensor([float("nan")])])
    assert guards.all_finite([torch.arange(5)])  # integer tensors are always finite


class Overflow(torch.nn.Module):
    def forward(self, x):
        return x * 1e39  # inf in float32 wherever x > 0


def test_an_overflow_that_a_clamp_hides_is_reported_by_its_own_layers_only(image):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), Overflow(), torch.nn.Hardtanh(0, 6),  # inf → 6: finite again
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 3),
    ).eval()
    session = cw.Session(model, image, preprocess=tiny_preprocess)
    assert np.isfinite(session.explain("gradcam", layer="3", target=0).map).all()  # after the clamp: a real map
    for method in ("gradcam", "gradcam++", "neurons"):
        with pytest.raises(ValueError, match=r"^model: the forward pass gives non-finite values \(the logits are "
                                             r"finite\), first at layer '1' \(inf in its activations\)"):
            session.explain(method, layer="1", target=0)
    assert np.isfinite(session.explain("gradcam", layer="2", target=0).map).all()
    assert hook_count(model) == 0


def test_gradients_stored_by_prefetch_are_checked_when_a_map_uses_them(image):
    class Overflowing(TinyCNN):
        def forward(self, x):  # sqrt's derivative is infinite at ReLU's exact zeros
            a = self.features(x)
            return self.fc(torch.flatten(self.pool(a), 1)) + torch.sqrt(a).sum()

    session = cw.Session(Overflowing().eval(), image, preprocess=tiny_preprocess)
    assert session.prefetch_gradients(0) == len(session.layers)  # stored, not read yet
    for _ in range(2):  # refused, and refused again
        with pytest.raises(ValueError, match=r"^model: the gradient of the logit of class 0 .*not finite"):
            session.explain("gradcam", layer="features", target=0)

    constant = TinyCNN().eval()
    with torch.no_grad():
        constant.fc.weight.zero_()
    session = cw.Session(constant, image, preprocess=tiny_preprocess)
    session.prefetch_gradients(1)
    for method in ("gradcam", "gradcam++"):
        with pytest.raises(ValueError, match=r"^target: .*class 1 .*gradient is zero at every layer"):
            session.explain(method, target=1)
    assert hook_count(constant) == 0
