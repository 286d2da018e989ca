"""The whole network at a glance: one small map per selectable layer for the same selection.

After the one forward and the one backward of a ``Session`` every layer's activations and
gradients are cached, so a gradient method's map at *every* layer is arithmetic on that cache —
no further pass of the model. ``filmstrip(session, "gradcam++", target=281)`` returns each layer's
map (ReLU'd, float32), resized to a common thumbnail size, in depth order.

The selection carries over from the layer it was made on: a ``region`` (on ``region_layer``'s
grid) is rescaled to each layer's grid (the same fraction of the image, at least one cell);
``channels`` index one layer's feature maps only, so they apply on ``channels_layer`` and every
other layer uses all of its feature maps.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import gradients as gradients_
from .methods import weighted_sum
from .subsets import channel_index

#: Methods whose map at any layer is arithmetic on the cached activations and gradients.
CACHED_METHODS = (
    "gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "gradcam-elementwise", "eigengradcam",
)
#: A thumbnail's side in pixels.
THUMB = 16


@dataclass(frozen=True)
class Filmstrip:
    """Every layer's map for one selection: ``maps`` is L × size × size float32 (depth order)."""

    layers: list[str]
    maps: np.ndarray
    method: str
    target: int
    blank: list[bool]


def scale_region(region: Sequence[int], source: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int, int, int]:
    """A half-open ``(row0, col0, row1, col1)`` on the ``source`` grid → the same part of ``grid``."""
    r0, c0, r1, c1 = (int(v) for v in region)
    (sh, sw), (h, w) = source, grid
    rows = int(np.floor(r0 * h / sh)), int(np.ceil(r1 * h / sh))
    cols = int(np.floor(c0 * w / sw)), int(np.ceil(c1 * w / sw))
    row0, col0 = min(rows[0], h - 1), min(cols[0], w - 1)
    return row0, col0, max(rows[1], row0 + 1), max(cols[1], col0 + 1)


def filmstrip(
    session: Any,
    method: str = "gradcam++",
    target: Any = None,
    *,
    region: Sequence[int] | None = None,
    region_layer: str | None = None,
    channels: Sequence[int] | None = None,
    channels_layer: str | None = None,
    layers: Sequence[str] | None = None,
    size: int = THUMB,
) -> Filmstrip:
    """Each layer's ``method`` map for ``target`` (a class index or name, a camwidget Target; default:
    the top class), as size × size thumbnails.

    ``method`` is one of :data:`CACHED_METHODS`; ``layers`` defaults to every selectable layer.
    """
    if method not in CACHED_METHODS:
        raise ValueError(f"method: {method!r} has no filmstrip (it is not arithmetic on the cache); valid: {', '.join(CACHED_METHODS)}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 64:
        raise ValueError(f"size: expected an integer from 1 to 64, got {size!r}")
    infos = [session.layer_info(name) for name in layers] if layers is not None else list(session.layers)
    source = session.layer_info(region_layer).grid if region is not None else None
    target = session.resolve_target(target)  # once: a class index or a Target, the same at every layer
    names, thumbs, blank = [], [], []
    grads = None
    direct = _DIRECT.get(method)
    if direct is not None:
        # every layer's gradient in one look-up (and one backward for those not done yet): a
        # per-layer ``session.gradients`` re-measures the cached gradients each time
        grads = gradients_.all_gradients(session, target)
    for info in infos:
        r = None if region is None or source is None else scale_region(region, source, info.grid)
        subset = channels if channels is not None and info.name == channels_layer else None
        if direct is not None and grads is not None:
            values = direct(session, info, target, subset, r, gradients=grads[info.name])
            is_blank = not bool((values > 0).any())
        else:
            e = session.explain(method, layer=info.name, target=target, channels=subset, region=r)
            values, is_blank = torch.from_numpy(np.ascontiguousarray(e.map, dtype=np.float32)), bool(e.blank)
        t = values.float()[None, None]
        # Area-average when shrinking (a 112 × 112 map), bilinear when growing (7 × 7).
        mode = "area" if t.shape[-1] >= size and t.shape[-2] >= size else "bilinear"
        kw = {"align_corners": False} if mode == "bilinear" else {}
        thumbs.append(F.interpolate(t, size=(size, size), mode=mode, **kw)[0, 0])
        names.append(info.name)
        blank.append(is_blank)
    maps = torch.stack(thumbs).numpy() if thumbs else np.zeros((0, size, size), np.float32)
    return Filmstrip(layers=names, maps=maps, method=method, target=_class_or_none(target), blank=blank)


def _class_or_none(target: Any) -> int:
    """The class a (resolved) target scores; -1 for a custom score or none."""
    from .targets import class_index

    index = None if target is None else class_index(target)
    return -1 if index is None else int(index)


_TWO = torch.tensor(2.0, dtype=torch.float64)


def _gradcampp_map(
    session: Any, info: Any, target: Any, channels: Sequence[int] | None, region: Any,
    gradients: torch.Tensor | None = None,
) -> torch.Tensor:
    """Grad-CAM++ at one layer through the identity α·ReLU(g) = ReLU(g) / (2 + S_k·ReLU(g)).

    With D2 = g² and D3 = g³, α = g² / (2g² + S_k g³) = 1 / (2 + S_k g) wherever g ≠ 0 (S_k = Σ A_k),
    and α = 0 where g = 0 or the denominator vanishes — the engine's formula (methods/gradcam.py),
    which spells out the powers and masks. Here: no powers and no masks (where g ≤ 0 the numerator
    ReLU(g) is 0 and the denominator 2), four in-place passes over the region's gradients only.
    The passes stay in float64 as the engine's: where S_k < 0 the denominator 2 + S_k·g comes
    close to 0 and float32 moves maps of the default model by up to 0.6 % of their peak (float64
    here agrees with the engine to rounding). Only where a denominator is exactly 0 (a weight comes
    out infinite or NaN) does the layer take the masked path. tests/test_filmstrip.py checks both
    agree. ``gradients``: the layer's, when the caller has them.
    """
    activations = session.activations(info.name)
    g = session.gradients(info.name, target) if gradients is None else gradients
    total = activations.sum(dim=(1, 2), dtype=torch.float64)[:, None, None]
    if region is not None:
        r0, c0, r1, c1 = region
        g = g[:, r0:r1, c0:c1]
    positive = g.to(torch.float64, copy=True).clamp_(min=0)
    weights = positive.div_(torch.addcmul(_TWO, positive, total)).sum(dim=(1, 2))
    if not bool(torch.isfinite(weights).all()):
        weights = _masked_weights(g.double(), total)
    index = channel_index(channels, info.channels) if channels is not None else None
    return weighted_sum(activations, weights.float(), index)


def _gradcam_map(
    session: Any, info: Any, target: Any, channels: Sequence[int] | None, region: Any,
    gradients: torch.Tensor | None = None,
) -> torch.Tensor:
    """Grad-CAM at one layer, as ``methods/gradcam.py`` computes it (w_k = the mean of g_k over the
    grid or the region's neurons), without an explanation object per layer."""
    activations = session.activations(info.name)
    g = session.gradients(info.name, target) if gradients is None else gradients
    if region is not None:
        r0, c0, r1, c1 = region
        g = g[:, r0:r1, c0:c1]
    index = channel_index(channels, info.channels) if channels is not None else None
    return weighted_sum(activations, g.mean(dim=(1, 2)), index)


def _masked_weights(g: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """Σ_ij ReLU(g) / (2 + S_k g) with 0 where the denominator vanishes (the rare exact case)."""
    denominator = 2 + total * g
    positive = (g > 0) & (denominator != 0)
    safe = torch.where(positive, denominator, torch.ones_like(denominator))
    return torch.where(positive, g / safe, torch.zeros_like(g)).sum(dim=(1, 2))


#: The methods the filmstrip computes here from one look-up of every gradient (the rest go
#: through ``session.explain`` layer by layer).
_DIRECT = {"gradcam": _gradcam_map, "gradcam++": _gradcampp_map}
