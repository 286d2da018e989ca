"""Turn whatever a user holds (a path, a PIL image, an array, a tensor) into an RGB uint8 image."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch


def load(image: Any) -> np.ndarray:
    """An RGB ``uint8`` H × W × 3 array from a path, PIL image, ndarray or tensor.

    Accepts grayscale (H × W or H × W × 1), RGB and RGBA (alpha dropped), channel-last or
    channel-first (3 × H × W tensors, as torchvision makes them), ``uint8`` or float in [0, 1]
    (floats beyond 1 are taken as 0–255).
    """
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        if not os.path.exists(image):
            raise ValueError(f"image: no file at {str(image)!r}")
        with Image.open(image) as pil:
            return load(np.asarray(pil.convert("RGB")))
    if type(image).__module__.startswith("PIL."):
        return load(np.asarray(image.convert("RGB")))
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dim() == 4 and image.shape[0] == 1:
            image = image[0]
        if image.dim() == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image: expected a file path, PIL image, numpy array or torch tensor, got {type(image).__name__}"
        )
    array = image
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(
            f"image: expected H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA), got shape {tuple(image.shape)}"
        )
    array = array[..., :3]
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image: has zero size, shape {tuple(image.shape)}")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"image: expected numeric pixels, got dtype {array.dtype}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("image: contains NaN or infinite values")
    if array.min() < 0:
        raise ValueError(f"image: negative pixel values (min {array.min():.3g}); give uint8 or floats in [0, 1]")
    if array.max() <= 1.0 and np.issubdtype(image.dtype, np.floating):
        array = array * 255.0
    return np.ascontiguousarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))
