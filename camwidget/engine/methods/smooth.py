"""Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ from derivatives averaged over noisy copies.

n noisy copies x_t = x + N(0, σ²) of the *model input tensor* (σ = 0.15 · (max(x) − min(x)) by
default, SmoothGrad's recommendation), drawn from a seeded ``torch.Generator`` one copy at a time,
so the same seed gives the same noise whatever the batch size. The copies run as batches through
``Session.forward_batch`` with every selectable layer captured; one ``torch.autograd.grad`` per batch
(of the target's logits summed over the batch, with respect to all captured activations — no
parameter gradients) gives every layer's per-copy gradients g_t, which are accumulated in float64:

    D1 = mean_t g_t,   D2 = mean_t g_t²,   D3 = mean_t g_t³.

α = D2 / (2·D2 + (Σ_ab A_ab)·D3) (α = 0 where D2 = 0), w_k = Σ_ij α_kij · ReLU(D1_kij),
M = ReLU(Σ_k w_k A_k), with A the activations of the *clean* image (``gradcampp_weights``).

**A choice the paper leaves open.** The paper prints D1 in α's numerator. Grad-CAM++'s derivation
(α = g² / (2g² + ΣA·g³), with the exponential output's higher derivatives written as powers of
the first) puts the *second* derivative there, so averaging derivatives means D2 — which is also
what torchcam's ``SmoothGradCAMpp`` uses. We use D2. With n = 1 and σ = 0 the method is exactly
Grad-CAM++.

The derivatives are cached per (target, n, σ, seed). The first request computes them for its layer
and every deeper one (the backward stops at the requested layer: for a deep layer that costs about
the batched forwards alone); the first request for a shallower layer computes them for *every*
layer at once. After that every layer, channel subset and region is arithmetic on cached tensors. ``batch_size`` is a
speed knob only (the result is the same up to float rounding). Between batches the method calls
``progress.report(done, n, partial)``, ``partial`` being the :class:`Result` for the requested
layer / channels / region from the copies done so far (so a widget can refine progressively);
a newer request cancels it there (``progress.Cancelled``), and nothing half-done is cached.
"""
from __future__ import annotations

from collections import OrderedDict
from numbers import Integral
from typing import Any, Callable

import torch

from .. import allocator, folding, progress, targets
from ..guards import check_gradients
from . import MethodSpec, Result, register, weighted_sum
from .gradcam import gradcampp_weights

#: Largest batch of noisy copies. Measured with benchmarks/bench_smooth.py on a shared 2-core CPU,
#: resnet50 at 224², n = 16: larger batches were faster all the way up (per copy, median of two
#: interleaved rounds: 0.89 s at 1, 0.49 s at 4, 0.44 s at 8, 0.38 s at 16). n copies run in
#: ceil(n / DEFAULT_BATCH_SIZE) batches of near-equal size (25 → 13 + 12), never a straggler of one.
DEFAULT_BATCH_SIZE = 16
#: Memory format of noisy batches of more than one copy. channels_last was faster at batch 16
#: (0.29 s per copy against 0.38, resnet50 on 2 cores); it changes the convolutions' rounding
#: (1.6e-7 relative). A single copy stays contiguous, so n = 1, σ = 0 is Grad-CAM++ bit for bit.
MEMORY_FORMAT = torch.channels_last
#: Batches of more than one copy run through a copy of the model with each batch norm folded into
#: the convolution before it (``engine.folding``; about 1e-6 relative rounding, like channels_last).
#: Measured on resnet50, batch 16, channels_last, 2 cores: 9.7 s against 12.0 s per batch (a loaded
#: machine; the ratio is what counts). A single copy runs the model itself.
FOLD = True
#: Smoothed derivatives kept per session (each holds three float64 tensors per layer).
_KEPT = 4

Derivatives = dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


#: The noise parameters Smooth Grad-CAM++ and smoothed "neurons" share (the widget renders them).
NOISE_PARAMS: dict[str, dict[str, Any]] = {
    "n": {"type": "int", "default": 25, "min": 1, "label": "noisy copies n"},
    "sigma": {"type": "float", "default": None, "min": 0.0, "nullable": True,
              "label": "noise σ (None: 0.15 · input range)"},
    "seed": {"type": "int", "default": 0, "label": "seed"},
    "batch_size": {"type": "int", "default": DEFAULT_BATCH_SIZE, "min": 1, "label": "batch size"},
}


def default_sigma(x: torch.Tensor) -> float:
    """SmoothGrad's recommended noise level: 0.15 · (max(x) − min(x)) of the model input tensor."""
    return 0.15 * float(x.max() - x.min())


def check_noise(n: Any, sigma: Any, batch_size: Any = 1) -> None:
    """ValueError naming the parameter for n < 1, σ < 0 (or not finite), batch_size < 1."""
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n: the number of noisy copies must be an integer >= 1, got {n!r}")
    if sigma is not None and (isinstance(sigma, bool) or not float(sigma) >= 0 or sigma == float("inf")):
        raise ValueError(f"sigma: the noise standard deviation must be a finite number >= 0 (or None), got {sigma!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size: must be an integer >= 1, got {batch_size!r}")


def noisy_batches(x: torch.Tensor, n: int, sigma: float, seed: int, batch_size: int):
    """Yield ``(done_after, batch)``: the n copies x + σ·ε_t in near-equal batches of at most
    ``batch_size``, ε_t drawn one copy at a time (so the copies do not depend on the batching)."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    clean = x.detach()
    batches = -(-n // batch_size)
    done = 0
    for index in range(batches):
        count = n // batches + (1 if index < n % batches else 0)
        done += count
        noise = torch.cat([torch.randn(clean.shape, generator=generator, dtype=clean.dtype) for _ in range(count)])
        batch = clean.expand(count, *clean.shape[1:]) + sigma * noise.to(clean.device)
        layout = MEMORY_FORMAT if count > 1 else torch.contiguous_format
        yield done, batch.contiguous(memory_format=layout).requires_grad_(True)


def _lru(session, name: str) -> OrderedDict:
    return session.cache.namespace(name)  # items inside the session's memory budget


def _remember(store: OrderedDict, key: Any, value: Any) -> Any:
    store[key] = value
    store.move_to_end(key)
    while len(store) > _KEPT:
        store.popitem(last=False)
    return value


def smoothed_derivatives(
    session,
    target: int,
    n: int = 25,
    sigma: float | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    partial: Callable[[int, Callable[[str], tuple]], Any] | None = None,
    layer: str | None = None,
) -> Derivatives:
    """D1, D2, D3 (float64, C × h × w) of ``target``'s logit per layer name, cached per (target, n, σ, seed).

    Which layers: with ``layer=None``, every session layer. With a ``layer``, a first computation
    covers that layer and every deeper one only — the backward then stops there, which for the
    deepest layers is nearly free, so one deep layer costs about the batched forwards alone — and
    a later request for a shallower layer computes *every* layer, so a drag through the layers
    pays at most once more.

    After each batch, ``progress.report(done, n, partial(done, so_far))`` where ``so_far(name)``
    gives that layer's (D1, D2, D3) from the copies done so far; ``partial`` is only called when
    somebody listens. A cancellation raised there leaves the cache as it was.
    """
    check_noise(n, sigma, batch_size)
    sigma = default_sigma(session.input) if sigma is None else float(sigma)
    store = _lru(session, "smooth-gradcam++ derivatives")
    key = (target, int(n), sigma, int(seed))
    cached = store.get(key)
    wanted = session.layer_info(layer).name if layer is not None else None
    if cached is not None and (wanted in cached if wanted else len(cached) == len(session.layers)):
        store.move_to_end(key)
        return cached
    if cached is None and wanted is not None:
        depth = session.layer_info(wanted).depth
        names = [info.name for info in session.layers if info.depth >= depth]
    else:
        names = [info.name for info in session.layers]

    sums: dict[str, list[torch.Tensor]] = {}
    with allocator.heap_only():  # the batches reuse their freed blocks (engine/allocator.py)
        for done, batch in noisy_batches(session.input, n, sigma, seed, batch_size):
            twin = folding.folded(session.model, session.input, keep=names) if FOLD and len(batch) > 1 else None
            logits, captured = session.forward_batch(batch, names, from_input=False, model=twin)
            activations = [captured[name] for name in names]
            with torch.enable_grad(), torch.inference_mode(False):
                grads = torch.autograd.grad(targets.scores(logits, target).sum(), activations, allow_unused=True)
            del logits, captured
            for name, g, a in zip(names, grads, activations):
                if name not in sums:
                    # same layout as the gradients (channels_last batches give channels_last strides)
                    sums[name] = [torch.zeros_like(a[0], dtype=torch.float64) for _ in range(3)]
                if g is None:  # the target does not depend on this layer
                    continue
                d1, d2, d3 = sums[name]
                # copy by copy, in place: temporaries of one copy's size keep this memory-bound step
                # cheap (about 3× faster than whole-batch float64 temporaries on resnet50)
                for one in g.detach():
                    one = one.double()
                    d1.add_(one)
                    square = one * one  # exact in float64, so n = 1 gives Grad-CAM++'s g², g³ bit for bit
                    d2.add_(square)
                    d3.addcmul_(square, one)
            del grads, activations
            if done < n:
                so_far = lambda name, done=done: tuple(s / done for s in sums[name])  # noqa: E731
                progress.report(done, n, partial(done, so_far) if partial is not None and progress.active() else None)
    derivatives = _remember(store, key, {k: tuple(s / n for s in v) for k, v in sums.items()})
    progress.report(n, n, partial(n, derivatives.__getitem__) if partial is not None and progress.active() else None)
    return derivatives


def _smooth_gradcampp(session, layer, target, channels, region, n, sigma, seed, batch_size) -> Result:
    activations = session.activations(layer.name)
    resolved = default_sigma(session.input) if sigma is None else float(sigma)
    params = {"n": n, "sigma": resolved, "seed": seed}

    def result(done: int, derivatives: Callable[[str], tuple]) -> Result:
        d1, d2, d3 = derivatives(layer.name)
        weights = gradcampp_weights(activations.double(), d1, d2, d3, region).float()
        return Result(weighted_sum(activations, weights, channels), weights, params={**params, "done": done})

    derivatives = smoothed_derivatives(session, target, n, sigma, seed, batch_size, partial=result, layer=layer.name)
    # D2 = mean g² is zero only where every copy's gradient is: a constant score, or non-finite
    check_gradients({k: d[1] for k, d in derivatives.items()}, list(derivatives), target, session.class_name(target))
    final = result(n, derivatives.__getitem__)
    del final.params["done"]
    return final


register(MethodSpec(
    "smooth-gradcam++", "Smooth Grad-CAM++", _smooth_gradcampp,
    params=NOISE_PARAMS,
    needs_graph=False,  # the clean image's activations only; the noisy passes record their own graphs
    description="Omeiza et al. 2019: Grad-CAM++ from 1st/2nd/3rd derivatives averaged over n noisy "
                "copies of the input (α numerator D2, as Grad-CAM++ implies; the paper prints D1).",
))
