"""The same numbers as the peers where the methods are the same (pytorch-grad-cam, Captum)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

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


# ---- vision transformers and segmentation (random weights: no offline weights for them) ----------
def _vit_reshape(grid: int, prefix: int = 1):
    """pytorch-grad-cam's documented ``reshape_transform`` for ViTs."""
    def reshape_transform(tensor):
        result = tensor[:, prefix:, :].reshape(tensor.size(0), grid, grid, tensor.size(2))
        return result.transpose(2, 3).transpose(1, 2)
    return reshape_transform


def _vit(name):
    torch.manual_seed(0)
    if name == "vit_b_16":
        import torchvision

        model = torchvision.models.vit_b_16(weights=None)
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision zero-initialises the head
        return model.eval(), "encoder.layers.encoder_layer_{}", lambda m, i: m.encoder.layers[i]
    import timm

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    torch.nn.init.normal_(model.head.weight, std=0.02)
    return model.eval(), "blocks.{}", lambda m, i: m.blocks[i]


@pytest.mark.parametrize("name", ["vit_b_16", "vit_tiny_patch16_224"])
def test_vit_gradcam_agrees_with_pytorch_grad_cams_reshape_transform(name, chelsea):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, pattern, block = _vit(name)
    session = cw.Session(model, chelsea)
    target = session.resolve_target(None)
    assert session.default_layer == pattern.format(10)  # the last block's map is blank: not the default
    for index in (10, 11):
        with pytorch_grad_cam.GradCAM(model=model, target_layers=[block(model, index)],
                                      reshape_transform=_vit_reshape(14)) as cam:
            theirs = cam(input_tensor=session.input.clone(), targets=[ClassifierOutputTarget(target)])[0]
        ours = session.explain("gradcam", layer=pattern.format(index), target=target)
        if index == 10:
            assert not ours.blank and _corr(ours.upsampled(theirs.shape), theirs) >= 0.999
        else:  # only the class token reaches the head: every patch gradient is exactly zero, theirs too
            assert ours.blank and "prefix (class) token" in ours.blank_reason
            assert not theirs.any()


def test_segmentation_target_agrees_with_pytorch_grad_cams_semantic_segmentation_target(chelsea):
    import torchvision
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget

    from camwidget.models import Preprocess

    torch.manual_seed(0)
    model = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None).eval()
    session = cw.Session(model, chelsea, preprocess=Preprocess(size=(128, 128)))
    target = session.resolve_target(None)  # the top class over the pixels predicted as it
    assert isinstance(target, cw.engine.targets.SegmentationTarget) and target.index == session.top(1)[0][0]

    class Out(torch.nn.Module):  # pytorch-grad-cam's tutorial wrapper: the "out" tensor of the dict
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)["out"]

    with GradCAM(model=Out(model), target_layers=[model.backbone.layer4]) as cam:
        theirs = cam(input_tensor=session.input.clone(),
                     targets=[SemanticSegmentationTarget(target.index, target.mask.float().numpy())])[0]
    ours = session.explain("gradcam", layer="backbone.layer4", target=target)
    assert _corr(ours.upsampled(theirs.shape), theirs) >= 0.999
