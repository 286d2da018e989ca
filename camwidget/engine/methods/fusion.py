"""Fusion of layers (LayerCAM, Jiang et al. 2021; torchcam's ``fuse_cams``): one map from several layers.

    M = max over layers ℓ of  s(normalise(upsample(M_ℓ)))

each layer's map upsampled to the image (bilinear) and min-max normalised to [0, 1]; the
element-wise max over layers. ``gamma`` (None by default) turns on LayerCAM's scaling
s(M) = tanh(γ · M / max M) (the paper's γ = 2), which lifts the weak maps of shallow layers.
torchcam resizes to the largest layer's grid instead of the image; up to that resolution the two
agree.

``session.explain(method, layer=[l1, l2, ...])`` and ``fuse(session, method, layers)`` return one
:class:`~camwidget.engine.explanation.Explanation` at image resolution (``layer`` = the names joined
by " + ", ``params["layers"]`` the list, ``params["maps"]`` the per-layer explanations). Channel
subsets and regions belong to one layer's grid, so with several layers they are refused. Methods
whose map is not one layer's map (:data:`NOT_FUSED`: CAM, SeCAM, LIME, INV) are refused too.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..explanation import Explanation, normalise, resize

#: Methods whose maps cannot be fused across layers, and why (the refusal says it).
NOT_FUSED = {
    "cam": "CAM is defined at the layer that feeds global average pooling only",
    "secam": "SeCAM's map is a superpixel selection at image resolution, not a layer's map",
    "lime": "LIME's map does not come from a layer",
    "inv": "INV's clusters belong to one layer (a cluster index means nothing at another)",
}


def check_fusable(method: str) -> None:
    """Refuse (ValueError naming ``layer``) a method whose maps cannot be fused across layers."""
    reason = NOT_FUSED.get(str(method).lower())
    if reason is not None:
        raise ValueError(f"layer: {method!r} cannot fuse several layers ({reason}); give one layer, "
                         f"or fuse a layer-wise method such as 'layercam' or 'gradcam'")


def fused(maps: Sequence[np.ndarray], size: tuple[int, int], gamma: float | None = None) -> np.ndarray:
    """The element-wise max of the maps upsampled to ``size`` and normalised (tanh-scaled if ``gamma``)."""
    result = None
    for map_ in maps:
        scaled = normalise(resize(np.asarray(map_, dtype=np.float32), size))
        if gamma is not None:
            peak = float(scaled.max())
            scaled = np.tanh(gamma * scaled / peak).astype(np.float32) if peak > 0 else scaled
        result = scaled if result is None else np.maximum(result, scaled)
    if result is None:
        raise ValueError("layer: give at least one layer to fuse")
    return result


def fuse(session, method: str, layers: Sequence[str], target: Any = None, channels: Any = None,
         region: Any = None, gamma: float | None = None, **params: Any) -> Explanation:
    """Explain ``target`` with ``method`` at every layer of ``layers`` and fuse the maps (see module doc)."""
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError("layer: to fuse layers give a non-empty list of layer names, e.g. ['blocks.4', 'blocks.5']")
    check_fusable(method)
    if channels is not None or region is not None:
        raise ValueError("channels: channel subsets and regions belong to one layer; with several layers leave them None")
    if gamma is not None and (isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0):
        raise ValueError(f"gamma: LayerCAM's scaling needs a number > 0 (the paper uses 2), or None; got {gamma!r}")
    explanations = [session.explain(method, layer=name, target=target, **params) for name in layers]
    names = [e.layer for e in explanations]
    if len(set(names)) != len(names):
        raise ValueError(f"layer: {names} names a layer twice")
    size = tuple(session.image.shape[:2])
    first = explanations[0]
    return Explanation(
        map=fused([e.map for e in explanations], size, gamma),
        weights=None,
        method=first.method,
        layer=" + ".join(names),
        target=first.target,
        resolved_target=first.resolved_target,
        image_size=size,
        class_name=first.class_name,
        params={**first.params, "layers": names, "gamma": gamma, "maps": explanations},
        source=session.token,
    )
