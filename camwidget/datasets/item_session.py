"""ItemSession: a :class:`~camwidget.engine.Session` for one item of a batch, served from the
batch's tensors.

The batched forward and backward fill its caches (logits, activations, the target's
gradients) with the item's slice, so every registered method computes exactly what a fresh
one-image Session would, without running the model again. A method that asks for something
the batch did not compute (another target's gradients) gets a one-image pass of its own.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..engine import Session


class ItemSession(Session):
    """One item of a batch (see the module docstring)."""

    @classmethod
    def from_batch(
        cls,
        model: nn.Module,
        image: np.ndarray,
        inputs: torch.Tensor,
        preprocess,
        classes: Sequence[str] | None,
        layers: Sequence[str],
        logits: torch.Tensor,
        activations: dict[str, torch.Tensor],
        target: int,
        gradients: dict[str, torch.Tensor],
        model_fingerprint: str | None = None,
    ) -> ItemSession:
        """``inputs``: the item's 1 × 3 × H × W model input; ``logits`` 1 × classes;
        ``activations`` / ``gradients``: layer → 1 × C × h × w / C × h × w, detached."""
        session = cls(model, image, preprocess=lambda _image: inputs, classes=classes, layers=list(layers))
        session.preprocess = preprocess
        session._logits = logits
        session._activations = dict(activations)
        session._graph_from_input = False
        session._gradients[int(target)] = dict(gradients)
        if model_fingerprint is not None:
            session._fingerprint = model_fingerprint
        return session

    def _gradients_for(self, target: int) -> dict[str, torch.Tensor]:
        if target not in self._gradients and (self._logits is None or not self._logits.requires_grad):
            # the batch computed one target only: run this item's own forward for another one
            self._logits, self._activations = None, {}
            self._ensure_forward()
        return super()._gradients_for(target)
