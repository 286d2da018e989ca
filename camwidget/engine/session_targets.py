"""A session's targets: its task, what a user's ``target=`` resolves to, and its top classes.

The targets themselves (what score an explanation differentiates) are in ``engine/targets.py``;
here is what depends on a session — its output, its classes, its task.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .outputs import class_scores
from .targets import (TASKS, MultiLabelTarget, ScoreTarget, SegmentationTarget, Target, _class_name,
                      _logits_2d, _maps)


def check_task(task: str | None) -> str | None:
    """``task`` validated: None (read from the output) or one of :data:`TASKS`."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task: {task!r} is unknown; valid: {', '.join(TASKS)} (or None to read it from the output)")
    return task


def task_of(session) -> str:
    """The session's task: as given, else segmentation for a B×classes×H×W output, else classification."""
    if session.task is not None:
        return session.task
    output = session._logits
    return "segmentation" if isinstance(output, torch.Tensor) and output.dim() == 4 else "classification"


def resolve(session, target: Any) -> int | Target:
    """A class index (``int``) or a :class:`Target` from what a user passes as ``target=``."""
    if target is None:
        return _default(session)
    if isinstance(target, Target):
        return target.resolved(session)
    if isinstance(target, str):
        index = _by_name(session, target)
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        index = int(target)
    elif callable(target):
        return ScoreTarget(target)
    else:
        raise TypeError(
            f"target: expected a class index (int), a class name, a callable of one image's output, "
            f"a camwidget target or None; got {type(target).__name__}"
        )
    kind = task_of(session)
    count = class_scores(session._logits).shape[1]
    if not 0 <= index < count:
        raise ValueError(f"target: {index} is outside the classes 0..{count - 1}")
    if kind == "multilabel":
        return MultiLabelTarget(index)
    if kind == "segmentation":
        return SegmentationTarget(index).resolved(session)
    _logits_2d(session._logits)
    return index


def _by_name(session, target: str) -> int:
    if session.classes is None:
        raise ValueError(f"target: {target!r} is a name but this session has no classes=; give an index")
    lowered = [c.lower() for c in session.classes]
    if target.lower() in lowered:
        return lowered.index(target.lower())
    import difflib

    close = difflib.get_close_matches(target.lower(), lowered, n=5, cutoff=0.6)
    raise ValueError(f"target: no class named {target!r}" + (f"; close: {', '.join(close)}" if close else ""))


def _default(session) -> int | Target:
    output = session._logits
    if not isinstance(output, torch.Tensor) or output.dim() not in (2, 4):
        try:
            class_scores(output)
        except TypeError as error:
            raise TypeError(
                f"target: there is no default target, because {str(error).removeprefix('model: ')}; "
                "or pass target= a callable of one image's output"
            ) from None
    return resolve(session, top(session, 1)[0][0])


def output_size(session) -> tuple[int, int] | None:
    """The H × W of a segmentation session's output map (the pixels a box selects), else None."""
    if task_of(session) != "segmentation":
        return None
    maps = _maps(class_scores(session._logits))
    return int(maps.shape[-2]), int(maps.shape[-1])


#: What ``top()``'s score is, by task (the class picker's label).
SCORE_KINDS = {"classification": "softmax probability", "multilabel": "sigmoid probability",
               "segmentation": "share of output pixels"}


def score_kind(session) -> str:
    """What ``top()``'s third value is for this session: a softmax probability, a sigmoid
    probability (multi-label) or the share of output pixels assigned to the class (segmentation)."""
    return SCORE_KINDS[task_of(session)]


def top(session, k: int = 5) -> list[tuple[int, str, float]]:
    """``[(class_index, class_name, score), ...]``: softmax probabilities (classification), sigmoid
    probabilities (multi-label), or the share of output pixels assigned to each class present
    (segmentation) — the k highest."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    output = class_scores(session._logits)
    kind = task_of(session)
    if kind == "segmentation":
        predicted = _maps(output)[0].detach().argmax(dim=0).flatten()
        counts = torch.bincount(predicted, minlength=output.shape[1]).double()
        share = counts / counts.sum()
        values, indices = share.topk(min(int(k), int((counts > 0).sum())))
    else:
        logits = _logits_2d(output)[0].detach().float()
        values = torch.sigmoid(logits) if kind == "multilabel" else torch.softmax(logits, dim=0)
        values, indices = values.topk(min(int(k), values.numel()))
    return [(int(i), _class_name(int(i), session.classes), float(v)) for v, i in zip(values, indices)]
