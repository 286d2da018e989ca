"""What crosses the wire from the kernel to the browser: numpy → raw ``uint8`` bytes.

Everything binary goes out as raw bytes in top-level ``Bytes`` traits (never base64, never PNG):
the image once, then one small map per answer. There is one scaling (:func:`to_uint8`, min–max
per map or per tile), one tile size (:func:`tile_shape`) and one resize (:func:`resize`); the
panels pack with these only. The constants the browser shares come from ``shared.json`` (the
frontend bundles the same file). What the browser sends back is validated in
:mod:`camwidget.widget.selection`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

# The map scaling and the reveal game's steps live beside the labels (no widget import there);
# re-exported here, the one codec the panels use.
from ..labels.reveal_steps import REVEAL_PERCENT, reveal_threshold, to_uint8  # noqa: F401

#: The constants shared with the browser (js/shared.ts imports the same file).
SHARED: dict[str, Any] = json.loads((Path(__file__).with_name("shared.json")).read_text(encoding="utf-8"))
#: Colormaps the frontend has lookup tables for (js/lut_data.ts).
COLORMAPS: tuple[str, ...] = tuple(SHARED["colormaps"])
#: The displayed image is downscaled so that its longer side is at most this many pixels.
MAX_IMAGE_SIDE: int = int(SHARED["max_image_side"])
#: At most this many feature-map thumbnails travel (the heaviest by weight); the UI says so.
MAX_TILES: int = int(SHARED["max_tiles"])
#: A thumbnail's longer side is at most this many pixels (average-pooled down).
MAX_TILE_SIDE: int = int(SHARED["max_tile_side"])
#: The longest label text (characters) the view lets people type; the label store's limit.
MAX_TEXT: int = int(SHARED["max_text"])
#: Upper bound on any one binary trait (a map, a mask, an atlas).
MAX_BYTES = 8 * 1024 * 1024


def resize(array: np.ndarray, size: Sequence[int], mode: str = "bilinear") -> np.ndarray:
    """Resize an h × w (× c) float array to ``size`` = (H, W) (``bilinear``, ``area`` or ``nearest``)."""
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    kw = {"align_corners": False} if mode == "bilinear" else {}
    out = F.interpolate(t, size=(int(size[0]), int(size[1])), mode=mode, **kw)[0]
    return (out[0] if array.ndim == 2 else out.permute(1, 2, 0)).numpy()


def display_shape(shape: Sequence[int], max_side: int = MAX_IMAGE_SIDE) -> tuple[int, int]:
    """The (H, W) an image of ``shape`` is shown at: longer side at most ``max_side``."""
    h, w = int(shape[0]), int(shape[1])
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def tile_shape(h: int, w: int, max_side: int = MAX_TILE_SIDE) -> tuple[int, int]:
    """The (th, tw) a thumbnail of an h × w map is pooled to (longer side ≤ ``max_side``)."""
    return display_shape((h, w), max_side)


def pack_image(image: np.ndarray, max_side: int = MAX_IMAGE_SIDE) -> tuple[bytes, list[int]]:
    """RGB ``uint8`` H × W × 3 → (bytes, [H, W]), downscaled (area) if the longer side exceeds ``max_side``."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 H×W×3, got {image.dtype} {image.shape}")
    size = display_shape(image.shape, max_side)
    if size != image.shape[:2]:
        image = np.clip(resize(image.astype(np.float32), size, mode="area") + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image).tobytes(), [int(image.shape[0]), int(image.shape[1])]


def pack_map(map_: Any, display: Sequence[int]) -> tuple[bytes, list[int]]:
    """A raw map (h × w float) → uint8 bytes at its own resolution, or at most the display's.

    Feature-resolution maps travel as they are (7 × 7 is 49 bytes); image-resolution maps (segment
    methods) larger than the displayed image are resized to it.
    """
    if hasattr(map_, "detach"):
        map_ = map_.detach().float().cpu().numpy()
    values = np.asarray(map_, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"map: expected a 2-D array, got shape {values.shape}")
    dh, dw = int(display[0]), int(display[1])
    if values.shape[0] > dh or values.shape[1] > dw:
        values = resize(values, (dh, dw))
    data = to_uint8(values)
    if data.nbytes > MAX_BYTES:
        raise ValueError(f"map: {data.shape} is larger than the {MAX_BYTES} bytes the widget sends")
    return data.tobytes(), [int(data.shape[0]), int(data.shape[1])]


def _edges(labels: np.ndarray) -> np.ndarray:
    """Pixels on both sides of where a label differs from its right or lower neighbour."""
    edge = np.zeros(labels.shape, dtype=bool)
    across = labels[:, 1:] != labels[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = labels[1:, :] != labels[:-1, :]
    edge[1:, :] |= down
    edge[:-1, :] |= down
    return edge


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
            m = resize(m, (dh, dw), mode="nearest")
        selected = m > 0.5
        out |= selected.astype(np.uint8)
        out |= _edges(selected).astype(np.uint8) << 2
    else:
        out |= 1  # no selection: nothing is dimmed
    if segments is not None:
        s = np.asarray(segments)
        if s.shape != (dh, dw):
            s = resize(s.astype(np.float32), (dh, dw), mode="nearest").astype(np.int64)
        edge = np.zeros((dh, dw), dtype=bool)  # one pixel wide: the right / lower side only
        edge[:, 1:] |= s[:, 1:] != s[:, :-1]
        edge[1:, :] |= s[1:, :] != s[:-1, :]
        out |= edge.astype(np.uint8) << 1
    return out.tobytes(), [dh, dw]


def pack_tiles(maps: Any, max_side: int = MAX_TILE_SIDE) -> tuple[bytes, list[int]]:
    """An n × h × w stack of maps → each average-pooled to :func:`tile_shape` and min–max scaled
    to uint8 on its own, packed tile after tile: (bytes, [th, tw])."""
    stack = torch.as_tensor(np.asarray(maps, dtype=np.float32)) if not isinstance(maps, torch.Tensor) else maps
    stack = torch.nan_to_num(stack.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0)
    if stack.dim() != 3:
        raise ValueError(f"maps: expected n×h×w, got {tuple(stack.shape)}")
    n, h, w = stack.shape
    if n == 0:
        return b"", [0, 0]
    th, tw = tile_shape(h, w, max_side)
    if (th, tw) != (h, w):
        stack = F.adaptive_avg_pool2d(stack[None], (th, tw))[0]
    return to_uint8(stack.numpy()).tobytes(), [th, tw]


def pack_atlas(
    activations: torch.Tensor,
    weights: np.ndarray | None,
    limit: int = MAX_TILES,
    max_side: int = MAX_TILE_SIDE,
) -> tuple[bytes, dict[str, Any]]:
    """Thumbnails of a layer's feature maps, heaviest first: (bytes, meta).

    ``activations`` is C × h × w; the ``limit`` channels with the largest weight (mean activation
    when the method has no channel weights) each become a tile (:func:`pack_tiles`).
    """
    acts = activations.detach().float().cpu()
    if acts.dim() != 3:
        raise ValueError(f"activations: expected C×h×w, got {tuple(acts.shape)}")
    c = acts.shape[0]
    if weights is not None and np.asarray(weights).shape == (c,):
        score = torch.as_tensor(np.asarray(weights, dtype=np.float32))
        kind = "weight"
    else:
        score = acts.mean(dim=(1, 2))
        kind = "mean activation"
    score = torch.nan_to_num(score, nan=-math.inf)
    n = min(int(limit), c)
    order = torch.argsort(score, descending=True, stable=True)[:n]
    data, tile = pack_tiles(acts[order], max_side)
    meta = {
        "order": [int(i) for i in order],
        "weights": [float(score[i]) if math.isfinite(float(score[i])) else 0.0 for i in order],
        "tile": tile,
        "total": int(c),
        "weight_kind": kind,
    }
    return data, meta


def pack_clusters(maps: Sequence[np.ndarray], max_side: int = MAX_TILE_SIDE) -> tuple[bytes, list[int]]:
    """INV cluster maps (each h × w, raw) → tiles (:func:`pack_tiles`): (bytes, [th, tw])."""
    if not len(maps):
        return b"", [0, 0]
    return pack_tiles(np.stack([np.asarray(m, dtype=np.float32) for m in maps]), max_side)
