"""The partial backward (one layer first) and the background completion of every other layer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from nets import tiny_preprocess

import camwidget as cw
from camwidget.engine import gradients, hook_count, progress


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    # a small residual net (skip connections, in-place ReLU after the sum): torchvision's resnet18
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


@pytest.fixture(scope="module")
def image():
    return cw.samples.load("chelsea")


def _pre(image):
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    return torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def reference(resnet, image):
    """Every layer's gradient from one backward to all layers at once."""
    s = cw.Session(resnet, image, preprocess=_pre)
    target = s.resolve_target(None)
    names = [i.name for i in s.layers]
    s._ensure_forward()
    with gradients.grad_enabled():
        grads = torch.autograd.grad(s._logits[0, target], [s._activations[n] for n in names], retain_graph=True)
    return target, {n: g[0] for n, g in zip(names, grads)}


@pytest.mark.parametrize("layer", ["layer4", "layer2.1.conv2", "conv1"])
def test_a_partial_backward_equals_the_full_one_bit_for_bit(resnet, image, reference, layer):
    target, full = reference
    s = cw.Session(resnet, image, preprocess=_pre)
    g = s.gradients(layer, target)
    assert torch.equal(g, full[layer])
    done = s._gradients[target]
    depth = s.layer_info(layer).depth
    # the pass stops at the layer: it has that layer and the deeper ones, nothing shallower
    assert set(done) == {i.name for i in s.layers if i.depth >= depth}
    finished = len(done)
    assert s.prefetch_gradients(target) == len(s.layers) - finished
    assert set(s._gradients[target]) == set(full)
    assert all(torch.equal(s._gradients[target][n], full[n]) for n in full)
    assert gradients.pending(s, target) == []
    assert s.prefetch_gradients(target) == 0  # nothing left to do


def test_the_first_map_runs_one_forward_and_a_backward_to_its_layer_only(resnet, image):
    s = cw.Session(resnet, image, preprocess=_pre)
    e = s.explain("gradcam", layer="layer4")
    assert "layer4" not in gradients.pending(s, e.target)
    assert len(gradients.pending(s, e.target)) == len(s.layers) - 1
    assert hook_count(resnet) == 0


def test_background_completion_is_cancellable_and_keeps_what_it_finished(resnet, image, reference):
    target, full = reference
    s = cw.Session(resnet, image, preprocess=_pre)
    s.gradients("layer4", target)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(progress.Cancelled), progress.reporting(None, cancelled=cancelled):
        s.prefetch_gradients(target)
    done = dict(s._gradients[target])
    assert 1 < len(done) < len(s.layers)
    assert all(torch.equal(done[n], full[n]) for n in done)
    assert hook_count(resnet) == 0
    assert all(not a._backward_hooks for a in s._activations.values())  # the tensor hooks are gone
    # a request for a layer not finished computes that one (and what lies between); the rest later
    shallow = s.layers[1].name
    assert torch.equal(s.gradients(shallow, target), full[shallow])
    left = gradients.pending(s, target)
    assert left and s.prefetch_gradients(target) == len(left)
    assert all(torch.equal(s._gradients[target][n], full[n]) for n in full)


def test_progress_is_reported_layer_by_layer(tiny_model, tiny_image):
    s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    seen = []
    with progress.reporting(lambda done, total, _partial: seen.append((done, total))):
        computed = s.prefetch_gradients(1)
    assert computed == len(s.layers)
    assert [d for d, _ in seen] == list(range(1, computed + 1)) and {t for _, t in seen} == {computed}
    # the maps are the same whichever path computed the gradients
    fresh = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    for info in s.layers:
        assert torch.equal(
            torch.from_numpy(s.explain("gradcam++", layer=info.name, target=1).map),
            torch.from_numpy(fresh.explain("gradcam++", layer=info.name, target=1).map),
        )


def test_methods_without_gradients_run_a_graphless_forward_and_agree(tiny_model, tiny_image):
    # a CAM-head net: SeCAM takes the classifier's weights, Smooth Grad-CAM++ its own noisy passes
    for target in range(4):  # a map that is not blank (a blank one asks the gradient why)
        light = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
        secam = light.explain("secam", n_segments=20, k=1, target=target)
        if not secam.blank:
            break
    assert not secam.blank
    assert secam.params["weights_from"] == "cam" and light._graph_ready is False
    assert all(not a.requires_grad for a in light._activations.values())
    smooth = light.explain("smooth-gradcam++", layer="features.0", target=1, n=1, sigma=0.0)
    assert light._graph_ready is False
    # n = 1, σ = 0 is Grad-CAM++ exactly, whichever forward the clean activations came from
    plain = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)
    assert (smooth.map == plain.explain("gradcam++", layer="features.0", target=1).map).all()
    # a gradient request then records the graph (once) and the maps match a fresh session's
    again = light.explain("gradcam++", layer="features.0", target=1)
    assert light._graph_ready is True and (again.map == smooth.map).all()
    assert (light.explain("secam", n_segments=20, k=1, target=target).map == secam.map).all()
    assert hook_count(tiny_model) == 0


def test_the_widget_worker_finishes_every_layer_after_the_first_map(resnet, image):
    from camwidget.widget.selection import Selection
    from camwidget.widget.worker import Worker

    s = cw.Session(resnet, image, preprocess=_pre)
    answers = []

    class Listener:
        def on_busy(self, request): ...
        def on_progress(self, request, done, total, partial): ...
        def on_error(self, request, exc): answers.append(exc)
        def on_answer(self, answer, job): answers.append(answer.explanation)

    listener = Listener()
    worker = Worker(s)
    worker.subscribe(listener)
    try:
        worker.submit(Selection.initial(s, layer="layer4", method="gradcam"), 1)
        assert worker.wait(60)
        (e,) = answers
        assert e.layer == "layer4" and gradients.pending(s, e.target) == []
    finally:
        worker.close()
        worker.join(10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_cuda_the_partial_backward_background_completion_and_folding_stay_on_the_device(resnet, image):
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval().cuda()
    model.load_state_dict(resnet.state_dict())
    s = cw.Session(model, image, preprocess=_pre, device="cuda")
    target = s.resolve_target(None)
    g = s.gradients("layer4", target)
    assert g.is_cuda
    s.prefetch_gradients(target)
    assert gradients.pending(s, target) == []
    assert all(v.is_cuda for v in s._gradients[target].values())
    cpu = cw.Session(resnet, image, preprocess=_pre)
    for layer in ("layer4", "layer2.1.conv2"):
        assert torch.allclose(s.gradients(layer, target).cpu(), cpu.gradients(layer, target), rtol=1e-3, atol=1e-5)
    e = s.explain("smooth-gradcam++", layer="layer3", target=target, n=4, batch_size=4)
    ref = cpu.explain("smooth-gradcam++", layer="layer3", target=target, n=4, batch_size=4)
    assert isinstance(e.map, np.ndarray) and np.corrcoef(e.map.ravel(), ref.map.ravel())[0, 1] > 0.999
    assert s.explain("secam", n_segments=20).params["weights_from"] == "cam"
    assert hook_count(model) == 0
