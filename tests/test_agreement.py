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


# ---- the rest of the CAM family (pytorch-grad-cam, torchcam) --------------------------------------
_PEER_NAMES = {"xgradcam": "XGradCAM", "layercam": "LayerCAM", "hirescam": "HiResCAM",
               "gradcam-elementwise": "GradCAMElementWise", "eigengradcam": "EigenGradCAM"}


@pytest.fixture(scope="module")
def resnet50_session(chelsea):
    torch.manual_seed(0)
    model, preprocess, classes = cw.models.torchvision("resnet50")  # random weights (nothing is downloaded)
    return cw.Session(model, chelsea, preprocess=preprocess, classes=classes, layers=["layer3", "layer4"])


@pytest.mark.parametrize("method", list(_PEER_NAMES))
@pytest.mark.parametrize("model_name, layer", [("default", "blocks.5"), ("resnet50", "layer4")])
def test_cached_cams_agree_with_pytorch_grad_cam(real, resnet50_session, method, model_name, layer):
    session = real if model_name == "default" else resnet50_session
    target = session.resolve_target(None)
    theirs = _pytorch_grad_cam(session, _PEER_NAMES[method], layer, target)
    ours = session.explain(method, layer=layer, target=target)
    assert not ours.blank
    if method == "eigengradcam":  # pytorch-grad-cam keeps its SVD's sign; ours correlates with Σ g·A
        product = session.gradients(layer, target) * session.activations(layer)
        raw = _their_projection(product)
        sign = 1.0 if _corr(raw, product.sum(0).numpy()) >= 0 else -1.0
        assert _corr(ours.map, np.maximum(sign * raw, 0)) >= 0.999
        if sign < 0:  # its SVD returned the other sign: its map is the other half of the projection
            return
    assert _corr(ours.upsampled(theirs.shape), theirs) >= 0.999


def _their_projection(values: torch.Tensor) -> np.ndarray:
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    return get_2d_projection(values[None].double().numpy())[0]


@pytest.mark.parametrize("model_name, layer", [("default", "blocks.5"), ("default", "bn2"), ("resnet50", "layer4")])
def test_eigencam_is_pytorch_grad_cams_projection_with_the_sign_fixed(real, resnet50_session, model_name, layer):
    session = real if model_name == "default" else resnet50_session
    a = session.activations(layer)
    raw = _their_projection(a)
    sign = 1.0 if _corr(raw, a.sum(0).numpy()) >= 0 else -1.0
    ours = session.explain("eigencam", layer=layer)
    assert _corr(ours.map, np.maximum(sign * raw, 0)) >= 0.999
    if sign > 0:  # where its SVD's sign agrees, its EigenCAM is ours
        theirs = _pytorch_grad_cam(session, "EigenCAM", layer, session.resolve_target(None))
        assert _corr(ours.upsampled(theirs.shape), theirs) >= 0.999


def _torchcam(session, name, layer, target, **kwargs):
    import torchcam.methods

    with getattr(torchcam.methods, name)(session.model, target_layer=layer, **kwargs) as extractor:
        scores = session.model(session.input.clone())
        (cam,) = extractor(target, scores)
    return cam[0].detach().numpy()


@pytest.mark.parametrize("method, name", [("xgradcam", "XGradCAM"), ("layercam", "LayerCAM")])
@pytest.mark.parametrize("model_name, layer", [("default", "blocks.5"), ("resnet50", "layer4")])
def test_xgradcam_and_layercam_agree_with_torchcam(real, resnet50_session, method, name, model_name, layer):
    session = real if model_name == "default" else resnet50_session
    target = session.resolve_target(None)
    theirs = _torchcam(session, name, layer, target)
    assert _corr(session.explain(method, layer=layer, target=target).map, theirs) >= 0.999


def test_scorecam_agrees_with_torchcam_and_with_pytorch_grad_cam_under_align_corners(real):
    """blocks.2 of the default model: 40 channels, so 40 masked passes per peer."""
    target = real.resolve_target(None)
    ours = real.explain("scorecam", layer="blocks.2", target=target)
    assert _corr(ours.map, _torchcam(real, "ScoreCAM", "blocks.2", target, batch_size=32)) >= 0.99
    theirs = _pytorch_grad_cam(real, "ScoreCAM", "blocks.2", target)
    aligned = real.explain("scorecam", layer="blocks.2", target=target, align_corners=True)
    assert _corr(aligned.upsampled(theirs.shape), theirs) >= 0.99


def test_ablationcam_equals_the_hand_formula(real):
    layer, target = "blocks.2", real.resolve_target(None)
    module = real.model.get_submodule(layer)
    y = float(real.logits[target])
    a = real.activations(layer)
    drops = []
    for k in range(a.shape[0]):
        def zero_k(_m, _i, out, k=k):
            out = out.clone()
            out[:, k] = 0
            return out

        handle = module.register_forward_hook(zero_k)
        try:
            with torch.no_grad():
                drops.append((y - float(real.model(real.input)[0, target])) / y)
        finally:
            handle.remove()
    weights = torch.tensor(drops, dtype=torch.float64)
    expected = torch.relu(torch.einsum("k,khw->hw", weights, a.double())).numpy()
    ours = real.explain("ablationcam", layer=layer, target=target, batch_size=16)
    assert _corr(ours.map, expected) >= 0.999
    np.testing.assert_allclose(ours.weights, weights.numpy(), rtol=1e-3, atol=1e-6)


# ---- faithfulness metrics (torchcam, pytorch-grad-cam) --------------------------------------------
class _FixedCam:
    """A torchcam CAM extractor that returns a given map: the peers' metrics scored on *our* map."""

    def __init__(self, model, cam):
        self.model, self.cam = model, cam

    def __call__(self, class_idx=None, scores=None, normalized=True, **kwargs):
        return [self.cam]

    def fuse_cams(self, cams):
        return cams[0]

    def _hooks_off(self):
        import contextlib

        return contextlib.nullcontext()

    def disable_hooks(self):
        pass

    def enable_hooks(self):
        pass


@pytest.fixture(scope="module")
def gradcam_bn2(real):
    return real.explain("gradcam", layer="bn2")


def _input_map(session, explanation) -> torch.Tensor:
    return torch.from_numpy(explanation.upsampled(tuple(session.input.shape[-2:])))[None]


def test_deletion_and_insertion_equal_torchcams_metric(real, gradcam_bn2):
    from functools import partial

    from torchcam.metrics import DeletionInsertionMetric

    theirs = DeletionInsertionMetric(_FixedCam(real.model, _input_map(real, gradcam_bn2)),
                                     partial(torch.softmax, dim=-1), steps=16, batch_size=32)
    theirs.update(real.input.clone(), class_idx=gradcam_bn2.target)
    ours = real.evaluate(gradcam_bn2, ["deletion", "insertion"], steps=16, baseline="zero")
    summary = theirs.summary()
    assert abs(ours["deletion"].value - summary["deletion_auc"]) < 1e-3
    assert abs(ours["insertion"].value - summary["insertion_auc"]) < 1e-3


def test_average_drop_and_increase_equal_torchcams_classification_metric(real, gradcam_bn2):
    from functools import partial

    from torchcam.metrics import ClassificationMetric

    theirs = ClassificationMetric(_FixedCam(real.model, _input_map(real, gradcam_bn2)), partial(torch.softmax, dim=-1))
    theirs.update(real.input.clone(), class_idx=gradcam_bn2.target)
    ours = real.evaluate(gradcam_bn2, ["avg-drop", "avg-increase"])
    assert abs(ours["avg-drop"].value / 100 - theirs.summary()["avg_drop"]) < 1e-4
    assert ours["avg-increase"].value / 100 == theirs.summary()["conf_increase"]


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_road_equals_pytorch_grad_cams_at_the_same_percentiles(real, gradcam_bn2, order):
    """Same noise: pytorch-grad-cam draws it from the global RNG, ours from a generator seeded
    with ``seed`` for each imputed image, so seeding the global RNG before each of its calls
    reproduces ours."""
    from pytorch_grad_cam.metrics.road import (
        ROADLeastRelevantFirst,
        ROADMostRelevantFirst,
    )
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    peer = ROADMostRelevantFirst if order == "morf" else ROADLeastRelevantFirst
    percentiles = [30, 70]
    cam = _input_map(real, gradcam_bn2).numpy()
    theirs = []
    for p in percentiles:
        torch.manual_seed(0)
        theirs.append(float(peer(p)(real.input.clone(), cam, [ClassifierOutputSoftmaxTarget(gradcam_bn2.target)],
                                    real.model, return_diff=False)[0]))
    ours = real.evaluate(gradcam_bn2, [f"road-{order}"], percentiles=percentiles, seed=0)[f"road-{order}"]
    np.testing.assert_allclose(ours.curve.y, theirs, atol=1e-4)
    assert abs(ours.value - float(np.mean(theirs))) < 1e-4


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
