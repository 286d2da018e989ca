"""Forward hooks that capture activations of many layers at once, and are always released."""
from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .tokens import Layout


_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


@contextmanager
def serialised(model: nn.Module) -> Iterator[None]:
    """One captured forward at a time through ``model``: hooks (or wrapped forwards) fire for every
    forward of the module, so two sessions of one model in two threads (two widgets) would record
    each other's activations. Sessions of different models run in parallel."""
    with _locks_lock:
        lock = _locks.setdefault(model, threading.RLock())
    with lock:
        yield


@contextmanager
def training_mode_restored(model: nn.Module) -> Iterator[None]:
    """Run the body in eval mode and put every module's own train/eval flag back afterwards."""
    training = [m for m in model.modules() if getattr(m, "training", False)]  # (frozen TorchScript: none)
    try:
        for m in training:
            m.training = False
        yield
    finally:
        for m in training:
            m.training = True


@contextmanager
def capture(
    model: nn.Module,
    names: list[str],
    copy: Collection[str] | None = None,
    graph_from_first: bool = False,
    layouts: Mapping[str, Layout] | None = None,
    private: bool = False,
) -> Iterator[dict[str, torch.Tensor]]:
    """Hook the named modules; the yielded dict fills with their outputs during a forward.

    The modules in ``copy`` (default: all) hand a *clone* of their output downstream, so an
    in-place operation after them (``ReLU(inplace=True)``, ``out += identity``) cannot modify the
    captured tensor, which stays a node of the autograd graph whose gradient is the layer's
    gradient. ``layers.discover`` tells which layers need it; the others skip the copy.
    A module called several times is captured at its first call. Hooks are removed on exit,
    whatever happens inside.

    ``graph_from_first``: run the forward under ``torch.no_grad()`` and switch autograd on at
    the first captured output, which becomes a leaf; every captured output is made a graph node.
    Gradients of anything downstream with respect to the captured activations are unchanged
    (they depend only on the graph after them), and the part of the network before the
    shallowest captured layer records nothing — the forward costs what a no-grad one does there.

    ``layouts``: for token layers (``engine/tokens.py``), what is captured is the B × C × h × w grid
    made from the output, and the module hands downstream a tensor *rebuilt from that grid* (equal
    values; prefix tokens passed through), so the grid is on the graph's path and its gradient is
    the patch tokens' gradient — for every method, with no reshaping of gradients afterwards.

    ``private``: the model is a copy that nobody else calls (``engine/channels_last.py``): the
    named modules' ``forward`` is wrapped for the duration instead of hooked — the same calls,
    without PyTorch's hook dispatch (~25 µs a module: 1.7 ms of EfficientNet-Lite0's forward).
    """
    captured: dict[str, torch.Tensor] = {}
    copied = set(names if copy is None else copy)
    layouts = {n: lay for n, lay in (layouts or {}).items() if lay.kind != "NCHW"}

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            if name in captured or not isinstance(output, torch.Tensor):
                return None
            layout = layouts.get(name)
            if layout is not None:
                if graph_from_first:
                    torch.set_grad_enabled(True)
                    if not output.requires_grad:
                        output = output.detach().requires_grad_(True)
                grid = layout.to_grid(output)
                captured[name] = grid
                handed = layout.from_grid(grid, output)
                # a view of the grid (NHWC, prefix-free tokens) must not be modified in place downstream
                shares = layout.kind == "NHWC" or (layout.kind == "tokens" and not layout.prefix)
                return handed.clone() if shares and name in copied else handed
            if graph_from_first:
                torch.set_grad_enabled(True)  # the caller's no_grad() context restores it on exit
                if not output.requires_grad:
                    output = output.detach().requires_grad_(True)
                    captured[name] = output
                    return output.clone() if name in copied else output
            captured[name] = output
            return output.clone() if name in copied else None
        return hook

    handles, wrapped = [], []
    modules = _named(model) if private else None
    try:
        for name in names:
            module = modules[name] if modules is not None and name in modules else model.get_submodule(name)
            if private and "forward" not in module.__dict__:  # (an instance's own forward is hooked)
                # a plain instance attribute (a function is no parameter, buffer or module)
                object.__setattr__(module, "forward", _recording(module, make_hook(name)))
                wrapped.append(module)
            else:
                handles.append(module.register_forward_hook(make_hook(name)))
        yield captured
    finally:
        for h in handles:
            h.remove()
        for module in wrapped:
            object.__delattr__(module, "forward")


_private_modules: weakref.WeakKeyDictionary[nn.Module, dict[str, nn.Module]] = weakref.WeakKeyDictionary()


def _named(model: nn.Module) -> dict[str, nn.Module]:
    """A private copy's modules by name, looked up once (nobody else changes its structure)."""
    found = _private_modules.get(model)
    if found is None:
        found = _private_modules[model] = {n: m for n, m in model.named_modules() if n}  # not itself: a weak key
    return found


def _recording(module: nn.Module, hook):
    """``module.forward`` followed by ``hook(module, args, output)``, whose non-None result replaces the output."""
    forward = type(module).forward.__get__(module)

    def recording(*args, **kwargs):
        output = forward(*args, **kwargs)
        replaced = hook(module, args, output)
        return output if replaced is None else replaced
    return recording


def hook_count(model: nn.Module) -> int:
    """How many forward / backward hooks are registered anywhere in ``model`` (for leak checks)."""
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        + len(getattr(m, "_backward_pre_hooks", {}))
        for m in model.modules()
    )
