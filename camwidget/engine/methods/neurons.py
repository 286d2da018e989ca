""""What drives these neurons": the input gradient of a selection of a layer's activations.

``session.explain("neurons", layer=..., channels=K', region=R)`` differentiates
S = Σ_{k ∈ K', (i, j) ∈ R} A_kij (all channels / the whole grid when not given) with respect to the
model input, and shows max_colour |∂S/∂x| as a map at the model input's resolution (the
Explanation's ``upsampled()`` resizes it to the image). It does not depend on the target class;
there are no channel weights.

With the defaults (n = 1, σ unset) it is the plain gradient, taken from the session's cached
forward graph — no new forward pass. With n > 1 (or an explicit σ > 0) the gradient is averaged
over noisy copies x + N(0, σ²), drawn exactly as Smooth Grad-CAM++ draws them (same seed, same
noise; σ = None means 0.15 · input range), in batches of ``batch_size`` — SmoothGrad on the neurons.
"""
from __future__ import annotations

from collections import OrderedDict

import torch

from .. import progress
from . import MethodSpec, Result, register
from .smooth import DEFAULT_BATCH_SIZE, NOISE_PARAMS, _lru, _remember, check_noise, default_sigma, noisy_batches


def _select(activations: torch.Tensor, channels: torch.Tensor | None, region: torch.Tensor | None) -> torch.Tensor:
    """The selected neurons of N × C × h × w activations, summed per image (a length-N vector)."""
    if channels is not None:
        activations = activations[:, channels.to(activations.device)]
    if region is not None:
        activations = activations[:, :, region.to(activations.device)]
    return activations.flatten(1).sum(1)


def input_gradient(
    session,
    layer: str,
    channels: torch.Tensor | None = None,
    region: torch.Tensor | None = None,
    n: int = 1,
    sigma: float | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> torch.Tensor:
    """∂ Σ_{selected} A / ∂ x, 1 × 3 × H × W at the model input's resolution (averaged over copies)."""
    check_noise(n, sigma, batch_size)
    if n == 1 and not sigma:
        return session.input_gradient(layer, lambda activations: _select(activations, channels, region))
    sigma = default_sigma(session.input) if sigma is None else float(sigma)
    total = torch.zeros_like(session.input, dtype=torch.float64)
    for done, batch in noisy_batches(session.input, n, sigma, seed, batch_size):
        _, captured = session.forward_batch(batch, [layer])
        with torch.enable_grad(), torch.inference_mode(False):
            (g,) = torch.autograd.grad(_select(captured[layer], channels, region).sum(), batch)
        total += g.detach().double().sum(0, keepdim=True)
        del captured, g
        progress.report(done, n)
    return (total / n).float()


def _neurons(session, layer, target, channels, region, n, sigma, seed, batch_size) -> Result:
    key = (
        layer.name,
        None if channels is None else tuple(channels.tolist()),
        None if region is None else region.numpy().tobytes(),
        n, sigma, seed,
    )
    store: OrderedDict = _lru(session, "neurons input gradients")
    if key in store:
        store.move_to_end(key)
        map_ = store[key]
    else:
        gradient = input_gradient(session, layer.name, channels, region, n, sigma, seed, batch_size)
        map_ = _remember(store, key, gradient[0].abs().amax(dim=0))
    resolved = sigma if (n == 1 and not sigma) else (default_sigma(session.input) if sigma is None else float(sigma))
    return Result(map_, None, params={"n": n, "sigma": resolved, "seed": seed})


register(MethodSpec(
    "neurons", "Neurons (input gradient)", _neurons,
    params={
        **NOISE_PARAMS,
        "n": {"type": "int", "default": 1, "min": 1, "label": "noisy copies n (1: plain gradient)"},
        "sigma": {**NOISE_PARAMS["sigma"], "label": "noise σ (None: 0.15 · input range when n > 1)"},
    },
    description="What drives the selected neurons: max over colours of |∂ Σ A_selected / ∂ input|, "
                "optionally averaged over noisy copies (SmoothGrad).",
))
