"""Element-wise CAMs: each neuron weighted by its own gradient, no channel weights.

    LayerCAM (Jiang et al. 2021)         M_ij = ReLU(Σ_k ReLU(g_kij) · A_kij)
    HiResCAM (Draelos & Carin 2020)      M_ij = ReLU(Σ_k g_kij · A_kij)
    Grad-CAM element-wise (pytorch-grad-cam's GradCAMElementWise)
                                         M_ij = Σ_k ReLU(g_kij · A_kij)

The sum runs over the chosen channels K' (all by default). ``weights`` — what the feature-map
grid sorts by — are the spatial means of the per-neuron weights: mean_ij ReLU(g_kij) for LayerCAM,
mean_ij g_kij for the other two (HiResCAM with a spatially constant gradient is Grad-CAM × h·w).

**A neuron region R.** The map at (i, j) depends only on the neurons at (i, j), so "computed from
the neurons in R only" means the map inside R, zero outside (and the reported weights are the
means over R). A subset of everything is the full map, as for every method. From the cached
activations and gradients: no model pass.
"""
from __future__ import annotations

import torch

from . import MethodSpec, Result, register


def _terms(activations, gradients, channels, region):
    if channels is not None:
        activations, gradients = activations[channels], gradients[channels]
    return activations, gradients


def _spatial_mean(values: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    return values.mean(dim=(1, 2)) if region is None else values[:, region].mean(dim=1)


def _restricted(map_: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    return map_ if region is None else torch.where(region.to(map_.device), map_, torch.zeros_like(map_))


def elementwise(kind: str, activations: torch.Tensor, gradients: torch.Tensor,
                channels: torch.Tensor | None, region: torch.Tensor | None) -> Result:
    """The map and reported weights of ``kind`` in ("layercam", "hirescam", "gradcam-elementwise")."""
    if kind == "layercam":
        positive = torch.relu(gradients)
        a, g = _terms(activations, positive, channels, region)
        map_ = torch.relu(torch.einsum("khw,khw->hw", g, a))
        weights = _spatial_mean(positive, region)
    elif kind == "hirescam":
        a, g = _terms(activations, gradients, channels, region)
        map_ = torch.relu(torch.einsum("khw,khw->hw", g, a))
        weights = _spatial_mean(gradients, region)
    elif kind == "gradcam-elementwise":
        a, g = _terms(activations, gradients, channels, region)
        map_ = torch.relu(g * a).sum(dim=0)
        weights = _spatial_mean(gradients, region)
    else:
        raise ValueError(f"kind: {kind!r} is unknown; valid: layercam, hirescam, gradcam-elementwise")
    return Result(_restricted(map_, region), weights)


def _method(kind: str):
    def compute(session, layer, target, channels, region) -> Result:
        return elementwise(kind, session.activations(layer.name), session.gradients(layer.name, target), channels, region)

    return compute


register(MethodSpec(
    "layercam", "LayerCAM", _method("layercam"),
    description="Jiang et al. 2021: each neuron weighted by its own positive gradient (fuse layers with layer=[...]).",
))
register(MethodSpec(
    "hirescam", "HiResCAM", _method("hirescam"),
    description="Draelos & Carin 2020: ReLU of the element-wise gradient × activation, summed over channels.",
))
register(MethodSpec(
    "gradcam-elementwise", "Grad-CAM element-wise", _method("gradcam-elementwise"),
    description="pytorch-grad-cam's GradCAMElementWise: the sum over channels of ReLU(gradient × activation).",
))
