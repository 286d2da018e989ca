"""The shared machinery of perturbation metrics: the map on the model input, and batched passes.

Every metric states the perturbed inputs it needs as :class:`Request` s, each under a key that
says what the input *is* (the unperturbed input is ``ORIGINAL`` whichever metric asks; deletion's
last step and insertion's first are one all-baseline input when the baselines are equal). The
evaluator runs each distinct key once, in batches through ``Session.predict``, and gives every
metric the target's softmax probability of its inputs.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import compiled, progress, targets
from ..explanation import Explanation
from . import scores

ORIGINAL = ("original",)


@dataclass(frozen=True)
class Request:
    """One perturbed model input: ``key`` names it, ``build()`` makes it (1 × C × H × W).

    ``shared`` keys do not depend on the map (the unperturbed input, an all-baseline input): their
    probabilities are kept per session and target, so the next map or method reuses them.
    """

    key: Hashable
    build: Callable[[], torch.Tensor]
    shared: bool = False


class Context:
    """One explanation under evaluation: its session, target, and its map on the model input."""

    def __init__(self, session, explanation: Explanation) -> None:
        check_explanation(session, explanation)
        self.session = session
        self.explanation = explanation
        self.target = scored_target(explanation)
        self.input = session.input.detach()
        self.size = tuple(self.input.shape[-2:])
        self._saliency: torch.Tensor | None = None
        self._ranks: torch.Tensor | None = None

    @property
    def pixels(self) -> int:
        return int(self.size[0] * self.size[1])

    @property
    def saliency(self) -> torch.Tensor:
        """The map bilinearly upsampled to the model input (H × W) and normalised to [0, 1], float32."""
        if self._saliency is None:
            self._saliency = torch.from_numpy(np.ascontiguousarray(self.explanation.upsampled(self.size)))
        return self._saliency

    @property
    def ranks(self) -> torch.Tensor:
        """Each input pixel's rank when ordered by the map, descending (ties: first pixel first)."""
        if self._ranks is None:
            order = torch.argsort(self.saliency.flatten(), descending=True, stable=True)
            self._ranks = torch.argsort(order)
        return self._ranks

    @property
    def map_key(self) -> str:
        """A digest of the map, target and input size: results are cached under it."""
        digest = hashlib.blake2b(np.ascontiguousarray(self.explanation.map, dtype=np.float32).tobytes(), digest_size=12)
        digest.update(f"{self.explanation.map.shape}|{self.target!r}#{hash(self.target)}|{self.size}".encode())
        return digest.hexdigest()

    @property
    def score_label(self) -> str:
        """What the curves plot ("p(target)", "sigmoid p(target)", ..., "score"; see scores.py)."""
        return scores.label(self.target)


def check_explanation(session, explanation: Any) -> None:
    """TypeError for a non-Explanation; ValueError for one made by another session."""
    if not isinstance(explanation, Explanation):
        raise TypeError(f"explanation: expected a camwidget Explanation (from session.explain), got {type(explanation).__name__}")
    if explanation.source is not None and explanation.source != session.token:
        raise ValueError("explanation: this map was made by another session (another image or model); "
                         "evaluate it with the session that explained it")
    if tuple(explanation.image_size) != tuple(session.image.shape[:2]):
        raise ValueError(f"explanation: made for a {explanation.image_size} image, but this session's image is "
                         f"{tuple(session.image.shape[:2])}")
    target = scored_target(explanation)
    if not isinstance(target, targets.Target) and not 0 <= target < session.num_classes:
        raise ValueError(f"explanation: target {explanation.target} is outside this model's classes")


def scored_target(explanation: Explanation) -> int | targets.Target:
    """What the metrics score: the explanation's resolved target (a class index, or a Target —
    multi-label, segmentation, a custom score), else its class index."""
    resolved = explanation.resolved_target
    if resolved is not None:
        return resolved if isinstance(resolved, targets.Target) else int(resolved)
    if explanation.target is None:
        raise ValueError("explanation: it records no target to score (built by hand without a class index)")
    return int(explanation.target)


def target_probabilities(output: torch.Tensor, target: int | targets.Target) -> torch.Tensor:
    """p(target) of each row of a batch's model ``output``: the softmax probability of a class
    index, a Target's own score (sigmoid for multi-label, the mean pixel probability for
    segmentation, a custom score's value)."""
    if isinstance(target, targets.Target):
        return target.probabilities(output).detach().double().reshape(-1).cpu()
    return torch.softmax(output.double(), dim=1)[:, target].cpu()


def original_probability(session, target: int | targets.Target) -> float:
    """p(target) of the unperturbed image, from the session's cached output (no pass)."""
    if isinstance(target, targets.Target):
        return float(target.probabilities(session._logits).detach().double().reshape(-1)[0])
    return float(torch.softmax(session.logits.double(), dim=0)[target])


def run(session, target: int | targets.Target, requests: Sequence[Request], batch_size: int, on_batch=None) -> dict[Hashable, float]:
    """The target's probability for every distinct request key, in batches of ``batch_size``.

    The unperturbed input comes from the session's cached logits (no pass). Between batches
    ``progress.report(done, total)`` (a newer request cancels there); shared keys computed so far
    are kept per session (each value is complete), nothing else.
    """
    shared: dict = session.cached(("metrics", "shared probabilities"), dict)
    found: dict[Hashable, float] = {ORIGINAL: original_probability(session, target)}
    todo: list[Request] = []
    seen = set(found)
    for request in requests:
        if request.key in seen:
            continue
        seen.add(request.key)
        if request.shared and (target, request.key) in shared:
            found[request.key] = shared[(target, request.key)]
        else:
            todo.append(request)
    total = len(todo)
    predict = compiled.predictor(session, total)  # the compiled copy for a large job
    for start in range(0, total, batch_size):
        chunk = todo[start:start + batch_size]
        batch = torch.cat([request.build() for request in chunk]).to(session.device)
        probabilities = target_probabilities(predict(batch), target)
        del batch
        for request, p in zip(chunk, probabilities.tolist()):
            found[request.key] = p
            if request.shared:
                shared[(target, request.key)] = p
        if on_batch is not None:
            on_batch(len(chunk))
        progress.report(min(start + batch_size, total), total)
    return found
