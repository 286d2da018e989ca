"""Feature-map subsets (channels) and neuron regions, validated against a layer's shape."""
from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import torch

Region = Union[tuple[int, int, int, int], np.ndarray, torch.Tensor, None]
Channels = Union[Sequence[int], np.ndarray, None]


def _integer(value: Any) -> int | None:
    """``value`` as a Python int when it is an integer (Python, numpy, or a one-element integer
    tensor / 0-d array is *not* accepted: say what you mean), else None. Booleans are not integers."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return None


def _coordinate(value: Any) -> int | None:
    """A region coordinate: an integer, or a float (Python or numpy) with an integral finite value."""
    found = _integer(value)
    if found is not None:
        return found
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def channel_index(channels: Channels, count: int) -> torch.Tensor | None:
    """Sorted unique channel indices as a LongTensor, or None for all channels.

    ``channels`` is a list or tuple of integers, or a 1-D integer numpy array or tensor; a bare
    integer (or a 0-d array / tensor), a string, booleans and floats are refused.
    """
    if channels is None:
        return None
    if isinstance(channels, (np.ndarray, torch.Tensor)):
        if channels.ndim != 1:
            raise TypeError(
                f"channels: expected a 1-D list of channel indices, got a {channels.ndim}-D "
                f"{type(channels).__name__}; wrap a single index in a list: [3]"
            )
        kind = str(channels.dtype)
        if channels.dtype in (torch.bool, np.bool_) or not ("int" in kind):
            raise TypeError(f"channels: indices must be integers, got dtype {kind}")
        values: list[Any] = [int(v) for v in channels.tolist()]
    elif isinstance(channels, (list, tuple, range)):
        values = list(channels)
    else:
        raise TypeError(
            f"channels: expected a list of channel indices (or None for all), got {type(channels).__name__}"
            + ("; wrap a single index in a list: [3]" if _integer(channels) is not None or
               isinstance(channels, torch.Tensor) else "")
        )
    if not values:
        raise ValueError(f"channels: the list is empty; give indices in 0..{count - 1}, or None for all")
    ints = [_integer(v) for v in values]
    bad_type = [v for v, i in zip(values, ints) if i is None]
    if bad_type:
        raise TypeError(f"channels: indices must be integers, got {bad_type[:3]!r}")
    indices = [i for i in ints if i is not None]  # all of them (checked above)
    bad = [v for v in indices if not 0 <= v < count]
    if bad:
        raise ValueError(f"channels: {bad[:5]} out of range; this layer has channels 0..{count - 1}")
    return torch.tensor(sorted(set(indices)), dtype=torch.long)


def region_mask(region: Region, grid: tuple[int, int]) -> torch.Tensor | None:
    """A boolean h × w mask for ``region`` (half-open rectangle or mask), or None for the whole grid.

    A rectangle is a tuple, list or 1-D array of four integers ``(row0, col0, row1, col1)``
    (integral floats are accepted; fractions, NaN, infinities and booleans are not); a mask is a
    2-D boolean numpy array or tensor of the grid's shape.
    """
    if region is None:
        return None
    h, w = grid
    expected = f"expected (row0, col0, row1, col1) integers or a boolean {h}×{w} mask"
    if isinstance(region, (np.ndarray, torch.Tensor)) and region.ndim == 2:
        mask = torch.as_tensor(region) if isinstance(region, np.ndarray) else region.detach()
        if mask.dtype != torch.bool:
            raise TypeError(f"region: a mask must be boolean, got dtype {mask.dtype}")
        if tuple(mask.shape) != (h, w):
            raise ValueError(f"region: mask shape {tuple(mask.shape)} does not match the layer's grid {(h, w)}")
        if not bool(mask.any()):
            raise ValueError("region: the mask selects no neuron; select at least one cell")
        return mask.cpu().clone()
    if isinstance(region, (np.ndarray, torch.Tensor)):
        if region.ndim != 1:
            raise TypeError(f"region: {expected}, got a {region.ndim}-D {type(region).__name__}")
        values = region.tolist()
    elif isinstance(region, (tuple, list)):
        values = list(region)
    else:
        raise TypeError(f"region: {expected}, got {type(region).__name__}")
    coords = [_coordinate(v) for v in values]
    if len(values) != 4 or any(c is None for c in coords):
        raise TypeError(f"region: {expected}, got {region!r}")
    r0, c0, r1, c1 = [c for c in coords if c is not None]  # all four (checked above)
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
