"""Token layers: a vision transformer's outputs seen as C × h × w feature maps.

A layer output is *spatial* in one of four layouts:

- ``"NCHW"``: a convolutional feature map, B × C × h × w (used as it is);
- ``"tokens"``: B × N × C with N = p + h·w, the p *prefix tokens* (class token, distillation
  token, register tokens) first and then the h × w patch grid of the input in row-major order
  (ViT, DeiT) — the prefix is dropped and the patches become B × C × h × w;
- ``"NHWC"``: B × h × w × C (Swin) — permuted to B × C × h × w;
- ``"reshape"``: whatever a user's ``reshape`` callable makes of the output (see :func:`custom`).

Which layout, and the grid, are read from the output's shape and the model input's H × W: a grid
h × w "fits the input" when both are ≥ 2 and the two strides H / h and W / w agree within 25 %.
A 4-D output is NCHW unless only its dimensions 1, 2 fit the input (then NHWC); a 3-D output is
tokens when some p of :data:`PREFIXES` leaves N − p tokens that factor into a grid whose strides
agree within 5 % (the smallest such p wins).

The capture hooks (``capture.capture``) make the grid a node of the autograd graph: the module's
output becomes ``grid = to_grid(output)`` and the module hands ``from_grid(grid, output)``
downstream — the same values, but computed *from the grid* — so ∂ score / ∂ grid is exactly the
gradient at the patch tokens (the prefix tokens pass through unchanged), and every method works
on it as on a convolutional feature map. pytorch-grad-cam's ``reshape_transform`` does the same
selection by hand, applied to activations and gradients alike.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

#: How many prefix tokens a token layer may have: none, a class token, class + distillation
#: tokens, each with 4, 8 or 16 register tokens (DeiT, ViT-reg, DINOv2-reg), and small counts.
PREFIXES = (0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 16, 17, 18)
#: How far the two strides H / h and W / w may differ: feature maps (rounding of strided
#: convolutions) and token grids (patches tile the input).
MAP_TOLERANCE, TOKEN_TOLERANCE = 1.25, 1.05
LAYOUTS = ("NCHW", "tokens", "NHWC", "reshape")

Reshape = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class Layout:
    """How one layer's raw output maps to B × C × h × w, and back."""

    kind: str = "NCHW"
    #: prefix tokens dropped (``"tokens"`` only)
    prefix: int = 0
    #: the patch grid (h, w) of a ``"tokens"`` layout
    grid: tuple[int, int] | None = None
    #: for ``"reshape"``: the flat position in one sample's raw output of each grid element
    index: torch.Tensor | None = None
    #: (C, h, w) for ``"reshape"``
    shape: tuple[int, int, int] | None = None

    def to_grid(self, raw: torch.Tensor) -> torch.Tensor:
        """B × C × h × w from the raw output (a view or a gather: differentiable)."""
        if self.kind == "NCHW":
            return raw
        if self.kind == "NHWC":
            return raw.permute(0, 3, 1, 2)
        if self.kind == "tokens":
            assert self.grid is not None  # (every token layout has its grid)
            b, _, c = raw.shape
            h, w = self.grid
            return raw[:, self.prefix:, :].transpose(1, 2).reshape(b, c, h, w)
        assert self.index is not None and self.shape is not None  # (every reshape layout has both)
        b = raw.shape[0]
        return raw.reshape(b, -1)[:, self.index.to(raw.device)].reshape(b, *self.shape)

    def from_grid(self, grid: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """A tensor equal to ``raw`` whose grid elements are computed from ``grid``."""
        if self.kind == "NCHW":
            return grid
        if self.kind == "NHWC":
            return grid.permute(0, 2, 3, 1)
        if self.kind == "tokens":
            patches = grid.flatten(2).transpose(1, 2)
            return torch.cat([raw[:, :self.prefix, :], patches], dim=1) if self.prefix else patches
        assert self.index is not None
        b = raw.shape[0]
        flat = raw.reshape(b, -1).index_copy(1, self.index.to(raw.device), grid.reshape(b, -1))
        return flat.reshape(raw.shape)

    def grid_shape(self, raw_shape: torch.Size | tuple[int, ...]) -> tuple[int, int, int]:
        """(C, h, w) of the grid for a raw output of ``raw_shape`` (batch first)."""
        if self.kind == "reshape":
            assert self.shape is not None
            return self.shape
        if self.kind == "tokens":
            assert self.grid is not None
            return int(raw_shape[2]), self.grid[0], self.grid[1]
        if self.kind == "NHWC":
            return int(raw_shape[3]), int(raw_shape[1]), int(raw_shape[2])
        return int(raw_shape[1]), int(raw_shape[2]), int(raw_shape[3])


def fits(h: int, w: int, input_hw: tuple[int, int], tolerance: float = MAP_TOLERANCE) -> bool:
    """Whether an h × w grid is a (strided) grid of an input of ``input_hw`` = (H, W)."""
    if h < 2 or w < 2 or h > input_hw[0] or w > input_hw[1]:
        return False
    sh, sw = input_hw[0] / h, input_hw[1] / w
    return max(sh, sw) / min(sh, sw) <= tolerance


def _factor(n: int, input_hw: tuple[int, int]) -> tuple[int, int] | None:
    """The h × w = n grid that fits the input best, or None."""
    best = None
    for h in range(2, n // 2 + 1):
        if n % h:
            continue
        w = n // h
        if fits(h, w, input_hw, TOKEN_TOLERANCE):
            sh, sw = input_hw[0] / h, input_hw[1] / w
            badness = max(sh, sw) / min(sh, sw)
            if best is None or badness < best[0]:
                best = (badness, (h, w))
    return None if best is None else best[1]


def detect(shape: tuple[int, ...], input_hw: tuple[int, int]) -> Layout | None:
    """The layout of an output of ``shape`` (batch first) for a model input of H × W, or None."""
    if len(shape) == 4:
        _, a, b, c = shape
        if fits(a, b, input_hw) and not fits(b, c, input_hw):
            return Layout("NHWC")
        return Layout("NCHW") if b * c > 1 else None
    if len(shape) == 3:
        n = int(shape[1])
        for prefix in (p for p in PREFIXES if n - p >= 4):
            grid = _factor(n - prefix, input_hw)
            if grid is not None:
                return Layout("tokens", prefix, grid)
    return None


def custom(reshape: Reshape, sample_shape: tuple[int, ...]) -> Layout:
    """The layout a user's ``reshape`` callable defines on outputs of ``sample_shape`` (batch first).

    ``reshape`` maps a raw output (batch first) to B × C × h × w and may only *select and
    rearrange* elements (drop tokens, reshape, transpose, permute) — as pytorch-grad-cam's
    ``reshape_transform`` functions do. It is run once on a tensor of element positions, which
    tells where each grid element comes from; a ValueError says what is wrong otherwise.
    """
    count = 1
    for s in sample_shape[1:]:
        count *= int(s)
    probe = torch.arange(count, dtype=torch.float64).reshape(1, *sample_shape[1:])
    out = reshape(probe)
    if not isinstance(out, torch.Tensor) or out.dim() != 4 or out.shape[0] != 1:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"reshape: must return a B × C × h × w tensor for an output of shape {tuple(sample_shape)}, "
            f"returned {got}"
        )
    positions = out.reshape(-1)
    index = positions.round().long()
    if (
        not torch.equal(index.double(), positions)
        or int(index.min()) < 0 or int(index.max()) >= count
        or index.unique().numel() != index.numel()
    ):
        raise ValueError(
            "reshape: may only select and rearrange the output's elements (drop prefix tokens, "
            "reshape, transpose, permute), each at most once; it computed new values"
        )
    c, h, w = (int(s) for s in out.shape[1:])
    if h * w <= 1:
        raise ValueError(f"reshape: returned a {c}×{h}×{w} grid; a spatial layer needs h·w > 1")
    return Layout("reshape", index=index, shape=(c, h, w))
