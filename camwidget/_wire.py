"""What crosses the wire between the kernel and the browser: numpy ⇄ bytes and validation.

Everything binary goes out as raw ``uint8`` bytes in top-level ``Bytes`` traits (never base64,
never PNG): the image once, then one small map per answer. Everything the browser sends back is
validated here before it reaches the engine; a refusal is a ``ValueError``/``TypeError`` whose
message names the trait, and the widget shows it instead of raising into the comm handler.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

#: Colormaps the frontend has lookup tables for (js/lut_data.ts).
COLORMAPS = ("jet", "viridis", "inferno", "magma", "plasma", "turbo", "gray")
#: The displayed image is downscaled so that its longer side is at most this many pixels.
MAX_IMAGE_SIDE = 1024
#: At most this many feature-map thumbnails travel (the heaviest by weight); the UI says so.
MAX_TILES = 64
#: A thumbnail's longer side is at most this many pixels (average-pooled down).
MAX_TILE_SIDE = 32
#: Upper bound on any one binary trait (a map, a mask, the atlas).
MAX_BYTES = 8 * 1024 * 1024


# ---- kernel → browser ----------------------------------------------------------------------
def _resize(array: np.ndarray, size: tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """Resize an h × w (× c) float array to ``size`` = (H, W)."""
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    kw = {"align_corners": False} if mode == "bilinear" else {}
    out = F.interpolate(t, size=tuple(size), mode=mode, **kw)[0]
    return (out[0] if array.ndim == 2 else out.permute(1, 2, 0)).numpy()


def display_shape(shape: Sequence[int], max_side: int = MAX_IMAGE_SIDE) -> tuple[int, int]:
    h, w = int(shape[0]), int(shape[1])
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def pack_image(image: np.ndarray, max_side: int = MAX_IMAGE_SIDE) -> tuple[bytes, list[int]]:
    """RGB ``uint8`` H × W × 3 → (bytes, [H, W]), downscaled (area) if the longer side exceeds ``max_side``."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 H×W×3, got {image.dtype} {image.shape}")
    size = display_shape(image.shape, max_side)
    if size != image.shape[:2]:
        image = np.clip(_resize(image.astype(np.float32), size, mode="area") + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image).tobytes(), [int(image.shape[0]), int(image.shape[1])]


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Min-max scale a map to 0..255 (a constant or non-finite map becomes zeros)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if hi - lo <= 0:
        return np.zeros(values.shape, dtype=np.uint8)
    return ((values - lo) * (255.0 / (hi - lo)) + 0.5).astype(np.uint8)


def pack_map(map_: np.ndarray, display: Sequence[int]) -> tuple[bytes, list[int]]:
    """A raw map (h × w float) → uint8 bytes at its own resolution, or at most the display's.

    Feature-resolution maps travel as they are (7 × 7 is 49 bytes); image-resolution maps (segment
    methods) larger than the displayed image are resized to it.
    """
    map_ = np.asarray(map_, dtype=np.float32)
    if map_.ndim != 2:
        raise ValueError(f"map: expected a 2-D array, got shape {map_.shape}")
    dh, dw = int(display[0]), int(display[1])
    if map_.shape[0] > dh or map_.shape[1] > dw:
        map_ = _resize(map_, (dh, dw))
    data = to_uint8(map_)
    if data.nbytes > MAX_BYTES:
        raise ValueError(f"map: {data.shape} is larger than the {MAX_BYTES} bytes the widget sends")
    return data.tobytes(), [int(data.shape[0]), int(data.shape[1])]


def pack_mask(mask: np.ndarray | None, segments: np.ndarray | None, display: Sequence[int]) -> tuple[bytes, list[int]]:
    """Segment methods: one byte per display pixel, bit 0 = selected segment, bit 1 = segment
    boundary, bit 2 = edge of the selection (the pixels on both sides of where a selected pixel
    meets an unselected 4-neighbour, so the outline of the selection is two pixels wide)."""
    if mask is None and segments is None:
        return b"", []
    dh, dw = int(display[0]), int(display[1])
    out = np.zeros((dh, dw), dtype=np.uint8)
    if mask is not None:
        m = np.asarray(mask).astype(np.float32)
        if m.shape != (dh, dw):
            m = _resize(m, (dh, dw), mode="nearest")
        selected = m > 0.5
        out |= selected.astype(np.uint8)
        rim = np.zeros((dh, dw), dtype=bool)
        across = selected[:, 1:] != selected[:, :-1]
        rim[:, 1:] |= across
        rim[:, :-1] |= across
        down = selected[1:, :] != selected[:-1, :]
        rim[1:, :] |= down
        rim[:-1, :] |= down
        out |= rim.astype(np.uint8) << 2
    else:
        out |= 1  # no selection: nothing is dimmed
    if segments is not None:
        s = np.asarray(segments)
        if s.shape != (dh, dw):
            s = _resize(s.astype(np.float32), (dh, dw), mode="nearest").astype(np.int64)
        edge = np.zeros((dh, dw), dtype=bool)
        edge[:, 1:] |= s[:, 1:] != s[:, :-1]
        edge[1:, :] |= s[1:, :] != s[:-1, :]
        out |= edge.astype(np.uint8) << 1
    return out.tobytes(), [dh, dw]


def pack_atlas(
    activations: torch.Tensor,
    weights: np.ndarray | None,
    limit: int = MAX_TILES,
    max_side: int = MAX_TILE_SIDE,
) -> tuple[bytes, dict[str, Any]]:
    """Thumbnails of a layer's feature maps, heaviest first: (bytes, meta).

    ``activations`` is C × h × w; the ``limit`` channels with the largest weight (mean activation
    when the method has no channel weights) each become a min-max scaled uint8 tile of at most
    ``max_side`` pixels a side, packed tile after tile.
    """
    acts = activations.detach().float().cpu()
    if acts.dim() != 3:
        raise ValueError(f"activations: expected C×h×w, got {tuple(acts.shape)}")
    c, h, w = acts.shape
    if weights is not None and np.asarray(weights).shape == (c,):
        score = torch.as_tensor(np.asarray(weights, dtype=np.float32))
        kind = "weight"
    else:
        score = acts.mean(dim=(1, 2))
        kind = "mean activation"
    score = torch.nan_to_num(score, nan=-math.inf)
    n = min(int(limit), c)
    order = torch.argsort(score, descending=True, stable=True)[:n]
    tiles = acts[order]
    scale = min(1.0, max_side / max(h, w))
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    if (th, tw) != (h, w):
        tiles = F.adaptive_avg_pool2d(tiles[None], (th, tw))[0]
    flat = tiles.reshape(n, -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    span = torch.where(hi - lo > 0, hi - lo, torch.ones_like(hi))
    data = ((flat - lo) / span * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
    meta = {
        "order": [int(i) for i in order],
        "weights": [float(score[i]) if math.isfinite(float(score[i])) else 0.0 for i in order],
        "tile": [th, tw],
        "total": int(c),
        "weight_kind": kind,
    }
    return data.tobytes(), meta


def pack_clusters(maps: Sequence[np.ndarray], max_side: int = MAX_TILE_SIDE) -> tuple[bytes, list[int]]:
    """INV cluster maps (each h × w, raw) → min-max scaled uint8 tiles packed one after another.

    Returns (bytes, [th, tw]); tiles are average-pooled so their longer side is ≤ ``max_side``.
    """
    if not len(maps):
        return b"", [0, 0]
    stack = torch.from_numpy(np.stack([np.asarray(m, dtype=np.float32) for m in maps]))
    stack = torch.nan_to_num(stack, nan=0.0, posinf=0.0, neginf=0.0)
    n, h, w = stack.shape
    scale = min(1.0, max_side / max(h, w))
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    if (th, tw) != (h, w):
        stack = F.adaptive_avg_pool2d(stack[None], (th, tw))[0]
    data = np.concatenate([to_uint8(tile.numpy()).ravel() for tile in stack])
    return data.tobytes(), [th, tw]


#: The reveal game's steps: the share (percent) of a cluster map's pixels shown at step 0 … 5.
REVEAL_PERCENT = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)


def reveal_threshold(values: np.ndarray, percent: float) -> int:
    """The uint8 level t such that pixels ≥ t are the top ``percent`` % (at least that many; ties
    at t are all shown). The frontend computes the same (js/reveal.ts)."""
    values = np.asarray(values, dtype=np.uint8).ravel()
    want = max(1, math.ceil(values.size * percent / 100.0))
    counts = np.bincount(values, minlength=256)[::-1].cumsum()  # pixels ≥ 255, ≥ 254, …
    return int(255 - np.searchsorted(counts, want))


# ---- browser → kernel ----------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, float) and v.is_integer()  # JSON numbers may arrive as 3.0


def check_region(value: Any, grid: Sequence[int]) -> tuple[int, int, int, int] | None:
    """A half-open (row0, col0, row1, col1) rectangle inside the layer's h × w grid, or None."""
    if value is None:
        return None
    h, w = int(grid[0]), int(grid[1])
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) != 4:
        raise TypeError(f"region: expected (row0, col0, row1, col1) or None, got {value!r}")
    if not all(_is_int(v) for v in value):
        raise TypeError(f"region: the four bounds must be integers, got {list(value)!r}")
    r0, c0, r1, c1 = (int(v) for v in value)
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ValueError(
            f"region: {(r0, c0, r1, c1)} is outside or empty on this layer's {h}×{w} grid "
            f"(need 0 ≤ row0 < row1 ≤ {h}, 0 ≤ col0 < col1 ≤ {w}, half-open)"
        )
    return (r0, c0, r1, c1)


def check_channels(value: Any, count: int) -> list[int] | None:
    """Sorted unique channel indices in 0..count-1, or None (all channels)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"channels: expected a list of channel indices or None, got {value!r}")
    values = list(value)
    if not values:
        raise ValueError("channels: the list is empty; give channel indices, or None for all")
    if not all(_is_int(v) for v in values):
        raise TypeError(f"channels: indices must be integers, got {values[:5]!r}")
    bad = [int(v) for v in values if not 0 <= int(v) < count]
    if bad:
        raise ValueError(f"channels: {bad[:5]} do not exist; this layer has channels 0..{count - 1}")
    return sorted({int(v) for v in values})


def check_params(value: Any) -> dict[str, Any]:
    """Method parameters: a flat dict of JSON scalars (the method's schema checks the rest)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"params: expected a dict, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, (bool, int, float, str))):
            raise TypeError(f"params: {k!r} must map to a number, a string, a bool or None, got {v!r}")
    return dict(value)


def check_colormap(value: Any) -> str:
    if value not in COLORMAPS:
        raise ValueError(f"colormap: {value!r} is not one of {', '.join(COLORMAPS)}")
    return value


def check_opacity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"opacity: expected a number in [0, 1], got {value!r}")
    return float(value)


def check_flag(name: str, value: Any) -> bool:
    """A view-only switch (``outline``, ``hide_rest``): a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)
