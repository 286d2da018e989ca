"""A channels-last copy of a convolutional model: the session's own passes, checked equivalent.

On CPU, oneDNN's convolutions, batch norms and activations run faster on NHWC tensors
(``torch.channels_last``) than on the NCHW layout models are built in: on this project's 2-core
machine a forward with autograd is ~17 % cheaper on EfficientNet-Lite0 and ~10 % on resnet50, a
forward + backward ~15 % / ~9 %. A session's forward with hooks on every layer and its backwards
(``Session.forward_batch``, and so Smooth Grad-CAM++'s single copy and ``explain_dataset``'s
batches) run through such a copy; ``session.model`` stays the caller's model.

The copy is made once per model and version of what it copied (``_survey``): a deep copy that
*shares* every parameter and buffer of the model except its 4-D weights, which it holds in
channels-last layout (resnet50: ~94 MB more; a VGG16's large linear layers are shared). It is
used only where checked: on the first input shape it meets, it must reproduce the model's no-grad
output within 1e-4 of the output's scale (a model whose ``view`` assumes NCHW strides raises or
differs, and keeps the original). The values are the model's, rounded differently (about 1e-6
relative: other kernels sum in another order).

Not used: off CPU, for inputs that are not 4-D float32, for models with fewer than two
convolutions (a vision transformer's patch embedding alone gains nothing), for models with hooks
registered on them (the copy would not call them), and when ``CAMWIDGET_CHANNELS_LAST`` is ``0``.
A forward of the copy that raises is run again on the model, and the copy is not used again.
"""
from __future__ import annotations

import copy
import os
import weakref
from collections.abc import Callable

import torch
from torch import nn

from .capture import training_mode_restored

TOLERANCE = 1e-4  # of the output's largest magnitude
_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def enabled() -> bool:
    """Whether the environment allows the copy (``CAMWIDGET_CHANNELS_LAST`` not ``0``)."""
    return os.environ.get("CAMWIDGET_CHANNELS_LAST", "1").strip() != "0"


def _survey(model: nn.Module) -> tuple[tuple, bool, int]:
    """One walk over the modules: what the copy depends on, whether any module has hooks (the copy
    would not call them), and how many convolutions.

    The copy shares every tensor but the 4-D parameters, so for those only *which* object sits in
    each slot matters (an in-place change, or a new ``.data``, shows through the shared object): their
    ids. For the 4-D parameters, copied, also the storage and the version counter (in-place changes)."""
    signature: list[object] = []
    append, extend = signature.append, signature.extend
    hooked, convolutions = False, 0
    # model.modules() without its names (named_modules builds a string per module: 4× the walk)
    pending, seen = [model], set()
    while pending:
        m = pending.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            hooked = True
        convolutions += isinstance(m, nn.Conv2d)
        for t in m._parameters.values():
            if t is not None:
                append((id(t), t.data_ptr(), t._version) if t.dim() == 4 else id(t))
        extend(id(t) for t in m._buffers.values())
        pending.extend(c for c in m._modules.values() if c is not None)
    return tuple(signature), hooked, convolutions


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy sharing every tensor of ``model`` but its 4-D parameters, held channels-last."""
    own = {id(p) for p in model.parameters() if p.dim() == 4}
    memo: dict[int, object] = {id(t): t for t in (*model.parameters(), *model.buffers()) if id(t) not in own}
    twin = copy.deepcopy(model, memo).eval()
    for module in twin.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # type: ignore[assignment]  # autograd copies an in-place activation's input first: one pass more
        for name, p in list(module.named_parameters(recurse=False)):
            if id(p) not in memo and p.dim() == 4:
                setattr(module, name, nn.Parameter(p.detach().contiguous(memory_format=torch.channels_last),
                                                   requires_grad=False))
    return twin


def _equivalent(model: nn.Module, twin: nn.Module, example: torch.Tensor,
                select: Callable[[object], torch.Tensor]) -> bool:
    with torch.no_grad(), training_mode_restored(model), training_mode_restored(twin):
        expected = select(model(example))
        got = select(twin(example))
    if not isinstance(expected, torch.Tensor) or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return bool(torch.isfinite(got).all()) and float((got - expected).abs().max()) <= TOLERANCE * max(scale, 1e-12)


def twin(model: nn.Module, example: torch.Tensor, select: Callable[[object], torch.Tensor]) -> nn.Module | None:
    """The checked channels-last copy of ``model`` for inputs shaped like ``example`` (``select``
    picks the explained tensor from the model's output), or None where the model itself must run."""
    if not enabled() or example.dim() != 4 or example.dtype != torch.float32 or example.device.type != "cpu":
        return None
    signature, hooked, convolutions = _survey(model)
    if hooked or convolutions < 2:
        return None
    entry = _cache.get(model)
    if entry is None or entry["signature"] != signature:  # new, or a parameter replaced or changed in place
        entry = {"signature": signature, "twin": None, "checked": {}, "failed": False}
        _cache[model] = entry
    if entry["failed"]:
        return None
    shape = tuple(example.shape[1:])
    if shape not in entry["checked"]:
        try:
            candidate = entry["twin"] if entry["twin"] is not None else _copy(model)
            ok = _equivalent(model, candidate, example.detach(), select)
        except Exception:  # a model that cannot be copied or run channels-last keeps its own layout
            ok, candidate = False, None
        entry["checked"][shape] = ok
        if ok:
            entry["twin"] = candidate
    return entry["twin"] if entry["checked"][shape] else None


def failed(model: nn.Module) -> None:
    """Stop using ``model``'s copy (one of its forwards raised where the model's own did not)."""
    entry = _cache.get(model)
    if entry is not None:
        entry["failed"], entry["twin"] = True, None
