"""The same numbers as the peers where the methods are the same (pytorch-grad-cam, Captum)."""
from __future__ import annotations

import numpy as np
import pytest

import camwidget as cw


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module")
def real(default_model, chelsea):
    model, preprocess, classes = default_model
    return cw.Session(model, chelsea, preprocess=preprocess, classes=classes)


@pytest.mark.parametrize("layer", ["bn2", "blocks.5", "blocks.3"])
def test_gradcam_equals_captum_layer_gradcam(real, layer):
    from captum.attr import LayerGradCam

    module = dict(real.model.named_modules())[layer]
    target = real.resolve_target(None)
    theirs = LayerGradCam(real.model, module).attribute(real.input.clone(), target=target, relu_attributions=True)
    ours = real.explain("gradcam", layer=layer, target=target).map
    np.testing.assert_allclose(ours, theirs[0, 0].detach().numpy(), rtol=1e-3, atol=1e-5 * float(np.abs(ours).max()))


def _pytorch_grad_cam(session, name, layer, target):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = dict(session.model.named_modules())[layer]
    with getattr(pytorch_grad_cam, name)(model=session.model, target_layers=[module]) as cam:
        return cam(input_tensor=session.input.clone(), targets=[ClassifierOutputTarget(target)])[0]


@pytest.mark.parametrize("layer", ["bn2", "blocks.4", "blocks.2"])
def test_gradcam_agrees_with_pytorch_grad_cam(real, layer):
    target = real.resolve_target(None)
    theirs = _pytorch_grad_cam(real, "GradCAM", layer, target)
    assert _corr(real.explain("gradcam", layer=layer, target=target).upsampled(theirs.shape), theirs) >= 0.999


def test_gradcampp_agrees_with_pytorch_grad_cam_where_its_epsilon_is_negligible(real):
    target = real.resolve_target(None)
    theirs = _pytorch_grad_cam(real, "GradCAMPlusPlus", "bn2", target)
    assert _corr(real.explain("gradcam++", layer="bn2", target=target).upsampled(theirs.shape), theirs) >= 0.999


@pytest.mark.parametrize("layer", ["blocks.4", "blocks.5"])
def test_gradcampp_differs_from_pytorch_grad_cam_only_by_its_epsilon(real, layer):
    """pytorch-grad-cam adds 1e-6 to α's denominator. Where gradients are ~1e-3 (g² ~ 1e-6) that
    changes the map; the paper's α has no such term, so we follow the paper — and adding the same
    epsilon to our formula reproduces pytorch-grad-cam exactly."""
    target = real.resolve_target(None)
    theirs = _pytorch_grad_cam(real, "GradCAMPlusPlus", layer, target)
    a = real.activations(layer).double().numpy()
    g = real.gradients(layer, target).double().numpy()
    alpha = np.where(g != 0, g**2 / (2 * g**2 + a.sum(axis=(1, 2), keepdims=True) * g**3 + 1e-6), 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    with_eps = cw.Explanation(np.maximum((weights[:, None, None] * a).sum(0), 0).astype(np.float32),
                              None, "gradcam++", layer, target, real.image.shape[:2])
    assert _corr(with_eps.upsampled(theirs.shape), theirs) >= 0.9999
