"""What the perturbation metrics score: the explanation's own target, as a probability where it has one.

Deletion, insertion, Average Drop / Increase and ROAD follow one number per perturbed input. The
papers use p(target), the softmax probability of a class; an explanation of another kind of
target is scored by its own kind of probability:

- a class index: the softmax probability of the class (as the papers; torchcam, pytorch-grad-cam);
- :class:`~camwidget.engine.targets.MultiLabelTarget`: the sigmoid of the class's logit (a
  multi-label model's probability; a softmax over independent labels would mean nothing);
- :class:`~camwidget.engine.targets.SegmentationTarget`: the mean softmax probability of the
  category over the target's pixels (its mask, box or predicted pixels, weighted as the target
  weights them) — a probability in [0, 1], so curves and AUCs compare as for a class;
- any other target (a score callable, a custom ``Target``): its score itself, as the explanation
  differentiated it. Curves and AUCs are then in the score's units: they compare maps *of that
  target* with each other, not with a class's numbers (``Curve.y_label`` says "score").

Average Drop divides by the unperturbed number, so it needs it > 0; a score that is not positive
on the image is refused by name (see :func:`check_drop`).
"""
from __future__ import annotations

from typing import Any

import torch

from .. import targets as targets_
from ..outputs import class_scores

MetricTarget = Any  # an int class index, or a resolved camwidget.engine.targets.Target


def of_explanation(explanation: Any) -> MetricTarget:
    """The target the metrics score: the explanation's resolved Target, else its class index.

    ValueError when it has neither (a hand-built explanation without a target)."""
    score = getattr(explanation, "target_score", None)
    if score is not None:
        return score
    if explanation.target is None:
        raise ValueError("explanation: it has no target to score (neither a class index nor a Target); "
                         "make it with session.explain(..., target=...)")
    return int(explanation.target)


def is_probability(target: MetricTarget) -> bool:
    """True where the metrics follow a probability in [0, 1] (every target but a custom score)."""
    return not isinstance(target, targets_.Target) or isinstance(
        target, (targets_.MultiLabelTarget, targets_.SegmentationTarget))


def label(target: MetricTarget) -> str:
    """The curves' y label."""
    if isinstance(target, targets_.MultiLabelTarget):
        return "sigmoid p(target)"
    if isinstance(target, targets_.SegmentationTarget):
        return "mean p(category) over the target's pixels"
    return "p(target)" if is_probability(target) else "score"


def key(target: MetricTarget) -> str:
    """What identifies the target in a cache key (stable within the process)."""
    if isinstance(target, targets_.Target):
        return f"{type(target).__name__}{target._key()!r}"
    return str(int(target))


def of_output(output: Any, target: MetricTarget) -> torch.Tensor:
    """The number each image of the batch ``output`` (the session's selected output) is scored by,
    float64, length B (see the module docstring)."""
    if isinstance(target, targets_.MultiLabelTarget):
        return torch.sigmoid(targets_.scores(output, target).double())
    if isinstance(target, targets_.SegmentationTarget):
        maps = class_scores(output)
        if maps.dim() != 4:
            raise TypeError(f"target: SegmentationTarget needs B×classes×H×W scores, got shape {tuple(maps.shape)}")
        weights = target.weights(tuple(maps.shape[-2:])).to(maps.device, torch.float64)
        p = torch.softmax(maps.double(), dim=1)[:, target.index]
        return (p * weights).sum(dim=(1, 2)) / weights.sum()
    if isinstance(target, targets_.Target):
        return target.scores(output).detach().double()
    return torch.softmax(class_scores(output).double(), dim=1)[:, int(target)]


def check_drop(target: MetricTarget, unperturbed: float, name: str) -> None:
    """Average Drop divides by the unperturbed score: refuse a custom score that is not > 0."""
    if not is_probability(target) and not unperturbed > 0:
        raise ValueError(
            f"metrics: {name} divides by the target's score on the unperturbed image, which is "
            f"{unperturbed:.4g} (not > 0) for {targets_.name(target, None)!r}; Average Drop is defined for "
            "positive scores (probabilities) — use deletion / insertion, or a target whose score is positive")
