"""CAM (Zhou et al. 2016): the classifier's weights on a global-average-pooling → linear head."""
from __future__ import annotations

import torch
from torch import nn

from .. import targets
from ..guards import check_cam_weights
from . import MethodSpec, Result, register, weighted_sum


class NoCamHead(ValueError):
    """The model has no global-average-pooling → linear head, so CAM is undefined."""


def head(session) -> tuple[str, torch.Tensor]:
    """``(layer, W)``: the layer that feeds GAP → linear, and the linear layer's weight (classes × C).

    Verified numerically, once per session: the logits must equal W · mean_ij(A) + b.
    """
    return session.cached(("cam", "head"), lambda: _find_head(session))


def _find_head(session) -> tuple[str, torch.Tensor]:
    advice = "use method='gradcam' instead (it equals CAM on such networks and works everywhere)"
    logits = session.logits
    linears = [m for m in session.model.modules() if isinstance(m, nn.Linear) and m.out_features == logits.numel()]
    last = session.all_layers[-1]
    if not linears:
        raise NoCamHead(f"method='cam': the model has no final linear layer with {logits.numel()} outputs; {advice}")
    fc = linears[-1]
    if fc.in_features != last.channels:
        raise NoCamHead(
            f"method='cam': the classifier takes {fc.in_features} features but the last spatial layer "
            f"{last.name!r} has {last.channels} channels, so the head is not GAP → linear; {advice}"
        )
    if last not in session.layers:
        raise NoCamHead(f"method='cam': needs layer {last.name!r}, which this session's layers= left out")
    activations = session.activations(last.name)
    with torch.no_grad():
        predicted = fc(activations.mean(dim=(1, 2))[None].to(fc.weight.dtype))[0]
    scale = float(logits.abs().max()) + 1e-6
    if not torch.allclose(predicted.float(), logits.float(), rtol=1e-3, atol=1e-3 * scale):
        raise NoCamHead(
            f"method='cam': the logits are not a linear function of the spatial mean of {last.name!r} "
            f"(there is more than GAP → linear between them); {advice}"
        )
    return last.name, fc.weight.detach()


def head_class(target) -> int:
    """The class whose head weights CAM uses; a ValueError for a target that scores no class."""
    return targets.logit_index(target, "CAM")


def _cam_layer(session) -> str:
    return head(session)[0]


def _cam(session, layer, target, channels, region) -> Result:
    name, weight = head(session)
    if layer.name != name:
        raise ValueError(
            f"layer: CAM is defined only at the layer that feeds global average pooling ({name!r}); "
            f"got {layer.name!r} — use 'gradcam' for other layers"
        )
    # The gradient of a GAP → linear head is W[c, k] / (h·w) at every neuron, so a neuron region
    # leaves CAM's weights unchanged: the region is accepted and has no effect.
    index = head_class(target)
    weights = weight[index].to(session.activations(name).dtype)
    check_cam_weights(weights, index, session.class_name(target))  # a constant score: say so
    return Result(weighted_sum(session.activations(name), weights, channels), weights)


register(MethodSpec(
    "cam", "CAM", _cam, default_layer=_cam_layer,
    description="Zhou et al. 2016: the linear classifier's weights on a GAP → linear head.",
))
