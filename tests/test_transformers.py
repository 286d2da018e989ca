"""Vision transformers: token layers as C × h × w grids, for every method (random weights throughout)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.engine import hook_count, tokens
from camwidget.models import Preprocess

timm = pytest.importorskip("timm")


def _tiny_vit(**kwargs) -> torch.nn.Module:
    """A 64² ViT with an 8 × 8 patch grid: the plumbing of vit_tiny at a fraction of its cost."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    options = {"img_size": 64, "patch_size": 8, "embed_dim": 32, "depth": 3, "num_heads": 2, "num_classes": 5}
    return VisionTransformer(**{**options, **kwargs}).eval()


def _tiny_swin() -> torch.nn.Module:
    from timm.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    return SwinTransformer(img_size=64, patch_size=4, window_size=4, embed_dim=24, depths=(1, 1),
                           num_heads=(1, 2), num_classes=5).eval()


def _session(model, image, size=64, **kwargs) -> cw.Session:
    return cw.Session(model, image, preprocess=Preprocess(size=(size, size)), **kwargs)


def _raw_gradient(session, module_name: str, target: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The module's raw output and ∂ logit / ∂ output by plain autograd (no camwidget capture)."""
    found = {}

    def hook(_m, _i, output):
        output.retain_grad()
        found["output"] = output

    handle = session.model.get_submodule(module_name).register_forward_hook(hook)
    try:
        session.model(session.input.clone())[0, target].backward()
    finally:
        handle.remove()
    return found["output"].detach()[0], found["output"].grad[0]


@pytest.fixture(scope="module")
def vit(request):
    image = np.random.default_rng(0).integers(0, 256, size=(48, 56, 3), dtype=np.uint8)
    return _session(_tiny_vit(reg_tokens=4), image)


def test_token_layers_are_listed_with_their_patch_grid_and_prefix(vit):
    layers = {i.name: i for i in vit.layers}
    assert layers["patch_embed"].kind == "tokens" and layers["patch_embed"].prefix_tokens == 0
    for name in ("blocks.0", "blocks.1", "blocks", "norm"):  # blocks.2 is listed as its container "blocks"
        info = layers[name]
        assert (info.kind, info.shape, info.prefix_tokens, info.output_shape) == ("tokens", (32, 8, 8), 5, (69, 32))
    assert "blocks.2" in layers["blocks"].aliases


@pytest.mark.parametrize("name", ["blocks.1", "patch_embed"])
def test_grid_activations_and_gradients_are_the_patch_tokens(vit, name):
    """∂ logit / ∂ grid equals plain autograd's gradient at the patch tokens, prefix dropped."""
    info = vit.layer_info(name)
    output, gradient = _raw_gradient(vit, name, 3)
    c, h, w = info.shape
    expected = lambda t: t[info.prefix_tokens:].T.reshape(c, h, w)
    torch.testing.assert_close(vit.activations(name), expected(output))
    torch.testing.assert_close(vit.gradients(name, 3), expected(gradient), rtol=1e-4, atol=1e-7)


def test_after_the_last_block_the_map_is_blank_and_says_why(vit):
    """Only the class token reaches the head: every patch gradient after the last block is 0."""
    for name in ("blocks", "norm"):
        e = vit.explain("gradcam", layer=name)
        assert e.blank and not vit.gradients(name).any()
        assert "prefix (class) token" in e.blank_reason and "blocks.1" in e.blank_reason
    assert vit.default_layer == "blocks.1"
    e = vit.explain("gradcam")
    assert e.layer == "blocks.1" and not e.blank and e.blank_reason is None


def test_every_method_subset_and_region_works_on_a_token_layer(vit):
    layer = "blocks.1"
    full = vit.explain("gradcam", layer=layer, target=2)
    everything = vit.explain("gradcam", layer=layer, target=2, channels=list(range(32)), region=(0, 0, 8, 8))
    np.testing.assert_allclose(everything.map, full.map, rtol=1e-5, atol=1e-7)
    region = vit.explain("gradcam", layer=layer, target=2, region=(1, 2, 4, 6))
    g = vit.gradients(layer, 2)
    np.testing.assert_allclose(region.weights, g[:, 1:4, 2:6].mean(dim=(1, 2)).numpy(), rtol=1e-5)
    quick = {"smooth-gradcam++": {"n": 2}, "lime": {"n_samples": 8, "n_segments": 10, "segmenter": "slic", "k": 1}}
    for spec in cw.methods.available():
        if spec.name == "cam":  # the head reads the class token, not the grid's mean
            with pytest.raises(ValueError, match="gradcam"):
                vit.explain("cam", target=2)
            continue
        params = quick.get(spec.name, {})
        if spec.name == "secam":
            params = {"segmenter": "slic", "n_segments": 10, "k": 1}
        e = vit.explain(spec.name, layer=layer, target=2, **params)
        assert e.map.ndim == 2 and np.isfinite(e.map).all(), spec.name
        if spec.name not in ("lime", "secam", "neurons", "inv"):
            assert e.map.shape == (8, 8)
            assert vit.explain(spec.name, layer=layer, target=2, channels=[0, 3, 5], **params).map.shape == (8, 8)
    assert len(vit.clusters(layer, target=2)) >= 1
    assert hook_count(vit.model) == 0


def test_reshape_hook_takes_pytorch_grad_cams_function(vit):
    def reshape_transform(tensor, height=8, width=8):
        result = tensor[:, 5:, :].reshape(tensor.size(0), height, width, tensor.size(2))
        return result.transpose(2, 3).transpose(1, 2)

    image = vit.image
    custom = _session(vit.model, image, reshape=reshape_transform)
    assert custom.layer_info("blocks.1").kind == "reshape"
    assert custom.layer_info("patch_embed").kind == "tokens"  # 64 tokens: the callable does not apply
    np.testing.assert_allclose(custom.explain("gradcam", layer="blocks.1", target=1).map,
                               vit.explain("gradcam", layer="blocks.1", target=1).map, rtol=1e-5, atol=1e-8)
    with_norm = _session(vit.model, image, reshape={"blocks.2.norm1": None})
    assert with_norm.layer_info("blocks.2.norm1").shape == (32, 8, 8)
    assert with_norm.default_layer == "blocks.2.norm1"  # pytorch-grad-cam's recommended layer, when asked for
    assert not with_norm.explain("gradcam", target=1).blank
    assert hook_count(vit.model) == 0


def test_reshape_refusals_name_the_problem(vit):
    with pytest.raises(ValueError, match="reshape: may only select and rearrange"):
        _session(vit.model, vit.image, reshape={"blocks.1": lambda t: t[:, 5:].reshape(1, 8, 8, 32).permute(0, 3, 1, 2) * 2})
    with pytest.raises(ValueError, match="reshape: 'blocks.9' is not a module.*blocks.1"):
        _session(vit.model, vit.image, reshape={"blocks.9": None})
    with pytest.raises(TypeError, match="reshape: expected a callable"):
        _session(vit.model, vit.image, reshape=3)
    assert hook_count(vit.model) == 0


def test_layouts_are_read_from_shapes():
    hw = (224, 224)
    assert tokens.detect((1, 197, 768), hw).prefix == 1
    assert tokens.detect((1, 198, 192), hw).prefix == 2  # DeiT's class + distillation tokens
    assert tokens.detect((1, 201, 384), hw).prefix == 5  # class + 4 registers
    assert tokens.detect((1, 56, 56, 96), hw).kind == "NHWC"
    assert tokens.detect((1, 96, 56, 56), hw).kind == "NCHW"
    assert tokens.detect((1, 32, 28, 28), hw).kind == "NCHW"  # C close to h: stays NCHW
    assert tokens.detect((1, 1000), hw) is None and tokens.detect((1, 77, 512), hw) is None
    assert tokens.detect((1, 1 + 14 * 20, 64), (224, 320)).grid == (14, 20)


def test_swin_channels_last_layers_are_permuted():
    image = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    session = _session(_tiny_swin(), image)
    block = session.layer_info("layers.0.blocks.0")
    assert block.kind == "NHWC" and block.shape == (24, 16, 16)
    assert session.layer_info("norm").shape == (48, 8, 8)
    output, gradient = _raw_gradient(session, "layers.0.blocks.0", 4)
    torch.testing.assert_close(session.activations("layers.0.blocks.0"), output.permute(2, 0, 1))
    torch.testing.assert_close(session.gradients("layers.0.blocks.0", 4), gradient.permute(2, 0, 1), rtol=1e-4, atol=1e-7)
    assert session.default_layer == session.layers[-1].name  # no prefix tokens: the deepest layer
    assert not session.explain("gradcam").blank


@pytest.mark.parametrize("factory, blocks, grid, prefix", [
    (lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False), [f"blocks.{i}" for i in range(11)], (14, 14), 1),
    (lambda: timm.create_model("deit_tiny_patch16_224", pretrained=False), [f"blocks.{i}" for i in range(11)], (14, 14), 1),
    (lambda: timm.create_model("swin_tiny_patch4_window7_224", pretrained=False),
     ["layers.0.blocks.1", "layers.1.blocks.1", "layers.2.blocks.5", "norm"], None, 0),
])
def test_timm_models_list_every_block(factory, blocks, grid, prefix):
    model = factory().eval()
    layers = cw.engine.layers.discover(model, torch.zeros(1, 3, 224, 224))
    found = {i.name: i for i in layers}
    for name in blocks:
        assert name in found or any(name in i.aliases for i in layers), name
        info = cw.engine.layers.find(layers, name)
        assert info.prefix_tokens == prefix
        if grid is not None:
            assert info.grid == grid
    if grid is None:  # swin: a 56, 28, 14, 7 pyramid of channels-last maps
        assert [cw.engine.layers.find(layers, n).grid for n in blocks] == [(56, 56), (28, 28), (14, 14), (7, 7)]
        assert cw.engine.layers.find(layers, "layers.0.blocks.1").kind == "NHWC"


@pytest.mark.parametrize("name", ["vit_b_16", "swin_t"])
def test_torchvision_transformers_list_every_block(name):
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    layers = cw.engine.layers.discover(model, torch.zeros(1, 3, 224, 224))
    if name == "vit_b_16":
        blocks = [i for i in layers if i.name.startswith("encoder.layers.")]
        assert [i.name for i in blocks] == [f"encoder.layers.encoder_layer_{k}" for k in range(12)]
        assert all(i.grid == (14, 14) and i.prefix_tokens == 1 and i.channels == 768 for i in blocks)
    else:
        assert cw.engine.layers.find(layers, "features.7.1").kind == "NHWC"
        assert cw.engine.layers.find(layers, "permute").kind == "NCHW"
        assert [cw.engine.layers.find(layers, f"features.{k}").grid for k in (1, 3, 5, 7)] == [
            (56, 56), (28, 28), (14, 14), (7, 7)]


def test_a_model_without_any_spatial_layer_is_refused_naming_what_it_found():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"no selectable layer.*3 → \(1, 3\).*reshape="):
        _session(model, image, size=8)
    assert hook_count(model) == 0


def test_the_sanity_check_keeps_the_sessions_reshape(vit):
    """The randomised models' sessions read their layers as the original's did (reshape= and all)."""
    with_norm = _session(vit.model, vit.image, reshape={"blocks.2.norm1": None})
    e = with_norm.explain("gradcam", layer="blocks.2.norm1", target=1)
    result = with_norm.evaluate(e, ["sanity"], stages=2)["sanity"]
    assert np.isfinite(result.value) and len(result.curve.y) == 2
    assert hook_count(vit.model) == 0
