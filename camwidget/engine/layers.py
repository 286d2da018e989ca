"""Which modules of a CNN are selectable layers, their names, output shapes and depth order."""
from __future__ import annotations

import difflib
import weakref
from dataclasses import dataclass, field

import torch
from torch import nn

from .capture import training_mode_restored

_SKIP = (nn.Dropout, nn.Dropout2d, nn.Identity)


@dataclass(frozen=True)
class LayerInfo:
    """A selectable layer: its module name, output shape (C, h, w) and depth (0 = nearest the input)."""

    name: str
    shape: tuple[int, int, int]
    depth: int
    aliases: tuple[str, ...] = field(default=(), compare=False)
    #: whether something downstream modifies this output in place (so capture must copy it)
    modified_in_place: bool = field(default=False, compare=False)

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def grid(self) -> tuple[int, int]:
        return self.shape[1], self.shape[2]


_cache: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def _is_candidate(name: str, module: nn.Module, parent: nn.Module) -> bool:
    if isinstance(module, _SKIP):
        return False
    if isinstance(module, nn.Conv2d):
        return True
    # block outputs: children of the model itself or of a Sequential / ModuleList container
    return "." not in name or isinstance(parent, (nn.Sequential, nn.ModuleList))


def discover(model: nn.Module, inputs: torch.Tensor) -> list[LayerInfo]:
    """Trace one no-grad forward and list every selectable layer with a spatial output, in depth order.

    Selectable: every ``Conv2d`` and every block output (children of the model and of its
    ``Sequential`` / ``ModuleList`` containers). A container whose output *is* its last child's
    output is listed once, under the container's (shorter) name; the child's name is an alias.
    The result is cached per model and input shape.
    """
    key = (tuple(inputs.shape), inputs.dtype, str(inputs.device))
    per_model = _cache.setdefault(model, {})
    if key in per_model:
        return per_model[key]

    modules = dict(model.named_modules())
    candidates = {}
    for name, module in modules.items():
        if not name:
            continue
        parent = modules[name.rpartition(".")[0]] if "." in name else model
        if _is_candidate(name, module, parent):
            candidates[name] = module

    outputs: dict[str, torch.Tensor] = {}  # what each module returned
    handed: dict[str, torch.Tensor] = {}  # the fresh copy passed downstream in its place
    order: list[str] = []

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            if name in outputs or not isinstance(output, torch.Tensor):
                return None
            # hand a fresh tensor downstream and remember it: an in-place op after this module
            # then cannot make two siblings look like one tensor, while a container that returns
            # its last child's output still returns exactly the object recorded for that child
            outputs[name] = output
            handed[name] = output.clone()
            order.append(name)
            return handed[name]
        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in candidates.items()]
    try:
        with training_mode_restored(model), torch.no_grad():
            model(inputs)
    finally:
        for h in handles:
            h.remove()

    spatial = [n for n in order if outputs[n].dim() == 4 and outputs[n].shape[-2] * outputs[n].shape[-1] > 1]
    # a container returns exactly what its last child handed on: one layer, the container's name
    alias_of = {m: n for n in spatial for m in spatial if m.startswith(n + ".") and outputs[n] is handed[m]}

    def canonical(name: str) -> str:
        while name in alias_of:
            name = alias_of[name]
        return name

    kept = [n for n in spatial if n not in alias_of]
    aliases = {n: [m for m in spatial if m != n and canonical(m) == n] for n in kept}
    layers = [
        LayerInfo(n, tuple(int(s) for s in outputs[n].shape[1:]), depth, tuple(aliases[n]),
                  modified_in_place=handed[n]._version > 0)
        for depth, n in enumerate(kept)
    ]
    if not layers:
        raise ValueError(
            "model: no selectable layer with a spatial output was found; camwidget needs a CNN "
            "with at least one Conv2d (or block) producing an N×C×h×w tensor"
        )
    per_model[key] = layers
    return layers


def find(layers: list[LayerInfo], name: str) -> LayerInfo:
    """The layer called ``name`` (or one of its aliases); a ValueError listing close matches otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"layer: expected a layer name (str), got {type(name).__name__}")
    for info in layers:
        if info.name == name or name in info.aliases:
            return info
    names = [i.name for i in layers]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}" if close else f"valid layers include: {', '.join(names[-5:])}"
    raise ValueError(f"layer: {name!r} is not a selectable layer with a spatial output ({hint})")
