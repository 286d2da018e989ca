"""Per-item targets: which class each item of a dataset is explained for.

``targets=`` is one of

- ``"top"`` (default): the item's top-1 prediction;
- ``"label"``: the item's label (a class index, or a class name matched case-insensitively
  against ``classes``; a folder name that is a number is taken as an index);
- a class index or class name: the same class for every item;
- a callable ``f(item, logits) -> index or name`` (``logits``: the item's 1-D pre-softmax scores);
- a mapping ``{item id: index or name}`` or a sequence with one target per item.

Every failure is a ``ValueError`` that names the item.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .items import Item

Targets = Any


def describe(targets: Targets) -> str:
    """A stable text for the run's parameters (callables by their qualified name)."""
    if callable(targets):
        return f"callable:{getattr(targets, '__module__', '?')}.{getattr(targets, '__qualname__', type(targets).__name__)}"
    if isinstance(targets, Mapping):
        return f"mapping:{len(targets)}"
    if isinstance(targets, (list, tuple, np.ndarray)):
        return f"sequence:{len(targets)}"
    return repr(targets)


def check(targets: Targets, count: int) -> None:
    """Refuse a malformed ``targets=`` before any work starts."""
    if targets is None or callable(targets) or isinstance(targets, Mapping):
        return
    if isinstance(targets, bool):
        raise TypeError("targets: expected 'top', 'label', a class, a callable, a mapping or a sequence; got a bool")
    if isinstance(targets, (int, np.integer, str)):
        return
    if isinstance(targets, (list, tuple, np.ndarray)):
        if len(targets) != count:
            raise ValueError(f"targets: a sequence needs one target per item ({count}), got {len(targets)}")
        return
    raise TypeError(
        f"targets: expected 'top', 'label', a class index or name, a callable, a mapping or a sequence; "
        f"got {type(targets).__name__}"
    )


def resolve(targets: Targets, item: Item, logits: torch.Tensor, classes: Sequence[str] | None) -> int:
    """The class index to explain ``item`` for; ValueError naming the item otherwise."""
    where = f"item {item.id!r}" + (f" ({item.path})" if item.path else "")
    n = int(logits.shape[-1])
    if targets is None or (isinstance(targets, str) and targets == "top"):
        return int(logits.argmax())
    if isinstance(targets, str) and targets == "label":
        if item.label is None:
            raise ValueError(f"targets: 'label' asked for, but {where} has no label")
        return _index(item.label, classes, n, where, "its label")
    if callable(targets):
        try:
            value = targets(item, logits.detach())
        except Exception as error:  # the user's callable: any failure is reported with the item
            raise ValueError(f"targets: the callable failed on {where}: {error!r}") from error
        return _index(value, classes, n, where, "the callable's target")
    if isinstance(targets, Mapping):
        if item.id not in targets:
            raise ValueError(f"targets: the mapping has no target for {where}")
        return _index(targets[item.id], classes, n, where, "its target")
    if isinstance(targets, (list, tuple, np.ndarray)):
        return _index(targets[item.index], classes, n, where, "its target")
    return _index(targets, classes, n, where, "the target")


def _index(value: Any, classes: Sequence[str] | None, n: int, where: str, what: str) -> int:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, str):
        lowered = [c.lower() for c in classes] if classes is not None else []
        if value.lower() in lowered:
            return lowered.index(value.lower())
        if value.strip().isdigit():
            value = int(value.strip())
        else:
            hint = "" if classes is not None else " (no classes= were given to match names against)"
            raise ValueError(f"targets: {what} {value!r} for {where} is not a class name{hint}")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"targets: {what} for {where} is {value!r}, not a class index or name")
    if not 0 <= int(value) < n:
        raise ValueError(f"targets: {what} {int(value)} for {where} is outside the classes 0..{n - 1}")
    return int(value)


Resolver = Callable[[Item, torch.Tensor], int]
