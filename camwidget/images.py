"""Turn whatever a user holds (a path, a sample name, a PIL image, an array, a tensor) into RGB uint8.

The pixel-value rule, one per dtype (docs/images.md has the table):

- ``uint8``: as is (unless it holds only 0 and 1: see masks below).
- ``bool``: a mask: False → 0 (black), True → 255 (white).
- other integer dtypes with a range of their own (``uint16``, ``uint32``, ``uint64``, ``int8``,
  ``int16``): scaled by the dtype's range, ``v · 255 / max(dtype)`` (a 16-bit PNG or TIFF keeps
  its full range); negative values are refused.
- ``int32`` / ``int64`` (numpy's and torch's default integers, which say nothing about a range):
  taken as 8-bit, so the values must lie in 0 … 255.
- any integer dtype holding only the values 0 and 1 (both present, or only 1) is a mask:
  0 → 0, 1 → 255.
- floats (``float16``, ``float32``, ``float64``, torch's ``bfloat16``): the values must lie in
  [0, 1] (within half a grey level, which rounding absorbs), scaled by 255.
- complex, string and object arrays are refused.

Anything else is refused with a ``ValueError`` naming ``image`` and the range found; ``value_range=
(lo, hi)`` maps lo → 0 and hi → 255 linearly (values outside are clipped) for any real dtype.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

#: Largest image (in pixels) a file may decode to; above it the file is refused before decoding.
MAX_PIXELS = 100_000_000
#: Floats may stray this far outside [0, 1] (half of one 8-bit grey level): rounding absorbs it.
FLOAT_TOLERANCE = 0.5 / 255
#: Integer dtypes scaled by their own range.
_RANGED = (np.uint16, np.uint32, np.uint64, np.int8, np.int16)


def load(image: Any, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """A new, writable RGB ``uint8`` H × W × 3 array from a path, sample name, PIL image, ndarray or tensor.

    Accepts grayscale (H × W or H × W × 1), RGB and RGBA (alpha dropped), channel-last or
    channel-first (3 × H × W tensors, as torchvision makes them, or 1 × 3 × H × W). Pixel values
    follow the per-dtype rule of this module's docstring; ``value_range=(lo, hi)`` overrides it.
    """
    lo_hi = _check_range(value_range)
    if isinstance(image, (str, os.PathLike)):
        return load(_read(image), value_range)
    if type(image).__module__.startswith("PIL."):
        return load(_pil_array(image), value_range)
    if isinstance(image, torch.Tensor):
        image = _tensor_array(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image: expected a file path, sample name, PIL image, numpy array or torch tensor, "
            f"got {type(image).__name__}"
        )
    array = _channel_last(image)
    return np.ascontiguousarray(_to_uint8(array, lo_hi))  # always a fresh, writable array


def _check_range(value_range: Any) -> tuple[float, float] | None:
    if value_range is None:
        return None
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise TypeError(f"value_range: expected (low, high) numbers, got {value_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range: need finite low < high, got {value_range!r}")
    return lo, hi


def _read(path: str | os.PathLike) -> Any:
    """The PIL image at ``path`` (decoded), or a sample image when ``path`` names one and no file."""
    from PIL import Image, UnidentifiedImageError

    from . import samples

    shown = os.fspath(path)
    if not os.path.exists(path):
        if isinstance(path, str) and samples.is_name(path):
            return samples.load(path)
        raise ValueError(
            f"image: no file at {shown!r} (and it is not a sample name: {', '.join(samples.NAMES)})"
        )
    if os.path.isdir(path):
        raise ValueError(f"image: {shown!r} is a directory, not an image file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"image: {shown!r} is an empty file (0 bytes)")
    try:
        with Image.open(path) as pil:
            w, h = pil.size
            if w * h > MAX_PIXELS:
                raise ValueError(
                    f"image: {shown!r} is {w}×{h} ({w * h / 1e6:.0f} megapixels), more than "
                    f"camwidget.images.MAX_PIXELS ({MAX_PIXELS / 1e6:.0f} megapixels); resize it first, "
                    "or raise camwidget.images.MAX_PIXELS"
                )
            Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)
            pil.load()
            return _pil_array(pil)
    except UnidentifiedImageError:
        raise ValueError(f"image: {shown!r} is not an image file that Pillow can read") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"image: {shown!r} could not be decoded (truncated or damaged?): {e}") from None


def _pil_array(pil: Any) -> np.ndarray:
    """A PIL image as an array in its own dtype: 16-bit modes stay uint16, mode F stays float."""
    mode = pil.mode
    if mode == "1":
        return np.array(pil, dtype=bool)
    if mode.startswith("I;16"):
        return np.array(pil).astype(np.uint16)
    if mode in ("I", "F", "L", "RGB", "RGBA"):
        return np.array(pil)
    return np.array(pil.convert("RGBA" if "A" in mode or "transparency" in pil.info else "RGB"))


def _tensor_array(image: torch.Tensor) -> np.ndarray:
    image = image.detach().cpu()
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        image = image.permute(1, 2, 0)
    if image.is_complex():
        raise TypeError("image: complex pixels are not an image; pass image.abs() or image.real")
    if image.dtype in (torch.bfloat16, torch.float16):
        image = image.float()
    return image.contiguous().numpy()


def _channel_last(image: np.ndarray) -> np.ndarray:
    array = image
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[..., None].repeat(3, axis=-1) if array.size else np.zeros((*array.shape, 3), array.dtype)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(
            f"image: expected H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA), got shape {tuple(image.shape)}"
        )
    array = array[..., :3]
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image: has zero size, shape {tuple(image.shape)}")
    return array


def _to_uint8(array: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    dtype = array.dtype
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError("image: complex pixels are not an image; pass np.abs(image) or image.real")
    if dtype == np.bool_:
        if value_range is not None:
            raise ValueError("value_range: does not apply to a boolean mask (False → black, True → white)")
        return array.astype(np.uint8) * np.uint8(255)
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"image: expected numeric pixels, got dtype {dtype}")
    if np.issubdtype(dtype, np.floating) and not np.isfinite(array).all():
        raise ValueError("image: contains NaN or infinite values")
    if value_range is not None:
        lo, hi = value_range
        scaled = (array.astype(np.float64) - lo) * (255.0 / (hi - lo))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    low, high = array.min(), array.max()
    if np.issubdtype(dtype, np.integer):
        if low >= 0 and high == 1:  # a 0/1 mask
            return array.astype(np.uint8) * np.uint8(255)
        if dtype == np.uint8:
            return array.copy()
        if low < 0:
            raise ValueError(
                f"image: negative pixel values ({dtype}, range found [{low}, {high}]); give non-negative "
                f"values, or value_range=(low, high) to camwidget.images.load"
            )
        if dtype.type in _RANGED:
            top = float(np.iinfo(dtype).max)
            return np.rint(array.astype(np.float64) * (255.0 / top)).astype(np.uint8)
        if high > 255:
            raise ValueError(
                f"image: {dtype} pixels are taken as 8-bit (0 … 255) but range over [{low}, {high}]; "
                f"give uint16 for 16-bit data, or value_range=(0, {high}) to camwidget.images.load"
            )
        return array.astype(np.uint8)
    if low < -FLOAT_TOLERANCE or high > 1 + FLOAT_TOLERANCE:
        hint = " (negative values: a normalised tensor? pass the image before normalising)" if low < 0 else ""
        raise ValueError(
            f"image: float pixels must lie in [0, 1], found [{float(low):.4g}, {float(high):.4g}]{hint}; "
            f"give value_range=(low, high) to camwidget.images.load, e.g. value_range=(0, 255)"
        )
    return np.clip(np.rint(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
