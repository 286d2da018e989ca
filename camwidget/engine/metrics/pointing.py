"""The pointing game (Zhang et al. 2018, as TorchRay scores it) and the energy-based pointing game.

Both read the map upsampled to the *image* (H × W of ``session.image``) and normalised, and an
object given as a box ``(x0, y0, x1, y1)`` — half-open image pixels, columns then rows, the
convention of localisation data sets and of ``cw.samples.dataset("objects")`` items' ``box`` (a
layer *region* is ``(row0, col0, row1, col1)`` on the layer's grid) — or a boolean H × W mask.

- **pointing game**: a hit (1.0) when the map's maximum (the first, in row-major order) lies
  within ``tolerance`` pixels of the object: some object pixel at distance² < tolerance²
  (TorchRay's acceptance disc, 15 pixels by default); otherwise a miss (0.0). Over a data set the
  accuracy is hits / (hits + misses), per class in TorchRay.
- **energy-based pointing game** (Wang et al. 2020, Score-CAM): Σ M inside the object / Σ M —
  the share of the map's energy on the object (NaN for a blank map, which has no energy).
"""
from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from .passes import Context
from .result import MetricResult

TOLERANCE = 15


def object_mask(box: Any, mask: Any, size: tuple[int, int]) -> np.ndarray:
    """The object as a boolean H × W mask from ``box`` or ``mask`` (exactly one of them)."""
    h, w = size
    if (box is None) == (mask is None):
        raise ValueError("box: the pointing games need the object, as box=(x0, y0, x1, y1) or "
                         f"mask= (a boolean {h}×{w} array) — exactly one of them")
    if mask is not None:
        array = np.asarray(mask)
        if array.dtype != bool:
            raise TypeError(f"mask: must be boolean, got dtype {array.dtype}")
        if array.shape != (h, w):
            raise ValueError(f"mask: shape {array.shape} does not match the image's {(h, w)}")
        if not array.any():
            raise ValueError("mask: selects no pixel; the object must cover at least one pixel")
        return array
    try:
        c0, r0, c1, r1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise TypeError(f"box: expected (x0, y0, x1, y1) in image pixels, got {box!r}") from None
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ValueError(f"box: {(c0, r0, c1, r1)} is outside or empty on the {h}×{w} (rows × columns) image; "
                         f"need 0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h} (half-open)")
    array = np.zeros((h, w), dtype=bool)
    array[r0:r1, c0:c1] = True
    return array


def check_tolerance(tolerance: Any) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not 0 <= float(tolerance) < float("inf"):
        raise ValueError(f"tolerance: must be a finite number of pixels >= 0, got {tolerance!r}")
    return float(tolerance)


def pointing_game(context: Context, box=None, mask=None, tolerance: float = TOLERANCE) -> MetricResult:
    size = tuple(context.session.image.shape[:2])
    target = object_mask(box, mask, size)
    tolerance = check_tolerance(tolerance)
    saliency = context.explanation.upsampled(size)
    row, col = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    rows = (np.arange(size[0], dtype=np.float64) - row) ** 2
    cols = (np.arange(size[1], dtype=np.float64) - col) ** 2
    accept = rows[:, None] + cols[None, :] < tolerance**2
    hit = bool((accept & target).any())
    return MetricResult("pointing-game", float(hit), None, {"tolerance": tolerance, "box": _box(box)},
                        higher_is_better=True, details={"point": (int(row), int(col))})


def energy_pointing_game(context: Context, box=None, mask=None) -> MetricResult:
    size = tuple(context.session.image.shape[:2])
    target = object_mask(box, mask, size)
    saliency = context.explanation.upsampled(size).astype(np.float64)
    total = float(saliency.sum())
    value = float(saliency[target].sum() / total) if total > 0 else float("nan")
    return MetricResult("energy-pointing-game", value, None, {"box": _box(box)}, higher_is_better=True,
                        details={"object_share_of_image": float(target.mean())})


def _box(box):
    return None if box is None else tuple(int(v) for v in box)
