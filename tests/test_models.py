"""The embedded default model, the torchvision loaders, images and samples."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import camwidget as cw
from camwidget.engine import hook_count

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_default_model_predicts_a_cat_for_chelsea(default_model, chelsea):
    model, preprocess, classes = default_model
    assert len(classes) == 1000 and classes[285] == "Egyptian cat"
    s = cw.Session(model, chelsea, preprocess=preprocess, classes=classes)
    index, name, probability = s.top(1)[0]
    assert index in CAT_CLASSES, (index, name)
    assert probability > 0.3
    assert s.default_layer == "bn2" and s.layer_info("bn2").shape == (1280, 7, 7)
    assert len(s.layers) > 40 and hook_count(model) == 0


def test_default_model_knows_other_samples(default_model):
    model, preprocess, classes = default_model
    coffee = cw.Session(model, cw.samples.load("coffee"), preprocess=preprocess, classes=classes)
    assert any("espresso" in name or "cup" in name for _, name, _ in coffee.top(3))


@pytest.mark.parametrize("name", cw.models.TORCHVISION_MODELS)
def test_torchvision_architectures_discover_layers_and_explain(name, tmp_path):
    torch.manual_seed(0)
    model, preprocess, classes = cw.models.torchvision(name)
    image = np.random.default_rng(0).integers(0, 256, size=(64, 80, 3), dtype=np.uint8)
    s = cw.Session(model, image, preprocess=preprocess, classes=classes, layers=None)
    assert s.layers and all(len(i.shape) == 3 for i in s.layers)
    e = s.explain("gradcam++", target=0)
    assert e.map.shape == s.layers[-1].grid and np.isfinite(e.map).all()
    assert hook_count(model) == 0


def test_torchvision_takes_any_classification_name_and_its_input_size():
    names = cw.models.torchvision_names()
    assert {"resnet18", "efficientnet_b3", "regnet_y_400mf", "vit_b_16"} <= set(names)
    assert "fcn_resnet50" not in names  # segmentation, not classification
    model, preprocess, classes = cw.models.torchvision("resnet18")
    assert type(model).__name__ == "ResNet" and not model.training and preprocess.size == (224, 224)
    assert cw.models.torchvision("efficientnet_b3")[1].size == (300, 300)
    s = cw.Session(model, np.zeros((32, 32, 3), np.uint8), preprocess=preprocess)
    assert s.class_name(238) == "class 238"  # no class names given


def test_torchvision_weights_load_from_a_local_file(tmp_path):
    model, _, _ = cw.models.torchvision("mobilenet_v3_large")
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    again, _, _ = cw.models.torchvision("mobilenet_v3_large", weights_path=path)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", cw.samples.NAMES)
def test_samples_are_rgb_uint8(name):
    image = cw.samples.load(name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_images_load_every_common_form(tmp_path):
    rgb = cw.samples.load("chelsea")[:40, :50]
    forms = {
        "gray": rgb[..., 0],
        "gray1": rgb[..., :1],
        "rgba": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1),
        "float": rgb / 255.0,
        "chw-tensor": torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0,
        "pil": Image.fromarray(rgb),
    }
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    forms["path"] = str(path)
    for label, form in forms.items():
        out = cw.images.load(form)
        assert out.dtype == np.uint8 and out.shape == (40, 50, 3), label
        if label in ("rgba", "float", "chw-tensor", "pil", "path"):
            assert np.abs(out.astype(int) - rgb).max() <= 1, label
