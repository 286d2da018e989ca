"""A compiled, checked-equivalent copy of a model for the many passes of perturbation methods.

Score-CAM, SS-CAM, LIME and the faithfulness metrics push hundreds or thousands of perturbed
copies of one input through the model, without gradients or hooks. On a CPU those batches run
through a copy of the model traced, frozen and optimised for inference by TorchScript
(``torch.jit.optimize_for_inference``: batch norms folded into the convolutions, oneDNN
convolutions with pre-packed weights, fused activations) — measured at batch 32 on 2 cores,
EfficientNet-Lite0 in 0.44 × the eager time at 64² and 0.29 × at 224², resnet50 in 0.56 × at 64².

The copy is used only where it is checked to be the same function: it is traced on two copies of
the session's input and must then give the eager model's output on three other inputs (another
batch size, so nothing depends on the batch) within 1e-4 of the output's scale (the rounding of
reordered float32 sums, ~1e-6 relative). A model that does not trace, whose output is not one
tensor, or that fails the check runs as it is (or batch-norm-folded, ``engine.folding``), and the
answer is the same either way. Building takes about a second, so it is built only for a job of at
least ``MIN_PASSES`` passes, once per model, input shape and parameter version (an in-place change
of a weight, a replaced parameter, is a new version); later jobs of any size reuse it.

CUDA and non-float32 inputs use the folded copy. ``CAMWIDGET_COMPILED_PASSES=0`` (or
``ENABLED = False``) turns compilation off.
"""
from __future__ import annotations

import copy
import os
import warnings
import weakref
from collections.abc import Callable

import torch
from torch import nn

from . import folding
from .capture import training_mode_restored

ENABLED = os.environ.get("CAMWIDGET_COMPILED_PASSES", "1") != "0"
#: The smallest job (images through the model) worth a ~1 s build.
MIN_PASSES = 64
_SHAPES_KEPT = 2  # compiled copies per model (one per input shape)

_cache: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _build(model: nn.Module, example: torch.Tensor) -> nn.Module | None:
    """The traced, frozen, optimised copy, or None when it cannot be made or is not equivalent."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(example.shape, generator=generator, dtype=example.dtype).to(example.device)
    scale = example.detach().float().std().clamp_min(1e-3)
    trace_input = torch.cat([example, example + 0.1 * scale * noise]).detach()
    check_input = torch.cat([example, torch.zeros_like(example), example - 0.3 * scale * noise]).detach()
    try:
        with warnings.catch_warnings(), torch.no_grad(), training_mode_restored(model):
            warnings.simplefilter("ignore")  # TracerWarnings, and TorchScript's deprecation notice
            expected = model(check_input)
            if not isinstance(expected, torch.Tensor):
                return None
            twin = copy.deepcopy(model).eval()
            for p in twin.parameters():
                p.requires_grad_(False)
            traced = torch.jit.trace(twin, trace_input, check_trace=False)
            optimised = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            got = optimised(check_input)
    except Exception:  # noqa: BLE001 - any model that does not trace runs eagerly instead
        return None
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not bool(torch.isfinite(expected).all()):
        return None
    tolerance = 1e-4 * max(float(expected.abs().max()), 1.0)
    if float((got - expected).abs().max()) > tolerance:
        return None
    return optimised


def equivalent(model: nn.Module, example: torch.Tensor, passes: int) -> nn.Module | None:
    """The fastest checked-equivalent copy of ``model`` for inputs shaped like ``example``
    (1 × C × H × W): the compiled copy (CPU, float32; built for a job of ≥ ``MIN_PASSES``
    ``passes``, or already built), else the batch-norm-folded copy, else None (run ``model``)."""
    if ENABLED and example.device.type == "cpu" and example.dtype == torch.float32:
        copies: dict = folding.versioned(_cache, model, lambda: {"copies": {}})["copies"]
        key = tuple(example.shape[1:])
        if key not in copies and passes >= MIN_PASSES:
            while len(copies) >= _SHAPES_KEPT:
                copies.pop(next(iter(copies)))
            copies[key] = _build(model, example)
        if copies.get(key) is not None:
            return copies[key]
    return folding.folded(model, example)


def predictor(session, passes: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """For one job of ``passes`` inputs: a function from a batch to the session's logits (its
    selected output), through the copy :func:`equivalent` picks once for the whole job."""
    x = session.input.detach()
    twin = equivalent(session.model, x, passes)

    def predict(batch: torch.Tensor) -> torch.Tensor:
        if batch.device.type == "cpu" and batch.shape[0] > 1:
            batch = batch.contiguous(memory_format=torch.channels_last)  # faster convolutions on CPU
        # the compiled copy is checked for the session's input shape only
        model = twin if batch.shape[1:] == x.shape[1:] else folding.folded(session.model, x)
        return session.predict(batch) if model is None else session.predict(batch, model=model)

    return predict
