"""The reveal game's steps, and the one map scaling the game and the view share.

A cluster's map is scaled to 0..255 (:func:`to_uint8`); at step ``s`` the game shows the pixels at
or above :func:`reveal_threshold` for ``REVEAL_PERCENT[s]`` percent. The browser computes the same
(js/reveal.ts) from the same constants (``widget/shared.json``, bundled by the frontend). Here, with
numpy only, so the campaign and the label store use it without importing the widget.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

_SHARED = json.loads((Path(__file__).resolve().parent.parent / "widget" / "shared.json").read_text(encoding="utf-8"))
#: The reveal game's steps: the share (percent) of a cluster map's pixels shown at step 0 … 5.
REVEAL_PERCENT: tuple[float, ...] = tuple(float(p) for p in _SHARED["reveal_percent"])


def to_uint8(values: Any) -> np.ndarray:
    """Min–max scale to 0..255 over the last two axes (one map, or each tile of a stack).

    A constant or non-finite map becomes zeros.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if v.ndim < 2 or v.size == 0:
        return np.zeros(v.shape, dtype=np.uint8)
    lo = v.min(axis=(-2, -1), keepdims=True)
    hi = v.max(axis=(-2, -1), keepdims=True)
    span = hi - lo
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    return ((v - lo) * scale + 0.5).astype(np.uint8)


def reveal_threshold(values: np.ndarray, percent: float) -> int:
    """The uint8 level t such that pixels ≥ t are the top ``percent`` % (at least that many; ties
    at t are all shown). The frontend computes the same (js/reveal.ts)."""
    values = np.asarray(values, dtype=np.uint8).ravel()
    want = max(1, math.ceil(values.size * percent / 100.0))
    counts = np.bincount(values, minlength=256)[::-1].cumsum()  # pixels ≥ 255, ≥ 254, …
    return int(255 - np.searchsorted(counts, want))


def reveal_mask(values: Any, step: Any) -> np.ndarray:
    """The pixels of map ``values`` shown at reveal ``step`` (0 … len(REVEAL_PERCENT) - 1), boolean."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step < len(REVEAL_PERCENT):
        raise ValueError(f"step: expected 0 … {len(REVEAL_PERCENT) - 1}, got {step!r}")
    scaled = to_uint8(values)
    return scaled >= reveal_threshold(scaled, REVEAL_PERCENT[int(step)])
