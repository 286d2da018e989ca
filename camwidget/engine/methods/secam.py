"""SeCAM (Nguyen, Cao et al. 2021/2022): CAM averaged over superpixels at image resolution.

1. CAM of the target at the layer feeding the GAP → linear head (the classifier's weights);
   where the network has no such head (e.g. VGG16), Grad-CAM weights at the deepest spatial
   layer. ReLU, bilinear upsample to the image, min-max normalise to [0, 1].
2. Superpixels of the image (``engine/segments.py``; SLIC by default).
3. Segment score = mean of the upsampled CAM over the segment's pixels (``np.bincount``).
4. Selection: the top-k segments, or every segment scoring ≥ threshold · max when ``threshold``
   is given (then ``k`` is unused). Only segments with a positive score are ever selected, so an
   all-zero CAM selects nothing (as LIME's ``positive_only`` does for non-positive weights).

Subsets: ``channels`` restricts the CAM's sum (weights unchanged), as for CAM. ``region``: CAM's
weights do not depend on a neuron region (the gradient of a GAP → linear head is W/(h·w) at every
neuron), so with CAM weights a region is accepted and has no effect; with Grad-CAM weights (no
CAM head, or another layer chosen explicitly) the weights come from the region's neurons, as for
Grad-CAM.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import segments as segments_
from ..explanation import normalise, resize
from . import MethodSpec, Result, register, weighted_sum
from .cam import NoCamHead, head, head_class
from .gradcam import gradcam_weights


def _head_or_none(session) -> tuple[str, torch.Tensor] | None:
    try:
        return head(session)
    except NoCamHead:
        return None


def _secam_layer(session) -> str:
    found = _head_or_none(session)
    return found[0] if found is not None else session.default_layer


def cam_upsampled(session, layer, target, channels, region) -> tuple[np.ndarray, torch.Tensor, str]:
    """``(cam, weights, source)``: the CAM at image resolution in [0, 1], its channel weights and
    where they came from (``"cam"`` or ``"gradcam"``)."""
    activations = session.activations(layer.name)
    found = _head_or_none(session)
    if found is not None and found[0] == layer.name:
        weights, source = found[1][head_class(target)].to(activations.dtype), "cam"
    else:
        weights, source = gradcam_weights(session.gradients(layer.name, target), region), "gradcam"
    coarse = weighted_sum(activations, weights, channels).float().cpu().numpy()
    return normalise(resize(coarse, tuple(session.image.shape[:2]))), weights, source


def segment_scores(cam: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean of ``cam`` over each segment's pixels (labels ``0 … n-1``), float64 of length n."""
    if cam.shape != segments.shape:
        raise ValueError(f"segments: shape {segments.shape} does not match the map's {cam.shape}")
    labels = segments.ravel()
    sums = np.bincount(labels, weights=cam.ravel().astype(np.float64))
    sizes = np.bincount(labels, minlength=sums.size)
    return sums / np.maximum(sizes, 1)


def select(scores: np.ndarray, k: int, threshold: float | None) -> np.ndarray:
    """Indices of the selected segments, best first; only positive scores qualify."""
    order = np.argsort(-scores, kind="stable")
    if threshold is None:
        if k > scores.size:
            raise ValueError(f"k: {k} is larger than the number of segments ({scores.size}); choose k <= {scores.size}")
        chosen = order[:k]
    else:
        chosen = order[scores[order] >= threshold * scores.max()]
    return chosen[scores[chosen] > 0]


def explain_segments(session, layer, target, channels, region, segments: np.ndarray, k: int = 5,
                     threshold: float | None = None) -> Result:
    """SeCAM on given superpixels (labels ``0 … n-1`` at image resolution)."""
    segments = np.asarray(segments)
    if segments.shape != session.image.shape[:2] or not np.issubdtype(segments.dtype, np.integer):
        raise ValueError(f"segments: expected integer labels of the image's shape {session.image.shape[:2]}")
    return _explain(session, layer, target, channels, region, segments_.relabel(segments), k, threshold)


def _explain(session, layer, target, channels, region, segments, k, threshold) -> Result:
    cam, weights, source = cam_upsampled(session, layer, target, channels, region)
    scores = segment_scores(cam, segments)
    chosen = select(scores, k, threshold)
    selected = np.zeros(scores.size, dtype=bool)
    selected[chosen] = True
    return Result(
        map=torch.from_numpy(scores[segments].astype(np.float32)),
        weights=weights,
        mask=selected[segments],
        segments=segments,
        params={
            "k": k, "threshold": threshold, "weights_from": source, "segment_count": int(scores.size),
            "scores": scores.astype(np.float32), "selected": [int(i) for i in chosen],
        },
    )


def _secam(session, layer, target, channels, region, segmenter, n_segments, k, threshold) -> Result:
    labels = segments_.of_session(session, segmenter, n_segments)
    result = _explain(session, layer, target, channels, region, labels, k, threshold)
    result.params.update(segmenter=segmenter, n_segments=None if segmenter == "quickshift" else n_segments)
    return result


register(MethodSpec(
    "secam", "SeCAM", _secam,
    params={
        **segments_.param_schema("slic"),
        "k": {"type": "int", "default": 5, "min": 1, "label": "top k segments"},
        "threshold": {"type": "float", "default": None, "min": 0.0, "max": 1.0, "nullable": True,
                      "label": "threshold × best score (replaces k)"},
    },
    default_layer=_secam_layer,
    needs_graph=False,  # CAM weights; without a CAM head the Grad-CAM weights record the graph then
    prepare=lambda session, params: segments_.start(session, params["segmenter"], params["n_segments"]),
    description="Nguyen, Cao et al. 2021: CAM averaged over superpixels at image resolution; top-k segments.",
))
