"""Explanation: the result of one method on one layer and target, as numpy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def normalise(values: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; a constant array becomes zeros (never a division by zero)."""
    values = np.asarray(values, dtype=np.float32)
    lo, hi = float(values.min()), float(values.max())
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo <= 0:
        return np.zeros_like(values)
    return (values - lo) / (hi - lo)


def resize(map_: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an h × w map to ``size`` = (H, W)."""
    if map_.shape == tuple(size):
        return map_.astype(np.float32, copy=False)
    t = torch.from_numpy(np.ascontiguousarray(map_, dtype=np.float32))[None, None]
    return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)[0, 0].numpy()


@dataclass
class Explanation:
    """One explanation map.

    ``map`` is raw float32 (after ReLU) on the layer's h × w grid, or at image resolution for
    segment methods (SeCAM, LIME). ``weights`` has one value per channel of the layer (None where a
    method has no channel weights). ``blank`` is True when the map is all zeros — e.g. every weight
    negative — which is a result, not an error; ``blank_reason`` says why where the cause is
    structural (the target's gradient is exactly zero at the layer, e.g. a transformer's last block).
    ``target`` is the class index explained, None for a target that scores no single class.
    """

    map: np.ndarray
    weights: np.ndarray | None
    method: str
    layer: str | None
    target: int | None
    image_size: tuple[int, int]
    channels: list[int] | None = None
    region: tuple[int, int, int, int] | None = None
    class_name: str | None = None
    mask: np.ndarray | None = None
    segments: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)
    blank_reason: str | None = None
    #: The target as the session resolved it — a class index or a camwidget Target (multi-label,
    #: segmentation, a custom score) — what metrics score (None: built by hand; ``target`` is used).
    resolved_target: Any = field(default=None, repr=False, compare=False)
    #: The ``Session.token`` of the session that made it (None: built by hand); metrics check it.
    source: str | None = field(default=None, repr=False, compare=False)

    @property
    def blank(self) -> bool:
        return not bool(np.any(self.map > 0))

    def upsampled(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The map bilinearly resized to ``size`` (default: the image's H × W), normalised to [0, 1]."""
        return normalise(resize(self.map, (int(size[0]), int(size[1])) if size else self.image_size))

    def plot(self, ax=None, image: np.ndarray | None = None, alpha: float = 0.5, cmap: str = "jet"):
        """Overlay the map on ``image`` (or alone) with matplotlib; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 4))
        if image is not None:
            ax.imshow(image)
            ax.imshow(self.upsampled(image.shape[:2]), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
        else:
            ax.imshow(self.upsampled(), cmap=cmap, vmin=0, vmax=1)
        if self.mask is not None and image is not None:
            ax.contour(self.mask, levels=[0.5], colors="white", linewidths=1)
        title = f"{self.method} · {self.layer or ''}"
        ax.set_title(f"{title}\n{self.class_name or self.target}", fontsize=9)
        ax.axis("off")
        return ax

    def __repr__(self) -> str:
        shape = "×".join(map(str, self.map.shape))
        return (
            f"Explanation(method={self.method!r}, layer={self.layer!r}, target={self.target}"
            f"{' ' + repr(self.class_name) if self.class_name else ''}, map={shape}"
            f"{', channels=' + str(len(self.channels)) if self.channels else ''}"
            f"{', region=' + str(self.region) if self.region else ''}{', blank' if self.blank else ''})"
        )
