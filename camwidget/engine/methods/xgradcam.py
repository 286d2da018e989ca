"""XGrad-CAM (Fu et al. 2020): gradients weighted by each neuron's share of its feature map.

    w_k = Σ_ij (A_kij / Σ_ab A_kab) · g_kij      (w_k = 0 where Σ_ab A_kab = 0)
    M   = ReLU(Σ_{k ∈ K'} w_k A_k)

A neuron region R sums over (i, j) ∈ R only; the normaliser stays the whole map's Σ A, so the
weights of a partition of the grid add up to the full weights. From the cached activations and
gradients: no model pass.
"""
from __future__ import annotations

import torch

from . import MethodSpec, Result, register, weighted_sum


def xgradcam_weights(activations: torch.Tensor, gradients: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """w_k = Σ_{ij ∈ region} (A_kij / Σ_ab A_kab) · g_kij, in float64, 0 where Σ A_k = 0."""
    a, g = activations.double(), gradients.double()
    total = a.sum(dim=(1, 2))
    products = a * g
    summed = products.sum(dim=(1, 2)) if region is None else products[:, region].sum(dim=1)
    safe = torch.where(total != 0, total, torch.ones_like(total))
    return torch.where(total != 0, summed / safe, torch.zeros_like(total)).float()


def _xgradcam(session, layer, target, channels, region) -> Result:
    activations = session.activations(layer.name)
    weights = xgradcam_weights(activations, session.gradients(layer.name, target), region)
    return Result(weighted_sum(activations, weights, channels), weights)


register(MethodSpec(
    "xgradcam", "XGrad-CAM", _xgradcam,
    description="Fu et al. 2020: gradients weighted by each neuron's share of its feature map's sum.",
))
