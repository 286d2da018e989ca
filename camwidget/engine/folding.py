"""Batch norm folded into the convolution before it: an equivalent copy of a model for batches.

In eval mode ``BatchNorm2d(Conv2d(x))`` is one convolution with scaled weights and a shifted bias
(``torch.nn.utils.fusion.fuse_conv_bn_eval``), which saves a pass over every activation. Smooth
Grad-CAM++ runs its noisy copies through such a copy of the model: the same function, rounded
differently (about 1e-6 relative; the single-copy path keeps the original model, so n = 1, σ = 0
is still Grad-CAM++ bit for bit).

A pair is folded only when it provably computes ``bn(conv(x))`` and nothing else sees the
convolution's output: one traced forward (once per model and parameter version) checks that the
batch norm (exactly ``nn.BatchNorm2d``, eval mode, running statistics) receives the convolution's
output tensor itself, that this tensor has exactly one consumer in the autograd graph, that each
module runs once, and that nothing modifies the tensor in place. Convolutions whose own output
must be captured are left as they are. The copy holds its own (folded) parameters.
"""
from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Collection

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .capture import training_mode_restored

_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _signature(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place (one walk over the
    modules' own tensors: a fifth of what ``parameters()`` + ``buffers()`` cost)."""
    return tuple((t.data_ptr(), t._version) for m in model.modules()
                 for own in (m._parameters, m._buffers) for t in own.values() if t is not None)


def versioned(cache: weakref.WeakKeyDictionary[nn.Module, dict], model: nn.Module,
              fresh: Callable[[], dict]) -> dict:
    """``model``'s entry in ``cache`` (copies made from it), made anew by ``fresh()`` whenever a
    parameter or buffer was replaced or modified in place since."""
    version = _signature(model)
    entry = cache.get(model)
    if entry is None or entry["signature"] != version:
        entry = {"signature": version, **fresh()}
        cache[model] = entry
    return entry


def foldable_pairs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """``(conv name, batch-norm name)`` pairs where the batch norm only ever sees that conv's output."""
    names = {m: n for n, m in model.named_modules()}
    calls: dict[str, int] = {}
    conv_out: dict[str, torch.Tensor] = {}
    bn_in: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        name = names[module]
        calls[name] = calls.get(name, 0) + 1
        if isinstance(module, nn.Conv2d):
            conv_out[name] = output
        elif inputs and isinstance(inputs[0], torch.Tensor):
            bn_in[name] = inputs[0]

    candidates = [
        m for m in model.modules()
        if (isinstance(m, nn.Conv2d) and m.padding_mode == "zeros")
        or (type(m) is nn.BatchNorm2d and m.track_running_stats and m.running_mean is not None)
    ]
    handles = [m.register_forward_hook(hook) for m in candidates]
    try:
        with torch.inference_mode(False), torch.enable_grad(), training_mode_restored(model):
            logits = model(example.detach().clone().requires_grad_(True))
    finally:
        for h in handles:
            h.remove()
    if not isinstance(logits, torch.Tensor) or logits.grad_fn is None:
        return []
    consumers: dict[tuple[object, int], int] = {}
    seen, stack = set(), [logits.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, nr in node.next_functions:
            if nxt is not None:
                consumers[(id(nxt), nr)] = consumers.get((id(nxt), nr), 0) + 1
                stack.append(nxt)
    by_tensor = {id(t): name for name, t in conv_out.items()}
    pairs = []
    for bn_name, x in bn_in.items():
        conv_name = by_tensor.get(id(x))
        if conv_name is None or calls.get(conv_name) != 1 or calls.get(bn_name) != 1:
            continue
        t = conv_out[conv_name]
        if t.grad_fn is None or t._version != 0 or consumers.get((id(t.grad_fn), t.output_nr)) != 1:
            continue
        pairs.append((conv_name, bn_name))
    return pairs


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def folded(model: nn.Module, example: torch.Tensor, keep: Collection[str] = ()) -> nn.Module | None:
    """An eval-mode copy of ``model`` with its foldable conv → batch-norm pairs folded (the convs
    named in ``keep`` excepted), or None when there is nothing to fold. Cached per model."""
    entry = versioned(_cache, model, lambda: {"pairs": foldable_pairs(model, example), "copies": {}})
    pairs = [(c, b) for c, b in entry["pairs"] if c not in keep]
    if not pairs:
        return None
    key = tuple(pairs)
    if key not in entry["copies"]:
        entry["copies"].clear()  # one copy per model: the parameters are large
        twin = copy.deepcopy(model).eval()
        with torch.no_grad():
            for conv_name, bn_name in pairs:
                _set(twin, conv_name, fuse_conv_bn_eval(twin.get_submodule(conv_name), twin.get_submodule(bn_name)))  # type: ignore[type-var, arg-type]
                _set(twin, bn_name, nn.Identity())
        for p in twin.parameters():
            p.requires_grad_(False)
        entry["copies"][key] = twin
    return entry["copies"][key]
