"""Bad input gets a clear error naming the argument, and nothing is left behind."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import camwidget as cw
from camwidget.engine import hook_count

from nets import TinyVGG, tiny_preprocess


def _still_works(session, model):
    assert hook_count(model) == 0
    assert session.explain("gradcam++", layer="features.3", target=0).map.shape == (8, 8)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"layer": "featurs.3"}, ValueError, ["layer", "features.3"]),  # close match listed
        ({"layer": 3}, TypeError, ["layer"]),
        ({"layer": "pool"}, ValueError, ["layer", "spatial"]),  # 1×1 output: not spatial
        ({"layer": "fc"}, ValueError, ["layer"]),
        ({"target": 4}, ValueError, ["target", "0..3"]),
        ({"target": -1}, ValueError, ["target"]),
        ({"target": 1.5}, TypeError, ["target"]),
        ({"target": "zebra"}, ValueError, ["target"]),
        ({"region": (0, 0, 9, 4)}, ValueError, ["region", "8×8"]),
        ({"region": (3, 3, 3, 5)}, ValueError, ["region", "empty"]),
        ({"region": (0, 0, 2)}, TypeError, ["region"]),
        ({"region": np.zeros((8, 8), bool)}, ValueError, ["region", "no neuron"]),
        ({"region": np.ones((4, 4), bool)}, ValueError, ["region", "shape"]),
        ({"channels": []}, ValueError, ["channels", "empty"]),
        ({"channels": [0, 16]}, ValueError, ["channels", "0..15"]),
        ({"channels": 3}, TypeError, ["channels"]),
        ({"channels": [0.5]}, TypeError, ["channels"]),
        ({"method": "gradcam+++"}, ValueError, ["method", "gradcam++"]),
        ({"method": "gradcam", "n": 3}, TypeError, ["n", "gradcam"]),
    ],
)
def test_bad_arguments_name_themselves(tiny_model, tiny_session, kwargs, error, words):
    kwargs = {"method": "gradcam", "layer": "features.3", **kwargs}
    with pytest.raises(error) as info:
        tiny_session.explain(**kwargs)
    for word in words:
        assert word in str(info.value)
    _still_works(tiny_session, tiny_model)


@pytest.mark.parametrize(
    "image, error, word",
    [
        (np.zeros((4, 4, 4, 4), np.uint8), ValueError, "shape"),
        (np.zeros((0, 5, 3), np.uint8), ValueError, "zero size"),
        (np.full((8, 8, 3), np.nan, np.float32), ValueError, "NaN"),
        (np.zeros((8, 8, 5), np.uint8), ValueError, "H×W×3"),
        ("no/such/file.png", ValueError, "no file"),
        ([[1, 2], [3, 4]], TypeError, "image"),
        (np.full((8, 8, 3), -1.0), ValueError, "negative"),
    ],
)
def test_bad_images(tiny_model, image, error, word):
    with pytest.raises(error) as info:
        cw.Session(tiny_model, image, preprocess=tiny_preprocess)
    assert word in str(info.value) and "image" in str(info.value)
    assert hook_count(tiny_model) == 0


def test_model_without_convolutions(tiny_image):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4))
    with pytest.raises(ValueError, match="model: no selectable layer"):
        cw.Session(model, tiny_image, preprocess=tiny_preprocess)
    assert hook_count(model) == 0
    with pytest.raises(TypeError, match="model"):
        cw.Session("resnet", tiny_image)


def test_cam_needs_a_gap_linear_head(tiny_image):
    model = TinyVGG().eval()
    s = cw.Session(model, tiny_image, preprocess=tiny_preprocess)
    with pytest.raises(ValueError, match="method='cam'.*gradcam"):
        s.explain("cam")
    assert s.explain("gradcam").map.any() or s.explain("gradcam").blank
    assert hook_count(model) == 0


def test_cam_only_at_the_head_layer(tiny_session):
    with pytest.raises(ValueError, match="layer: CAM is defined only at.*'features'"):
        tiny_session.explain("cam", layer="features.0")


def test_errors_inside_the_model_reach_the_caller_and_hooks_go(tiny_image):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 1:  # discovery passes, the explaining forward fails
                raise RuntimeError("boom inside the model")
            return self.conv(x).mean(dim=(2, 3))

    model = Broken()
    s = cw.Session(model, tiny_image, preprocess=tiny_preprocess)
    with pytest.raises(RuntimeError, match="boom inside the model"):
        s.explain("gradcam")
    assert hook_count(model) == 0
    assert model.training  # the mode is back as it was


def test_classes_must_match_the_outputs(tiny_model, tiny_image):
    s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, classes=["a", "b"])
    with pytest.raises(ValueError, match="classes: 2 names for a model with 4 outputs"):
        s.top()


def test_preprocess_must_make_a_tensor(tiny_model, tiny_image):
    with pytest.raises(TypeError, match="preprocess"):
        cw.Session(tiny_model, tiny_image, preprocess=lambda im: im)
    with pytest.raises(ValueError, match="preprocess"):
        cw.Session(tiny_model, tiny_image, preprocess=lambda im: torch.zeros(2, 3, 8, 8))


def test_layers_argument_narrows_and_validates(tiny_model, tiny_image):
    s = cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, layers=["features.3"])
    assert [i.name for i in s.layers] == ["features.3"]
    with pytest.raises(ValueError, match="layer: 'features.0' was left out"):
        s.explain("gradcam", layer="features.0")
    with pytest.raises(ValueError, match="layers"):
        cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, layers=[])
    with pytest.raises(ValueError, match="close matches"):
        cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess, layers=["feature.3"])


def test_unknown_sample_and_model_names():
    with pytest.raises(ValueError, match="name: unknown sample 'cat'.*chelsea"):
        cw.samples.load("cat")
    with pytest.raises(ValueError, match="name: 'resnet_18' is not a torchvision classification model; close matches: resnet18"):
        cw.models.torchvision("resnet_18")
    with pytest.raises(ValueError, match="weights_path"):
        cw.models.torchvision("resnet50", weights_path="/no/such/file.pt")
