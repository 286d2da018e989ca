"""EigenCAM (Muhammad & Yeasin 2020) and EigenGrad-CAM: the first principal component of a layer.

EigenCAM takes the activations as hw × K (one row per position, one column per channel), centres
each channel, and projects the rows on the first right singular vector v:

    X = A.reshape(K, hw).T − mean over positions,   X = U S Vᵀ,   M = ReLU((X v).reshape(h, w))

EigenGrad-CAM does the same on g ⊙ A. EigenCAM is class-agnostic (the target does not enter);
EigenGrad-CAM is not.

**The sign.** An SVD's singular vectors are defined up to sign, so ``X v`` and ``−X v`` are both
"the" projection, and the ReLU keeps opposite halves of them. We fix the sign so that the
projection correlates positively with Σ_k A_k (for EigenGrad-CAM with Σ_k g_k A_k); pytorch-grad-cam
keeps whatever sign its SVD returns.

``weights`` are v (sign fixed), so the projection is Σ_k v_k (A_k − μ_k): a channel subset K' sums
over K' only (weights unchanged). A neuron region R computes v (and the centring means) from the
positions in R only, then projects every position — as a region gives Grad-CAM its weights.
"""
from __future__ import annotations

import torch

from . import MethodSpec, Result, register


def first_component(values: torch.Tensor, region: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v, means)`` of K × h × w ``values``: the first right singular vector of the centred hw × K
    matrix (of the positions in ``region`` only, if given), its sign fixing Σ_k values_k."""
    rows = values.double().flatten(1).T  # hw × K
    chosen = rows if region is None else rows[region.flatten().to(rows.device)]
    means = chosen.mean(dim=0)
    v = _top_right_singular_vector(chosen - means)
    projection = (rows - means) @ v
    reference = rows.sum(dim=1)
    if float(((projection - projection.mean()) * (reference - reference.mean())).sum()) < 0:
        v = -v
    return v, means


def _top_right_singular_vector(x: torch.Tensor) -> torch.Tensor:
    """v₁ of x = U S Vᵀ (n × K, float64), from the eigenvectors of the smaller Gram matrix
    (x xᵀ or xᵀ x): an n × n or K × K problem instead of an SVD of x (49 × 1280 at the last layer)."""
    if x.shape[0] < x.shape[1]:
        _, vectors = torch.linalg.eigh(x @ x.T)
        v = x.T @ vectors[:, -1]
    else:
        _, vectors = torch.linalg.eigh(x.T @ x)
        v = vectors[:, -1]
    norm = torch.linalg.vector_norm(v)
    return v / norm if norm > 0 else torch.zeros_like(v)


def eigen_map(values: torch.Tensor, channels: torch.Tensor | None, region: torch.Tensor | None) -> Result:
    """ReLU of the projection on the first principal component (over ``channels`` only, if given)."""
    v, means = first_component(values, region)
    centred = values.double() - means[:, None, None]
    if channels is not None:
        centred, weights = centred[channels], v[channels]
    else:
        weights = v
    projection = torch.einsum("k,khw->hw", weights, centred)
    return Result(torch.relu(projection).to(values.dtype), v.to(values.dtype))


def _eigencam(session, layer, target, channels, region) -> Result:
    return eigen_map(session.activations(layer.name), channels, region)


def _eigengradcam(session, layer, target, channels, region) -> Result:
    activations = session.activations(layer.name)
    return eigen_map(session.gradients(layer.name, target) * activations, channels, region)


register(MethodSpec(
    "eigencam", "EigenCAM", _eigencam,
    description="Muhammad & Yeasin 2020: the first principal component of the activations (class-agnostic).",
))
register(MethodSpec(
    "eigengradcam", "EigenGrad-CAM", _eigengradcam,
    description="EigenCAM on gradient × activation (class-dependent).",
))
