"""Score-CAM (Wang et al. 2020) and SS-CAM (Wang et al. 2020b): channel weights from masked passes.

Each feature map A_k is upsampled to the model input (bilinear) and min-max scaled to [0, 1]:
H_k. The model scores the masked inputs x ⊙ H_k (one pass per channel, in batches of
``batch_size`` through ``Session.predict``), and

    w_k = softmax over k of f_c(x ⊙ H_k),   M = ReLU(Σ_{k ∈ K'} w_k A_k)

with f_c the target's pre-softmax logit. torchcam writes the weight as
softmax_k(f_c(x ⊙ H_k) − f_c(x_b)) and pytorch-grad-cam as softmax_k(f_c(x ⊙ H_k)); the baseline
term is the same for every k, so the two are this formula.

Options (documented in docs/methods.md):
- ``align_corners=False`` as torchcam; ``True`` is pytorch-grad-cam's ``UpsamplingBilinear2d`` —
  that difference alone moves the two peers' maps apart (correlation 0.94–0.98 on the default model).
- ``weighting="softmax"`` (above) or ``"probability"``: w_k = p_c(x ⊙ H_k), the target's softmax
  probability of each masked input, as the authors' released code does.

SS-CAM scores N noisy masks H_k + N(0, σ²) per channel (the noise drawn per mask from a seeded
generator, one mask at a time, so the batching does not change it) and averages the logits over
the N copies before the softmax: w_k = softmax_k(mean_t f_c(x ⊙ (H_k + ε_tk))). Defaults N = 35,
σ = 2.0 as torchcam's ``SSCAM``.

A masked pass yields every class's logit, so the K × classes logits are cached per (layer,
options): every other target and channel subset is instant. Channels whose maps are equal after min-max
scaling have the same mask (every constant map: H_k = 0; maps with one active neuron at the same
place) and share one pass (``mask_groups``). The masked inputs
run through a checked-equivalent compiled copy of the model (``engine.compiled``: traced, frozen,
batch norms folded; about 1e-6 relative rounding; ``FAST = False`` runs the model itself). Between batches the method calls
``progress.report(done, total)``; a newer request cancels there and nothing is cached.
Weights do not come from neurons, so a neuron region is refused.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F

from .. import allocator, compiled, progress
from .. import targets
from . import MethodSpec, Result, register, weighted_sum

DEFAULT_BATCH_SIZE = 32
WEIGHTINGS = ("softmax", "probability")
_KEPT = 4  # cached logits tables per session (each K × classes float32)
#: Run batches through the compiled (or batch-norm-folded) equivalent copy of the model
#: (``engine.compiled``; about 0.56–0.7 × the eager time on resnet50 on a CPU).
FAST = True


def refuse_region(name: str, region) -> None:
    if region is not None:
        raise ValueError(
            f"region: {name}'s weights come from passes of whole images, not from neurons, so a neuron "
            "region has no meaning here; clear the region, or use a gradient method (gradcam, xgradcam, ...)"
        )


def scaled_masks(activations: torch.Tensor, size: tuple[int, int], align_corners: bool) -> torch.Tensor:
    """H_k: each map upsampled to ``size`` (bilinear) and min-max scaled to [0, 1] (constant maps: 0)."""
    up = F.interpolate(activations[:, None].float(), size=size, mode="bilinear", align_corners=align_corners)
    return minmax(up, (2, 3))


def minmax(values: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``values`` min-max scaled to [0, 1] over ``dims`` (where they are constant: 0)."""
    low = values.amin(dim=dims, keepdim=True)
    span = values.amax(dim=dims, keepdim=True) - low
    return torch.where(span > 0, (values - low) / torch.where(span > 0, span, torch.ones_like(span)),
                       torch.zeros_like(values))


def mask_groups(activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channels whose masks H_k are equal: ``(group of each channel, first channel of each group)``.

    H_k depends on A_k only through its min-max scaling at the layer's resolution (upsampling is
    linear and keeps constants), so maps equal after that scaling — every constant map, maps with
    one active neuron at the same place — make the same masked input (up to float rounding).
    """
    scaled = minmax(activations.flatten(1).double(), (1,))
    _, group = torch.unique(scaled.cpu(), dim=0, return_inverse=True)
    channels = torch.arange(len(group))
    first = torch.full((int(group.max()) + 1,), len(group)).scatter_reduce(0, group, channels, "amin")
    order = torch.argsort(first)  # groups numbered by their first channel, so the passes run in channel order
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    return rank[group], first[order]


def masked_logits(session, layer: str, align_corners: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
                  n: int = 1, sigma: float = 0.0, seed: int = 0) -> torch.Tensor:
    """K × classes logits of the masked inputs x ⊙ H_k (SS-CAM: averaged over ``n`` noisy masks); cached."""
    key = (layer, bool(align_corners), int(n), float(sigma), int(seed) if n > 1 or sigma else 0)
    store: OrderedDict = session.cached("score-cam logits", OrderedDict)
    if key in store:
        store.move_to_end(key)
        return store[key]
    activations = session.activations(layer)
    x = session.input
    size = tuple(x.shape[-2:])
    count = activations.shape[0]
    noisy = n > 1 or sigma > 0
    # noisy masks are all different; otherwise channels with the same mask share one pass
    group, first = (torch.arange(count), torch.arange(count)) if noisy else mask_groups(activations)
    sums = torch.zeros(len(first), session.num_classes, dtype=torch.float64)
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    jobs = [g for _ in range(n if noisy else 1) for g in range(len(first))]
    total = len(jobs)
    predict = compiled.predictor(session, total) if FAST else session.predict
    with allocator.heap_only(keep_all=True):  # a long run: batches reuse their freed blocks (engine/allocator.py)
        for start in range(0, total, batch_size):
            chunk = jobs[start:start + batch_size]
            masks = scaled_masks(activations[first[chunk]], size, align_corners)
            if noisy:  # drawn per mask, one at a time: the batching does not change them
                noise = torch.stack([torch.randn((1, *size), generator=generator) for _ in chunk])
                masks = masks + sigma * noise.to(masks.device)
            logits = predict(x * masks.to(x.dtype)).double().cpu()
            sums.index_add_(0, torch.tensor(chunk), logits)
            progress.report(min(start + batch_size, total), total)
    sums = sums[group]
    result = (sums / (n if noisy else 1)).float()
    store[key] = result
    while len(store) > _KEPT:
        store.popitem(last=False)
    return result


def score_weights(logits: torch.Tensor, target: int, weighting: str) -> torch.Tensor:
    """w_k from the K × classes masked logits: softmax over k of the target's logit, or p_c per mask."""
    if weighting == "probability":
        return torch.softmax(logits.double(), dim=1)[:, target].float()
    return torch.softmax(logits[:, target].double(), dim=0).float()


def _scorecam(session, layer, target, channels, region, align_corners, weighting, batch_size) -> Result:
    refuse_region("Score-CAM", region)
    logits = masked_logits(session, layer.name, align_corners, batch_size)
    weights = score_weights(logits, targets.logit_index(target, "Score-CAM"), weighting)
    activations = session.activations(layer.name)
    return Result(weighted_sum(activations, weights.to(activations.device), channels), weights)


def _sscam(session, layer, target, channels, region, n, sigma, seed, align_corners, weighting, batch_size) -> Result:
    refuse_region("SS-CAM", region)
    logits = masked_logits(session, layer.name, align_corners, batch_size, n=n, sigma=sigma, seed=seed)
    weights = score_weights(logits, targets.logit_index(target, "Score-CAM"), weighting)
    activations = session.activations(layer.name)
    return Result(weighted_sum(activations, weights.to(activations.device), channels), weights)


SCORE_PARAMS: dict[str, dict[str, Any]] = {
    "align_corners": {"type": "bool", "default": False, "label": "align corners (pytorch-grad-cam)"},
    "weighting": {"type": "choice", "default": "softmax", "choices": list(WEIGHTINGS), "label": "weights"},
    "batch_size": {"type": "int", "default": DEFAULT_BATCH_SIZE, "min": 1, "label": "batch size"},
}

register(MethodSpec(
    "scorecam", "Score-CAM", _scorecam, params=SCORE_PARAMS,
    description="Wang et al. 2020: channel weights = softmax of the target's logit on the input masked by each map.",
))
register(MethodSpec(
    "sscam", "SS-CAM", _sscam,
    params={
        "n": {"type": "int", "default": 35, "min": 1, "label": "noisy masks N"},
        "sigma": {"type": "float", "default": 2.0, "min": 0.0, "label": "mask noise σ"},
        "seed": {"type": "int", "default": 0, "min": 0, "max": 2**63 - 1, "label": "seed"},
        **SCORE_PARAMS,
    },
    description="Wang et al. 2020b: Score-CAM with the logits averaged over N noisy masks per channel.",
))
