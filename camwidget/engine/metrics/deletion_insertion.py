"""Deletion and insertion (Petsiuk et al. 2018, RISE): the probability as the map's pixels go or come.

The model-input pixels are ordered by the map (upsampled to the input, normalised; descending,
ties in pixel order). With N pixels and ``steps`` steps, the block is ⌈N / steps⌉ pixels and the
curve is taken at the counts 0, block, 2·block, …, N (``steps + 1`` points where ``steps`` divides
N). Deletion sets the first ``count`` pixels (all channels) to the deletion baseline; insertion
starts from the insertion baseline and copies the first ``count`` original pixels in. The score
is p(target) — the softmax probability, or the target's own (metrics/scores.py) — and the AUC is the trapezoid rule over the fractions
count / N. Lower deletion and higher insertion are better.

Baselines, in model-input space: ``"zero"`` (zeros: the mean colour after normalisation),
``"blur"`` (a Gaussian blur of the input, kernel 11, σ 5, reflect padding), or a tensor
broadcastable to the input. Defaults: deletion ``"zero"``, insertion ``"blur"`` (RISE's choices);
torchcam's ``DeletionInsertionMetric`` uses zeros for both (pass ``baseline="zero"`` to insertion
to match it). Deletion at count 0 and insertion at count N are the unperturbed input (the
session's cached forward); deletion at N and insertion at 0 are all-baseline inputs, kept per
session, and shared between the two when their baselines are equal.
"""
from __future__ import annotations

import hashlib
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .passes import ORIGINAL, Context, Request
from .result import Curve, MetricResult

BLUR_KERNEL = 11
BLUR_SIGMA = 5.0
BASELINES = ("zero", "blur")


def check_steps(steps: Any, pixels: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise TypeError(f"steps: expected an integer, got {type(steps).__name__}")
    steps = int(steps)
    if not 2 <= steps <= pixels:
        raise ValueError(f"steps: {steps} is out of range; must be in [2, {pixels}] (the model input's pixels)")
    return int(steps)


def counts(pixels: int, steps: int) -> list[int]:
    """The numbers of perturbed pixels at which the curve is taken (torchcam's convention)."""
    block = -(-pixels // steps)
    return [*range(0, pixels, block), pixels]


def baseline_key(baseline: Any) -> Any:
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise ValueError(f"baseline: {baseline!r} is unknown; valid: {', '.join(BASELINES)}, or a tensor")
        return baseline
    if isinstance(baseline, torch.Tensor):
        data = baseline.detach().float().cpu().contiguous().numpy()
        return ("tensor", tuple(baseline.shape), hashlib.blake2b(data.tobytes(), digest_size=12).hexdigest())
    raise TypeError(f"baseline: expected 'zero', 'blur' or a tensor, got {type(baseline).__name__}")


def baseline_tensor(context: Context, baseline: Any) -> torch.Tensor:
    """The baseline input (1 × C × H × W) for ``baseline``; cached per session."""
    x = context.input
    if isinstance(baseline, torch.Tensor):
        try:
            return torch.broadcast_to(baseline.to(x), x.shape)
        except RuntimeError:
            raise ValueError(f"baseline: shape {tuple(baseline.shape)} does not broadcast to the model input "
                             f"{tuple(x.shape)}") from None
    if baseline == "zero":
        return torch.zeros_like(x)

    def blur() -> torch.Tensor:
        from torchvision.transforms.functional import gaussian_blur

        return gaussian_blur(x, [BLUR_KERNEL, BLUR_KERNEL], [BLUR_SIGMA, BLUR_SIGMA])

    return context.session.cached(("metrics", "blur", BLUR_KERNEL, BLUR_SIGMA), blur)


def requests(context: Context, kind: str, steps: int, baseline: Any) -> tuple[list[int], list[Any], list[Request]]:
    """The curve's pixel counts, the key of each point, and the requests for the points not yet known."""
    pixels = context.pixels
    points = counts(pixels, check_steps(steps, pixels))
    bkey = baseline_key(baseline)
    keys: list[tuple] = []
    needed = []
    flat_x = context.input.flatten(2)
    for count in points:
        keep_original = (kind == "deletion" and count == 0) or (kind == "insertion" and count == pixels)
        all_baseline = (kind == "deletion" and count == pixels) or (kind == "insertion" and count == 0)
        if keep_original:
            keys.append(ORIGINAL)
            continue
        if all_baseline:
            key: tuple = ("baseline", bkey)
            keys.append(key)
            needed.append(Request(key, lambda: baseline_tensor(context, baseline), shared=True))
            continue
        key = (kind, bkey, count)
        keys.append(key)

        def build(count=count) -> torch.Tensor:
            base = baseline_tensor(context, baseline).flatten(2)
            perturbed = context.ranks < count  # the first `count` pixels by the map
            use_original = perturbed if kind == "insertion" else ~perturbed
            return torch.where(use_original.to(flat_x.device), flat_x, base).reshape(context.input.shape)

        needed.append(Request(key, build))
    return points, keys, needed


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """∫ y dx by the trapezoid rule: NumPy's ``trapezoid`` (``trapz`` before 2.0), the same operations."""
    return float((np.diff(x) * (y[1:] + y[:-1]) / 2.0).sum())


def result(context: Context, kind: str, steps: int, baseline: Any, points, keys, probabilities) -> MetricResult:
    fractions = np.asarray(points, dtype=np.float64) / context.pixels
    scores = np.asarray([probabilities[k] for k in keys], dtype=np.float64)
    auc = _trapezoid(scores, fractions)
    return MetricResult(
        metric=kind,
        value=auc,
        curve=Curve(fractions, scores, f"fraction of pixels {'removed' if kind == 'deletion' else 'inserted'}",
                    context.score_label),
        params={"steps": steps, "baseline": baseline if isinstance(baseline, str) else "tensor"},
        higher_is_better=kind == "insertion",
        details={"probability": probabilities[ORIGINAL], "block": points[1] - points[0]},
    )
