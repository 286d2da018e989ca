"""Which part of a model's output is explained: ``Session(..., output=...)``.

Models return more than a logits tensor: a dict (torchvision segmentation: ``{"out": ...}``), a
tuple, an object with ``.logits`` (Hugging Face), a list of dicts (detection). ``output=`` picks
the tensor that the targets score:

- ``None`` (default): the output itself when it is a tensor; else its ``.logits``, its
  ``["logits"]`` or its ``["out"]``; else the one tensor in a tuple, list or dict that holds
  exactly one. When none of these applies the output is kept as it is — a target callable can
  still score it — and anything that needs class scores (``top()``, a class index) raises a
  TypeError naming the keys and types found and the ``output=`` to pass;
- a key (``str``): ``output[key]``, or the attribute of that name;
- an index (``int``): ``output[index]`` of a tuple or list;
- a callable: ``output(raw)``, anything it returns (a target callable then scores it).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

OutputSpec = str | int | Callable[[Any], Any] | None
_KEYS = ("logits", "out")


def check(output: OutputSpec) -> OutputSpec:
    """``output`` validated (a key, an index, a callable or None)."""
    if output is None or callable(output) or isinstance(output, str):
        return output
    if isinstance(output, int) and not isinstance(output, bool):
        return output
    raise TypeError(
        f"output: expected a key (str), an index (int), a callable of the model's output, or None; "
        f"got {type(output).__name__}"
    )


def describe(value: Any, depth: int = 0) -> str:
    """A short account of an output's structure: types, shapes, keys."""
    if isinstance(value, torch.Tensor):
        return f"Tensor {'×'.join(map(str, value.shape)) or 'scalar'}"
    if depth >= 2:
        return type(value).__name__
    if isinstance(value, Mapping):
        items = ", ".join(f"{k!r}: {describe(v, depth + 1)}" for k, v in list(value.items())[:6])
        return f"{type(value).__name__} {{{items}{', …' if len(value) > 6 else ''}}}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(describe(v, depth + 1) for v in value[:4])
        return f"{type(value).__name__} of {len(value)} [{items}{', …' if len(value) > 4 else ''}]"
    fields = [k for k, v in vars(value).items() if isinstance(v, torch.Tensor)] if hasattr(value, "__dict__") else []
    return type(value).__name__ + (f" (tensor attributes: {', '.join(fields[:6])})" if fields else "")


def select(raw: Any, output: OutputSpec = None) -> Any:
    """The part of the model's output ``raw`` that targets score (see the module docstring)."""
    if output is None:
        return _default(raw)
    if callable(output):
        return output(raw)
    if isinstance(output, str):
        if isinstance(raw, Mapping) and output in raw:
            return raw[output]
        if not isinstance(raw, Mapping) and hasattr(raw, output):
            return getattr(raw, output)
        raise ValueError(f"output: the model's output has no key or attribute {output!r}; it is {describe(raw)}")
    if isinstance(raw, Sequence) and not isinstance(raw, (str, torch.Tensor)):
        if -len(raw) <= output < len(raw):
            return raw[output]
        raise ValueError(f"output: index {output} is out of range; the model's output is {describe(raw)}")
    raise ValueError(f"output: an index needs a tuple or list output; the model's output is {describe(raw)}")


def _default(raw: Any) -> Any:
    if isinstance(raw, torch.Tensor):
        return raw
    found = getattr(raw, "logits", None) if not isinstance(raw, Mapping) else None
    if isinstance(found, torch.Tensor):
        return found
    if isinstance(raw, Mapping):
        for key in _KEYS:
            if isinstance(raw.get(key), torch.Tensor):
                return raw[key]
        tensors = [v for v in raw.values() if isinstance(v, torch.Tensor)]
    elif isinstance(raw, (list, tuple)):
        tensors = [v for v in raw if isinstance(v, torch.Tensor)]
    else:
        tensors = []
    return tensors[0] if len(tensors) == 1 else raw


def _suggestion(raw: Any) -> str:
    if isinstance(raw, Mapping):
        keys = [k for k, v in raw.items() if isinstance(v, torch.Tensor)]
        if keys:
            return f"pass output={keys[0]!r} (tensor keys: {', '.join(map(repr, keys))})"
    if isinstance(raw, (list, tuple)):
        if raw and all(isinstance(v, Mapping) for v in raw):
            shown = ", ".join(map(str, list(raw[0].keys())[:6]))
            return (
                f"this looks like a detection output (one dict per image, keys {shown}), which has no "
                "class scores: pass target= a callable of one image's output, e.g. "
                "target=lambda o: o['scores'][:1].sum()"
            )
        indices = [i for i, v in enumerate(raw) if isinstance(v, torch.Tensor)]
        if indices:
            return f"pass output={indices[0]} (tensor positions: {', '.join(map(str, indices))})"
    return "pass output= a callable that returns the class scores, e.g. output=lambda out: out.scores"


def class_scores(selected: Any) -> torch.Tensor:
    """``selected`` as a batch of class scores (B × classes, or B × classes × H × W for segmentation).

    TypeError naming what was found (and the ``output=`` to pass) for anything else.
    """
    if not isinstance(selected, torch.Tensor):
        raise TypeError(
            f"model: expected class scores (a B×classes tensor, or B×classes×H×W), but the output is "
            f"{describe(selected)}; {_suggestion(selected)}"
        )
    if selected.dim() == 1:
        raise TypeError(
            f"model: the output is 1-D (shape {tuple(selected.shape)}); class scores are B×classes: for one "
            "score per image pass output=lambda out: out[:, None]; for a model that drops the batch "
            "dimension wrap it so that it keeps it; or pass target= a callable that scores the output"
        )
    if selected.dim() not in (2, 4):
        raise TypeError(
            f"model: expected B×classes logits or B×classes×H×W segmentation scores, got a tensor of shape "
            f"{tuple(selected.shape)}; pass output= a callable that returns one of them, or target= a callable"
        )
    return selected
