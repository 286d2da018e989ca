"""What the perturbation metrics' numbers are, per kind of target (``passes.scored_target``).

Deletion, insertion, Average Drop / Increase and ROAD follow one number per perturbed input: the
softmax probability of a class; for the other targets their own ``Target.probabilities`` — the
sigmoid of a multi-label class, the mean class probability over a segmentation target's pixels
(both in [0, 1]), and a score callable's value as it is. This module names that number on the
curves and refuses what cannot apply: Average Drop divides by the unperturbed number, so a raw
score that is not > 0 on the image is refused by name (a probability is always > 0 in practice).
"""
from __future__ import annotations

from typing import Any

from .. import targets as targets_


def is_probability(target: Any) -> bool:
    """True where the metrics follow a probability in [0, 1] (every target but a custom score)."""
    return not isinstance(target, targets_.Target) or isinstance(
        target, (targets_.MultiLabelTarget, targets_.SegmentationTarget))


def label(target: Any) -> str:
    """The curves' y label."""
    if isinstance(target, targets_.MultiLabelTarget):
        return "sigmoid p(target)"
    if isinstance(target, targets_.SegmentationTarget):
        return "mean p(category) over the target's pixels"
    return "p(target)" if is_probability(target) else "score"


def check_drop(target: Any, unperturbed: float, name: str) -> None:
    """Average Drop divides by the unperturbed score: refuse a custom score that is not > 0."""
    if not is_probability(target) and not unperturbed > 0:
        raise ValueError(
            f"metrics: {name} divides by the target's score on the unperturbed image, which is "
            f"{unperturbed:.4g} (not > 0) for {targets_.name(target, None)!r}; Average Drop is defined for "
            "positive scores (probabilities) — use deletion / insertion, or a target whose score is positive")
