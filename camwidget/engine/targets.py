"""Targets: what score of the model's output an explanation differentiates.

``session.explain(..., target=...)`` takes

- a class index or class name (a plain ``int`` after resolution: the class's logit, as always);
- :class:`MultiLabelTarget` — one class of a multi-label (sigmoid) model: its logit is
  differentiated (a positive rescaling of the sigmoid's gradient, so Grad-CAM's map is the same),
  its sigmoid probability is what ``top()`` shows and what LIME fits;
- :class:`SegmentationTarget` — the sum of one class's scores over a pixel mask or a box of a
  segmentation output map (B × classes × H × W), pytorch-grad-cam's ``SemanticSegmentationTarget``;
  without a mask or box, over the pixels the model assigns to that class;
- any callable of one image's output returning a 0-d tensor — pytorch-grad-cam's convention, so
  its targets (``ClassifierOutputTarget(281)``, ``FasterRCNNBoxScoreTarget(...)``) work as they are.

A session's *task* decides what an index means: ``"classification"`` (softmax: the index as it
is), ``"multilabel"`` (a :class:`MultiLabelTarget`) or ``"segmentation"`` (a
:class:`SegmentationTarget` over the class's predicted pixels). ``Session(task=None)`` reads it
from the output: B × classes × H × W is segmentation, B × classes classification; multi-label
cannot be told from the output and must be given. Resolving a user's `target=` against a session (its
task, classes and output) is `engine/session_targets.py`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .outputs import class_scores, describe

TASKS = ("classification", "multilabel", "segmentation")
Box = tuple[int, int, int, int]


class Target:
    """A score of the model's (selected) output, one number per image; hashable by what it scores."""

    #: the class it scores, where it scores one (CAM's head weights and class names use it)
    index: int | None = None

    def scores(self, output: Any) -> torch.Tensor:
        """One differentiable score per image of the batch ``output`` (a length-B tensor)."""
        raise NotImplementedError

    def probabilities(self, output: Any) -> torch.Tensor:
        """What a perturbation method (LIME) fits and ``top()`` would show: the scores by default."""
        return self.scores(output)

    def name(self, classes: Sequence[str] | None) -> str:
        """A short name for the status line."""
        raise NotImplementedError

    def resolved(self, session) -> Target:
        """This target checked against the session's output (filled in where it depends on it)."""
        return self

    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __str__(self) -> str:
        return self.name(None)


def _class_name(index: int, classes: Sequence[str] | None) -> str:
    return classes[index] if classes is not None and 0 <= index < len(classes) else f"class {index}"


class MultiLabelTarget(Target):
    """Class ``index`` of a multi-label model: its logit is differentiated, its sigmoid shown."""

    index: int

    def __init__(self, index: int) -> None:
        self.index = _index(index)

    def scores(self, output: Any) -> torch.Tensor:
        return _logits_2d(output)[:, self.index]

    def probabilities(self, output: Any) -> torch.Tensor:
        return torch.sigmoid(self.scores(output).float())

    def name(self, classes: Sequence[str] | None) -> str:
        return _class_name(self.index, classes)

    def resolved(self, session) -> Target:
        _check_range(self.index, class_scores(session._logits).shape[1])
        return self

    def _key(self) -> tuple:
        return (self.index,)

    def __repr__(self) -> str:
        return f"MultiLabelTarget({self.index})"


class SegmentationTarget(Target):
    """Σ of class ``category``'s scores over a pixel ``mask`` or ``box`` of the output map.

    ``mask``: H × W (the output map's size), boolean or float weights; ``box``: (row0, col0, row1,
    col1), half-open, in output pixels. With neither, the pixels the model assigns to ``category``
    (its argmax) on the session's image — the whole map where it assigns none.
    """

    index: int

    def __init__(self, category: int, mask: np.ndarray | torch.Tensor | None = None, box: Box | None = None) -> None:
        self.index = _index(category, "category")
        if mask is not None and box is not None:
            raise ValueError("mask: give a mask or a box, not both")
        self.mask = None if mask is None else torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask).detach().cpu()
        if self.mask is not None and self.mask.dim() != 2:
            raise ValueError(f"mask: expected an H × W mask of the output map, got shape {tuple(self.mask.shape)}")
        if self.mask is not None and not bool((self.mask != 0).any()):
            raise ValueError("mask: selects no pixel; select at least one")
        self.box = None if box is None else _box(box)
        self.source = "mask" if mask is not None else ("box" if box is not None else "predicted")

    def weights(self, size: tuple[int, ...]) -> torch.Tensor:
        """The H × W pixel weights (mask or box; ones where neither was given)."""
        if self.mask is not None:
            return self.mask.float()
        weights = torch.zeros(size) if self.box is not None else torch.ones(size)
        if self.box is not None:
            r0, c0, r1, c1 = self.box
            weights[r0:r1, c0:c1] = 1
        return weights

    def scores(self, output: Any) -> torch.Tensor:
        maps = _maps(output)
        weights = self.weights(tuple(maps.shape[-2:])).to(maps.device, maps.dtype)
        return (maps[:, self.index] * weights).sum(dim=(1, 2))

    def probabilities(self, output: Any) -> torch.Tensor:
        """The class's softmax probability (over classes, per pixel), averaged over the mask or box
        with its weights: a score in [0, 1] for perturbation methods and faithfulness metrics."""
        maps = _maps(output).float()
        weights = self.weights(tuple(maps.shape[-2:])).to(maps.device, maps.dtype)
        return (torch.softmax(maps, dim=1)[:, self.index] * weights).sum(dim=(1, 2)) / weights.sum()

    def resolved(self, session) -> Target:
        maps = _maps(session._logits)
        _check_range(self.index, maps.shape[1], "category")
        size = tuple(int(s) for s in maps.shape[-2:])
        if self.mask is not None and tuple(self.mask.shape) != size:
            raise ValueError(f"mask: shape {tuple(self.mask.shape)} does not match the output map {size}")
        if self.box is not None:
            r0, c0, r1, c1 = self.box
            if not (0 <= r0 < r1 <= size[0] and 0 <= c0 < c1 <= size[1]):
                raise ValueError(f"box: {self.box} is outside or empty on the {size[0]}×{size[1]} output map (half-open)")
        if self.source != "predicted" or self.mask is not None:
            return self
        predicted = torch.eq(maps[0].detach().argmax(dim=0), self.index)
        resolved = SegmentationTarget(self.index, predicted.cpu() if bool(predicted.any()) else torch.ones(size, dtype=torch.bool))
        resolved.source = "predicted" if bool(predicted.any()) else "whole map"
        return resolved

    def name(self, classes: Sequence[str] | None) -> str:
        label = _class_name(self.index, classes)
        if self.box is not None:
            return f"{label} in box {self.box}"
        if self.mask is None:
            return label
        pixels = int((self.mask != 0).sum())
        where = {"predicted": "predicted pixels", "whole map": "the whole map"}.get(self.source, "mask")
        return f"{label} over {where} ({pixels} px)" if self.source != "whole map" else f"{label} over the whole map"

    def _key(self) -> tuple:
        mask = None if self.mask is None else hashlib.blake2b(self.mask.numpy().tobytes(), digest_size=12).hexdigest()
        return (self.index, mask, self.box)

    def __repr__(self) -> str:
        return f"SegmentationTarget({self.index}, {self.source}{'' if self.box is None else ' ' + str(self.box)})"


class ScoreTarget(Target):
    """Any callable of one image's output (pytorch-grad-cam's target convention) as a target."""

    def __init__(self, score: Callable[[Any], torch.Tensor], name: str | None = None) -> None:
        if not callable(score):
            raise TypeError(f"target: expected a callable, got {type(score).__name__}")
        self.score = score
        self.index = getattr(score, "category", None) if isinstance(getattr(score, "category", None), int) else None
        self._name = name

    def scores(self, output: Any) -> torch.Tensor:
        if isinstance(output, (torch.Tensor, list, tuple)):
            values = [self._one(self.score(output[i])) for i in range(len(output))]
            return torch.stack(values)
        return self._one(self.score(output), many=True)

    def _one(self, value: Any, many: bool = False) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"target: the callable returned {type(value).__name__}; it must return a tensor computed "
                "from the output (one number, so that it can be differentiated)"
            )
        if many:
            return value.reshape(-1)
        if value.numel() != 1:
            raise TypeError(f"target: the callable must return one number per image, returned shape {tuple(value.shape)}")
        return value.reshape(())

    def name(self, classes: Sequence[str] | None) -> str:
        if self._name:
            return self._name
        fn = self.score
        label = getattr(fn, "__name__", None) or type(fn).__name__
        if label == "<lambda>":
            label = "custom score"
        category = getattr(fn, "category", None)
        if not isinstance(category, int):
            return label
        return f"{label}({classes[category] if classes is not None and 0 <= category < len(classes) else category})"

    def _key(self) -> tuple:
        return (id(self.score),)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.score is self.score

    __hash__ = Target.__hash__

    def __repr__(self) -> str:
        return f"ScoreTarget({self.name(None)})"


# ---- helpers --------------------------------------------------------------------------------
def _index(value: Any, name: str = "target") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a class index (int), got {type(value).__name__}")
    return int(value)


def _check_range(index: int, count: int, name: str = "target") -> None:
    if not 0 <= index < count:
        raise ValueError(f"{name}: {index} is outside the classes 0..{count - 1}")


def _box(box: Any) -> Box:
    try:
        r0, c0, r1, c1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise TypeError(f"box: expected (row0, col0, row1, col1) in output pixels, got {box!r}") from None
    return r0, c0, r1, c1


def _logits_2d(output: Any) -> torch.Tensor:
    scores = class_scores(output)
    if scores.dim() != 2:
        raise TypeError(
            f"target: a class index needs B×classes scores, the output is {describe(output)}; for a "
            "segmentation map use SegmentationTarget (or Session(task='segmentation'))"
        )
    return scores


def _maps(output: Any) -> torch.Tensor:
    scores = class_scores(output)
    if scores.dim() != 4:
        raise TypeError(f"target: SegmentationTarget needs B×classes×H×W scores, the output is {describe(output)}")
    return scores


# ---- what methods call --------------------------------------------------------------------
def scores(output: Any, target: int | Target) -> torch.Tensor:
    """The target's score for each image of the batch ``output`` (differentiable, length B)."""
    if isinstance(target, Target):
        return target.scores(output)
    return _logits_2d(output)[:, target]


def probabilities(output: Any, target: int | Target) -> torch.Tensor:
    """Softmax probability of a class index; a Target's own probabilities (sigmoid, scores)."""
    if isinstance(target, Target):
        return target.probabilities(output)
    return torch.softmax(_logits_2d(output).float(), dim=1)[:, target]


def class_index(target: int | Target) -> int | None:
    """The class a target scores, or None for a custom score."""
    return target.index if isinstance(target, Target) else int(target)


def json_value(target: Any) -> int | str | None:
    """What a view shows of a ``target=`` value: an index or name as it is, a Target's class (None
    for a custom score or callable)."""
    if target is None or isinstance(target, str) or (isinstance(target, (int, np.integer)) and not isinstance(target, bool)):
        return target if not isinstance(target, np.integer) else int(target)
    return target.index if isinstance(target, Target) else None


def logit_index(target: int | Target, method: str) -> int:
    """The class whose logit ``target`` is (a class index, a multi-label class), for methods that
    read logits rather than differentiate a score (CAM's head, Score-CAM, Ablation-CAM); a
    ValueError naming the method otherwise."""
    if not isinstance(target, Target):
        return int(target)
    if isinstance(target, MultiLabelTarget):
        return target.index
    raise ValueError(
        f"target: {method} needs a class logit, and {target.name(None)!r} is not one; use a gradient "
        "method such as 'gradcam' for this target"
    )


def name(target: int | Target, classes: Sequence[str] | None) -> str:
    return target.name(classes) if isinstance(target, Target) else _class_name(int(target), classes)


#: What ``Session.explain(target=...)`` takes: a class index or name, a :class:`Target`, a callable
#: from the model's (selected) output of one image to its score, or None (the top prediction).
TargetSpec = int | str | Target | Callable[[torch.Tensor], torch.Tensor] | None
