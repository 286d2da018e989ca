"""Feature-map subsets (channels) and neuron regions, validated against a layer's shape."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

Region = Union[tuple[int, int, int, int], np.ndarray, torch.Tensor, None]
Channels = Union[Sequence[int], np.ndarray, None]


def channel_index(channels: Channels, count: int) -> torch.Tensor | None:
    """Sorted unique channel indices as a LongTensor, or None for all channels."""
    if channels is None:
        return None
    if isinstance(channels, (int, np.integer)) or isinstance(channels, (str, bytes)):
        raise TypeError(f"channels: expected a list of channel indices, got {type(channels).__name__}")
    values = list(np.asarray(channels).reshape(-1).tolist()) if not isinstance(channels, list) else list(channels)
    if not values:
        raise ValueError(f"channels: the list is empty; give indices in 0..{count - 1}, or None for all")
    bad_type = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
    if bad_type:
        raise TypeError(f"channels: indices must be integers, got {bad_type[:3]!r}")
    bad = [v for v in values if not 0 <= v < count]
    if bad:
        raise ValueError(f"channels: {bad[:5]} out of range; this layer has channels 0..{count - 1}")
    return torch.tensor(sorted(set(int(v) for v in values)), dtype=torch.long)


def region_mask(region: Region, grid: tuple[int, int]) -> torch.Tensor | None:
    """A boolean h × w mask for ``region`` (half-open rectangle or mask), or None for the whole grid."""
    if region is None:
        return None
    h, w = grid
    if isinstance(region, (np.ndarray, torch.Tensor)) and np.ndim(region) == 2:
        mask = torch.as_tensor(np.asarray(region) if isinstance(region, np.ndarray) else region)
        if mask.dtype != torch.bool:
            raise TypeError(f"region: a mask must be boolean, got dtype {mask.dtype}")
        if tuple(mask.shape) != (h, w):
            raise ValueError(f"region: mask shape {tuple(mask.shape)} does not match the layer's grid {(h, w)}")
        if not bool(mask.any()):
            raise ValueError("region: the mask selects no neuron; select at least one cell")
        return mask.cpu()
    try:
        r0, c0, r1, c1 = (int(v) for v in region)  # type: ignore[union-attr]
        if any(isinstance(v, (float, bool)) and float(v) != int(v) for v in region):  # type: ignore[union-attr]
            raise ValueError
    except (TypeError, ValueError):
        raise TypeError(
            f"region: expected (row0, col0, row1, col1) or a boolean {h}×{w} mask, got {region!r}"
        ) from None
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ValueError(
            f"region: {(r0, c0, r1, c1)} is outside or empty on the layer's {h}×{w} grid; need "
            f"0 <= row0 < row1 <= {h} and 0 <= col0 < col1 <= {w} (half-open)"
        )
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[r0:r1, c0:c1] = True
    return mask


def region_as_tuple(mask: torch.Tensor | None) -> tuple[int, int, int, int] | None:
    """The bounding rectangle of a mask (for display), or None."""
    if mask is None:
        return None
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
