"""Which modules of a network are selectable layers, their names, output shapes and depth order.

Convolutional feature maps and transformer token layers alike: a layer is selectable when its
output is a grid of the input in one of the layouts of ``engine/tokens.py`` (B × C × h × w;
B × (p + h·w) × C tokens with p prefix tokens; B × h × w × C), or when the session's ``reshape=``
makes it one.
"""
from __future__ import annotations

import difflib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from . import tokens
from .capture import training_mode_restored
from .tokens import Layout

#: ``Session(reshape=...)``: one callable tried on every non-NCHW output, or module name → callable
#: (None: the automatic layout) to make exactly those modules selectable.
ReshapeSpec = Callable[[torch.Tensor], torch.Tensor] | Mapping[str, Callable | None] | None

_SKIP = (nn.Dropout, nn.Dropout2d, nn.Identity)


@dataclass(frozen=True)
class LayerInfo:
    """A selectable layer: its module name, output shape (C, h, w) and depth (0 = nearest the input).

    For a token layer, ``shape`` is the grid it is explained on; ``output_shape`` is what the module
    returned (one image: e.g. (197, 768)), ``prefix_tokens`` how many leading tokens (class,
    distillation, registers) were dropped, and ``layout`` how the two map to each other.
    """

    name: str
    shape: tuple[int, int, int]
    depth: int
    aliases: tuple[str, ...] = field(default=(), compare=False)
    #: whether something downstream modifies this output in place (so capture must copy it)
    modified_in_place: bool = field(default=False, compare=False)
    output_shape: tuple[int, ...] = field(default=(), compare=False)
    prefix_tokens: int = field(default=0, compare=False)
    layout: Layout = field(default_factory=Layout, compare=False, repr=False)

    @property
    def kind(self) -> str:
        """``"NCHW"`` (a feature map), ``"tokens"``, ``"NHWC"`` or ``"reshape"`` (the user's)."""
        return self.layout.kind

    @property
    def channels(self) -> int:
        return self.shape[0]

    @property
    def grid(self) -> tuple[int, int]:
        return self.shape[1], self.shape[2]


_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _is_candidate(name: str, module: nn.Module, parent: nn.Module) -> bool:
    if isinstance(module, _SKIP):
        return False
    if isinstance(module, nn.Conv2d):
        return True
    # block outputs: children of the model itself or of a Sequential / ModuleList / ModuleDict
    return "." not in name or isinstance(parent, (nn.Sequential, nn.ModuleList, nn.ModuleDict))


def _reshape_key(reshape: ReshapeSpec) -> object:
    """A cache key that holds the callables themselves (so an id is never reused while cached)."""
    def one(fn: object) -> object:
        try:
            hash(fn)
            return fn
        except TypeError:
            return ("unhashable", id(fn))

    if reshape is None or callable(reshape):
        return one(reshape)
    return tuple(sorted(((str(k), one(v)) for k, v in reshape.items()), key=lambda item: item[0]))


def _check_reshape(reshape: ReshapeSpec, modules: dict[str, nn.Module]) -> dict[str, Callable | None]:
    """The named modules of a mapping ``reshape=`` (validated); {} for a callable or None."""
    if reshape is None or callable(reshape):
        return {}
    if not isinstance(reshape, Mapping):
        raise TypeError(
            f"reshape: expected a callable (raw output → B × C × h × w), a dict of module name → "
            f"callable, or None; got {type(reshape).__name__}"
        )
    for name, fn in reshape.items():
        if name not in modules or not name:
            close = difflib.get_close_matches(str(name), list(modules), n=5, cutoff=0.5)
            raise ValueError(f"reshape: {name!r} is not a module of the model" + (f"; close: {', '.join(close)}" if close else ""))
        if fn is not None and not callable(fn):
            raise TypeError(f"reshape: the value for {name!r} must be a callable or None, got {type(fn).__name__}")
    return dict(reshape)


def _layout(name: str, shape: tuple[int, ...], input_hw: tuple[int, int], reshape: ReshapeSpec,
            named: dict[str, Callable | None], problems: list[str]) -> Layout | None:
    """How ``name``'s output of ``shape`` is a grid, or None (not spatial)."""
    if name in named:
        fn = named[name]
        if fn is None:
            found = tokens.detect(shape, input_hw)
            if found is None:
                raise ValueError(
                    f"reshape: {name!r} returns shape {shape}, which is not a grid of the {input_hw[0]}×"
                    f"{input_hw[1]} input; give a callable for it"
                )
            return found
        return tokens.custom(fn, shape)
    found = tokens.detect(shape, input_hw)
    if callable(reshape) and len(shape) >= 3 and (found is None or found.kind != "NCHW"):
        try:
            return tokens.custom(reshape, shape)
        except (ValueError, TypeError, RuntimeError, IndexError) as error:  # does not apply here: automatic layout
            problems.append(f"{name} {shape}: {type(error).__name__}: {error}")
    return found


def discover(model: nn.Module, inputs: torch.Tensor, reshape: ReshapeSpec = None) -> list[LayerInfo]:
    """Trace one no-grad forward and list every selectable layer with a spatial output, in depth order.

    Selectable: every ``Conv2d`` and every block output (children of the model and of its
    ``Sequential`` / ``ModuleList`` / ``ModuleDict`` containers) whose output is a grid of the
    input (see ``engine/tokens.py``: feature maps, token layers, channels-last maps). A container
    whose output *is* its last child's output is listed once, under the container's (shorter)
    name; the child's name is an alias.

    ``reshape``: a callable from a raw output to B × C × h × w, used instead of the automatic
    layout wherever it applies (outputs that are not already B × C × h × w), or a dict of module
    name → callable (None: automatic) that makes exactly those modules selectable too (e.g.
    ``{"blocks.11.norm1": None}``). The result is cached per model, input shape and ``reshape``.
    """
    per_model = _cache.setdefault(model, {})
    if reshape is None or callable(reshape) or isinstance(reshape, Mapping):  # (else refused just below)
        key = (tuple(inputs.shape), inputs.dtype, str(inputs.device), _reshape_key(reshape))
        if key in per_model:  # a reshape= that fails its checks is never cached
            return per_model[key]
    modules = dict(model.named_modules())
    named = _check_reshape(reshape, modules)
    candidates = {}
    for name, module in modules.items():
        if not name:
            continue
        parent = modules[name.rpartition(".")[0]] if "." in name else model
        if name in named or _is_candidate(name, module, parent):
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

    input_hw = (int(inputs.shape[-2]), int(inputs.shape[-1]))
    problems: list[str] = []
    layouts = {n: _layout(n, tuple(int(s) for s in outputs[n].shape), input_hw, reshape, named, problems) for n in order}
    for n in order:
        # inside a transformer block, the leaf modules of a Sequential (an MLP's Linear, GELU) are
        # parts of the block, not layers: a token output is a layer when it is a block's or the
        # model's own child's (or named in reshape=)
        found = layouts[n]
        if found is not None and found.kind != "NCHW" and n not in named and "." in n and not any(True for _ in modules[n].children()):
            layouts[n] = None
    missing = sorted(set(named) - set(order))
    if missing:
        raise ValueError(f"reshape: {', '.join(map(repr, missing))} returned no tensor during the forward")
    chosen: dict[str, Layout] = {n: layout for n in order if (layout := layouts[n]) is not None}
    spatial = list(chosen)
    # a container returns exactly what its last child handed on: one layer, the container's name
    alias_of = {m: n for n in spatial for m in spatial if m.startswith(n + ".") and outputs[n] is handed[m]}

    def canonical(name: str) -> str:
        while name in alias_of:
            name = alias_of[name]
        return name

    kept = [n for n in spatial if n not in alias_of]
    aliases = {n: [m for m in spatial if m != n and canonical(m) == n] for n in kept}
    layers = [
        LayerInfo(n, chosen[n].grid_shape(outputs[n].shape), depth, tuple(aliases[n]),
                  modified_in_place=handed[n]._version > 0, output_shape=tuple(int(s) for s in outputs[n].shape[1:]),
                  prefix_tokens=chosen[n].prefix, layout=chosen[n])
        for depth, n in enumerate(kept)
    ]
    if not layers:
        raise ValueError(_no_spatial_layer(outputs, order, input_hw, problems))
    per_model[key] = layers
    return layers


def _no_spatial_layer(outputs: dict[str, torch.Tensor], order: list[str], input_hw: tuple[int, int],
                      problems: list[str]) -> str:
    seen = ", ".join(f"{n} → {tuple(outputs[n].shape)}" for n in order[-6:]) or "no module returned a tensor"
    tried = f"; your reshape= did not apply: {problems[-1]}" if problems else ""
    return (
        f"model: no selectable layer with a spatial output was found for the {input_hw[0]}×{input_hw[1]} "
        f"input (last module outputs: {seen}){tried}. camwidget explains layers whose output is a grid "
        "of the input: B×C×h×w feature maps, B×(p+h·w)×C transformer tokens, B×h×w×C maps; for other "
        "outputs pass reshape= a callable from the module's output to B×C×h×w (or a dict naming the module)"
    )


def default_layer(session) -> str:
    """The deepest layer whose map can show something: for transformers, not the blocks after which
    only the prefix (class) token reaches the output; for segmentation models, not the class score
    map itself (see :func:`_before_score_map`).

    Only when the deepest layer is a token layer with prefix tokens is anything computed: the top
    target's gradients (one backward, cached by the session for the first explanation) tell
    which deepest token layers have all-zero patch gradients; those are skipped.
    """
    chosen = session.layers
    if chosen[-1].prefix_tokens == 0:
        return _before_score_map(session, chosen)
    for info in reversed(chosen):
        if info.prefix_tokens == 0 or bool(session.gradients(info.name, None).any()):
            return info.name
    return chosen[-1].name


def _before_score_map(session, chosen: list[LayerInfo]) -> str:
    """The deepest layer; for a segmentation model, the deepest layer of its ``backbone`` where it
    has one (torchvision's FCN, DeepLabV3, LR-ASPP; pytorch-grad-cam's choice too), else the deepest
    layer that is not a class score map (one channel per class). After the backbone the head is a
    per-pixel, almost linear map: there Grad-CAM's channel weights of a box change only in scale
    with the box, so every box would give the same map (docs/methods.md)."""
    from . import session_targets

    session._ensure_activations()
    if session_targets.task_of(session) != "segmentation":
        return chosen[-1].name
    backbone = [info for info in chosen if info.name == "backbone" or info.name.startswith("backbone.")]
    if backbone:
        return backbone[-1].name
    classes = session.num_classes
    for info in reversed(chosen):
        if info.channels != classes:
            return info.name
    return chosen[-1].name


def blank_reason(session, info: LayerInfo, target) -> str | None:
    """Why a blank map is blank, where the cause is structural: the target's gradient is exactly zero."""
    gradients = session.gradients(info.name, target)
    if bool(gradients.any()):
        return None
    if info.prefix_tokens:
        return (
            f"every patch token's gradient is exactly zero at {info.name}: after this layer only the "
            f"prefix (class) token reaches the output, so no map can show anything here; use an "
            f"earlier block (the default layer is {default_layer(session)})"
        )
    return f"the target's gradient is exactly zero at every neuron of {info.name}"


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
