"""Guards of a Session: models it cannot hook, inputs in the model's dtype, values that would
give garbage maps (non-finite logits, activations or gradients; a target score that is constant).

Each guard either passes silently or raises a ``ValueError`` / ``TypeError`` whose message starts
with the argument at fault (``model:``, ``target:``) and says where the problem is.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


def check_model(model: nn.Module) -> None:
    """Refuse TorchScript modules: they cannot take forward hooks, and camwidget needs them."""
    if isinstance(model, torch.jit.ScriptModule):
        how = "traced" if isinstance(model, torch.jit.TopLevelTracedModule) else "scripted"
        raise TypeError(
            f"model: a {how} TorchScript module (torch.jit.{'trace' if how == 'traced' else 'script'}) "
            "cannot be hooked, and camwidget reads each layer's activations through forward hooks; "
            "pass the original torch.nn.Module (the one you scripted or traced) instead"
        )


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The floating dtype of the model's first floating parameter (or buffer), None without one."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):  # lazily: the first one decides
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def as_model_input(x: torch.Tensor, model: nn.Module, device: torch.device) -> torch.Tensor:
    """``x`` on ``device`` and, when it is floating point, in the model's floating dtype (a float64
    or float16 model gets float64 or float16 input from the default float32 preprocess)."""
    dtype = model_dtype(model)
    if dtype is not None and x.is_floating_point() and x.dtype != dtype:
        return x.detach().to(device=device, dtype=dtype)
    return x.detach().to(device)


def _kind(t: torch.Tensor) -> str:
    kinds = [name for name, bad in (("NaN", torch.isnan(t).any()), ("inf", torch.isinf(t).any())) if bool(bad)]
    return " and ".join(kinds)


def _sums(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One sum per floating tensor (in float32 at least), as one vector: a NaN or inf anywhere
    makes its tensor's sum non-finite, and a tensor with a non-zero sum has a non-zero value. One
    read of each tensor — a quarter of what ``isfinite(t).all()`` costs (four passes and two masks)."""
    floating = [t.detach() for t in tensors if t.is_floating_point() and t.numel()]
    if not floating:
        return torch.zeros(0)
    return torch.stack([t.sum(dtype=torch.promote_types(t.dtype, torch.float32)) for t in floating])


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """Whether every value of every tensor is finite. The sums decide when they are finite; only
    when one is not (a NaN or inf, or a sum of finite values that overflowed) does the exact
    elementwise test run."""
    if bool(torch.isfinite(_sums(tensors)).all()):
        return True
    return all(bool(torch.isfinite(t.detach()).all()) for t in tensors if t.is_floating_point())


def _bad_parameters(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.is_floating_point() and not bool(torch.isfinite(p).all())]


def check_forward(model: nn.Module, logits: torch.Tensor, activations: Mapping[str, torch.Tensor],
                  order: Sequence[str]) -> None:
    """ValueError when the logits are NaN or inf, naming the first layer (in depth ``order``) whose
    activations are not finite and the non-finite parameters. Only the logits are read here: a
    captured layer is checked when it is first used (``check_layer``) — an overflow that a later
    clamp hides (ReLU6 of inf) is reported by the layers it reaches, not by the rest."""
    if not all_finite([logits]):
        _refuse(model, logits, activations, order)


def check_layer(model: nn.Module, logits: torch.Tensor, activations: Mapping[str, torch.Tensor],
                order: Sequence[str], name: str) -> None:
    """The same ValueError as ``check_forward`` when layer ``name``'s activations are not finite."""
    if not all_finite([activations[name]]):
        _refuse(model, logits, activations, order)


def _refuse(model: nn.Module, logits: torch.Tensor, activations: Mapping[str, torch.Tensor],
            order: Sequence[str]) -> None:
    first = next((name for name in order if name in activations
                  and not bool(torch.isfinite(activations[name].detach()).all())), None)
    if first is None and bool(torch.isfinite(logits.detach()).all()):
        return
    where = (f"first at layer {first!r} ({_kind(activations[first].detach())} in its activations)"
             if first is not None else "in the logits (every captured layer is finite)")
    bad = _bad_parameters(model)
    cause = (f"; non-finite parameters: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}" if bad
             else "; the parameters are finite, so the input or an operation overflows")
    kind = _kind(logits.detach())
    raise ValueError(f"model: the forward pass gives non-finite values ({f'{kind} in the logits' if kind else 'the logits are finite'}), "
                     f"{where}{cause}")


def scored(target: Any, name: str) -> str:
    """What a target differentiates, for messages: "the logit of class 3 (cat)" for a class index
    or a multi-label class, "the score 'cat in box (0, 0, 4, 4)'" for any other target."""
    from .targets import MultiLabelTarget, Target

    if not isinstance(target, Target) or isinstance(target, MultiLabelTarget):
        index = target.index if isinstance(target, Target) else target
        return f"the logit of class {index} ({name})"
    return f"the score {name!r}"


def check_gradients(gradients: Mapping[str, torch.Tensor], order: Sequence[str], target: Any,
                    name: str) -> None:
    """ValueError naming the first layer whose gradient of ``target``'s score (a class's logit,
    or the target's own score) is not finite, or saying that the score is constant when every
    layer's gradient is exactly zero. ``name``: the target's name (``Session.class_name``)."""
    what = scored(target, name)
    sums = _sums([gradients[layer] for layer in order])
    finite = bool(torch.isfinite(sums).all())
    for layer in [] if finite else order:
        g = gradients[layer]
        if not bool(torch.isfinite(g).all()):
            raise ValueError(
                f"model: the gradient of {what} is not finite ({_kind(g)}) at "
                f"layer {layer!r}; the backward pass overflows there"
            )
    if order and not (finite and bool(sums.any())) and not any(bool(gradients[layer].any()) for layer in order):
        cause = ("e.g. an all-zero classifier head, as in a randomly initialised vision transformer"
                 if what.startswith("the logit") else "the score may ignore the output, or multiply it by zero")
        raise ValueError(
            f"target: {what} does not depend on the image here: its "
            f"gradient is zero at every layer ({cause}), so every gradient map would be blank"
        )


def check_cam_weights(weights: torch.Tensor, target: int, name: str) -> None:
    """ValueError when CAM's classifier weights of ``target`` are all zero (a constant score)."""
    if not bool(weights.any()):
        raise ValueError(
            f"target: the classifier's weights for class {target} ({name}) are all zero, so its score "
            "is constant (e.g. a zero-initialised head) and every CAM of it would be blank"
        )
