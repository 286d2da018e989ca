"""Grad-CAM and Grad-CAM++ (and the shared Grad-CAM++ weighting Smooth Grad-CAM++ reuses)."""
from __future__ import annotations

import torch

from . import MethodSpec, Result, register, weighted_sum


def gradcam_weights(gradients: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """w_k = mean of g_k over the grid, or over the neurons of ``region`` only."""
    if region is None:
        return gradients.mean(dim=(1, 2))
    return gradients[:, region].mean(dim=1)


def gradcampp_weights(
    activations: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    d3: torch.Tensor,
    region: torch.Tensor | None,
) -> torch.Tensor:
    """Grad-CAM++ weights in the paper's index structure, from 1st, 2nd and 3rd derivatives.

    α_kij = D2 / (2·D2 + (Σ_ab A_kab)·D3), α = 0 where D2 = 0 (or the denominator vanishes);
    w_k = Σ_{ij ∈ region} α_kij · ReLU(D1_kij). Plain Grad-CAM++ passes D2 = g², D3 = g³.
    """
    total = activations.sum(dim=(1, 2), keepdim=True)
    denominator = 2 * d2 + total * d3
    valid = (d2 != 0) & (denominator != 0)
    alpha = torch.where(valid, d2 / torch.where(valid, denominator, torch.ones_like(denominator)), torch.zeros_like(d2))
    contributions = alpha * torch.relu(d1)
    if region is None:
        return contributions.sum(dim=(1, 2))
    return contributions[:, region].sum(dim=1)


def _gradcam(session, layer, target, channels, region) -> Result:
    activations = session.activations(layer.name)
    weights = gradcam_weights(session.gradients(layer.name, target), region)
    return Result(weighted_sum(activations, weights, channels), weights)


def _gradcampp(session, layer, target, channels, region) -> Result:
    activations = session.activations(layer.name)
    g = session.gradients(layer.name, target).double()
    weights = gradcampp_weights(activations.double(), g, g**2, g**3, region).float()
    return Result(weighted_sum(activations, weights, channels), weights)


register(MethodSpec(
    "gradcam", "Grad-CAM", _gradcam,
    description="Selvaraju et al. 2017: channel weights = spatial mean of the gradient.",
))
register(MethodSpec(
    "gradcam++", "Grad-CAM++", _gradcampp,
    description="Chattopadhyay et al. 2018: α-weighted positive gradients (the paper's formula).",
))
