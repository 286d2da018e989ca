"""The session's passes through a channels-last copy of the model: the same maps, the model untouched,
and the model itself wherever the copy cannot be trusted."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import TinyCNN, tiny_preprocess
from torch import nn

import camwidget as cw
from camwidget.engine import channels_last, hook_count


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, size=(32, 40, 3), dtype=np.uint8)


def _entry(model):
    return channels_last._cache.get(model)


def _maps(model, image, monkeypatch, enabled: bool, method="gradcam++"):
    monkeypatch.setenv("CAMWIDGET_CHANNELS_LAST", "1" if enabled else "0")
    session = cw.Session(model, image, preprocess=tiny_preprocess)
    return {i.name: session.explain(method, layer=i.name, target=1).map for i in session.layers}, session


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.sampled_from([4, 8, 16]))
def test_maps_equal_the_models_own_at_every_layer(seed, width):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(24, 28, 3), dtype=np.uint8)
    torch.manual_seed(seed)
    model = TinyCNN(width=width).eval()
    with pytest.MonkeyPatch.context() as mp:
        ours, session = _maps(model, image, mp, enabled=True)
        assert _entry(model) is not None and _entry(model)["twin"] is not None  # the copy ran
        theirs, _ = _maps(model, image, mp, enabled=False)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-6 * max(float(theirs[name].max()), 1e-6))
    assert hook_count(model) == 0 and hook_count(_entry(model)["twin"]) == 0


def test_the_model_is_untouched_and_shares_its_other_tensors(image):
    torch.manual_seed(0)
    model = TinyCNN().train()  # the caller's mode stays
    cw.Session(model, image, preprocess=tiny_preprocess).explain("gradcam", target=0)
    twin = _entry(model)["twin"]
    assert model.training and all(m.training for m in model.modules())
    assert model.features[1].inplace and not twin.features[1].inplace  # the copy's activations run out of place
    assert model.features[0].weight.is_contiguous()
    assert twin.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert twin.fc.weight is model.fc.weight and twin.features[0].bias is model.features[0].bias
    assert not twin.training


def test_an_in_place_weight_change_is_seen(image, monkeypatch):
    torch.manual_seed(0)
    model = TinyCNN().eval()
    before, _ = _maps(model, image, monkeypatch, enabled=True, method="gradcam")
    with torch.no_grad():
        model.features[3].weight.mul_(-1)
    after, _ = _maps(model, image, monkeypatch, enabled=True, method="gradcam")
    expected, _ = _maps(model, image, monkeypatch, enabled=False, method="gradcam")
    assert not np.allclose(before["features.3"], after["features.3"])
    np.testing.assert_allclose(after["features.3"], expected["features.3"], rtol=1e-4, atol=1e-6)


def test_a_replaced_or_reassigned_tensor_is_seen(image, monkeypatch):
    torch.manual_seed(0)
    model = TinyCNN().eval()
    before, _ = _maps(model, image, monkeypatch, enabled=True, method="gradcam")
    model.fc.weight = nn.Parameter(torch.randn_like(model.fc.weight))  # a new object in a shared slot
    replaced, _ = _maps(model, image, monkeypatch, enabled=True, method="gradcam")
    model.features[0].bias.data = torch.randn_like(model.features[0].bias)  # new data in a shared object
    model.features[3].weight.data = torch.randn_like(model.features[3].weight)  # ... and in a copied one
    reassigned, _ = _maps(model, image, monkeypatch, enabled=True, method="gradcam")
    expected, _ = _maps(model, image, monkeypatch, enabled=False, method="gradcam")
    assert not np.allclose(before["features.3"], replaced["features.3"])
    for name in expected:
        np.testing.assert_allclose(reassigned[name], expected[name], rtol=1e-4, atol=1e-6 * max(float(expected[name].max()), 1e-6))


class NCHWView(TinyCNN):
    """Flattens its 4-D features with ``view``: valid only for NCHW strides."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16 * 8 * 8, 4)

    def forward(self, x):
        a = self.features(x)
        return self.fc(a.view(a.shape[0], -1))


class RaisesOnBatches(TinyCNN):
    """Runs channels-last at batch 1, refuses it for larger batches."""

    def forward(self, x):
        if x.shape[0] > 1 and self.features[0].weight.is_contiguous(memory_format=torch.channels_last):
            raise RuntimeError("no channels-last batches here")
        return super().forward(x)


def test_a_model_that_needs_nchw_strides_keeps_its_own_layout(image, monkeypatch):
    torch.manual_seed(0)
    model = NCHWView().eval()
    ours, _ = _maps(model, image, monkeypatch, enabled=True)
    assert _entry(model)["twin"] is None  # the check refused the copy
    theirs, _ = _maps(model, image, monkeypatch, enabled=False)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_a_copy_that_fails_later_is_dropped_and_the_model_runs(image):
    torch.manual_seed(0)
    model = RaisesOnBatches().eval()
    session = cw.Session(model, image, preprocess=tiny_preprocess)
    session.explain("gradcam", target=0)
    assert _entry(model)["twin"] is not None
    logits, _ = session.forward_batch(session.input.repeat(2, 1, 1, 1), ["features.3"], from_input=False)
    assert logits.shape == (2, 4) and _entry(model)["failed"] and _entry(model)["twin"] is None
    assert cw.Session(model, image, preprocess=tiny_preprocess).explain("gradcam", target=0).map.shape


def test_not_used_where_it_cannot_serve(image, monkeypatch):
    torch.manual_seed(0)
    hooked = TinyCNN().eval()
    handle = hooked.features[0].register_forward_hook(lambda *_: None)  # the copy would not call it
    try:
        cw.Session(hooked, image, preprocess=tiny_preprocess).explain("gradcam", target=0)
        assert _entry(hooked) is None
    finally:
        handle.remove()
    one_conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()
    cw.Session(one_conv, image, preprocess=tiny_preprocess).explain("gradcam", layer="1", target=0)
    assert _entry(one_conv) is None
    doubled = TinyCNN().double().eval()
    cw.Session(doubled, image, preprocess=tiny_preprocess).explain("gradcam", target=0)
    assert _entry(doubled) is None
    monkeypatch.setenv("CAMWIDGET_CHANNELS_LAST", "0")
    off = TinyCNN().eval()
    cw.Session(off, image, preprocess=tiny_preprocess).explain("gradcam", target=0)
    assert _entry(off) is None


@pytest.mark.parametrize("copy", ["1", "0"])
def test_two_threads_share_the_model_without_mixing_their_captures(copy, monkeypatch):
    import threading

    monkeypatch.setenv("CAMWIDGET_CHANNELS_LAST", copy)
    torch.manual_seed(0)
    model = TinyCNN(width=16).eval()
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(24, 28, 3), dtype=np.uint8) for _ in range(2)]
    expected = [cw.Session(model, im, preprocess=tiny_preprocess).activations("features.3") for im in images]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            for _ in range(30):
                got = cw.Session(model, images[k], preprocess=tiny_preprocess).activations("features.3")
                assert torch.equal(got, expected[k])
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert hook_count(model) == 0
    if copy == "1":
        assert "forward" not in _entry(model)["twin"].features[3].__dict__
