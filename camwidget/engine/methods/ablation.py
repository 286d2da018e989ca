"""Ablation-CAM (Desai & Ramaswamy 2020): channel weights from the drop when a feature map is zeroed.

    w_k = (y_c − y_c^{k off}) / y_c,   M = ReLU(Σ_{k ∈ K'} w_k A_k)

y_c is the target's logit, y_c^{k off} the logit with channel k of the layer set to 0. The ablated
passes run through ``Session.predict`` in batches of ``batch_size`` copies of the input, a forward
hook on the layer zeroing channel k of copy k (registered for the batch, released always).

pytorch-grad-cam's ``AblationCAM`` writes ``min(output) − 1e7`` instead of 0 where a layer's output
has no zero (a layer that is not followed by a ReLU) — after a following ReLU that is zero, elsewhere
it is not the paper's ablation. We zero the channel.

Every ablated pass yields every class's logit: the K × classes table is cached per layer, so other
targets and channel subsets are instant. Between batches ``progress.report(done, K)``; a newer
request cancels there and nothing is cached. A neuron region is refused (weights come from whole
passes). Where y_c = 0 the relative drop is undefined (ValueError).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .. import progress
from .. import targets
from . import MethodSpec, Result, register, weighted_sum
from .scorecam import refuse_region

DEFAULT_BATCH_SIZE = 32


@contextmanager
def ablating(module: torch.nn.Module, channels: list[int]) -> Iterator[None]:
    """While active, ``module``'s output has channel ``channels[i]`` of batch item i set to 0."""
    index = torch.tensor(channels, dtype=torch.long)

    def hook(_module, _inputs, output):
        rows = torch.arange(len(channels), device=output.device)
        ablated = output.clone()
        ablated[rows, index.to(output.device)] = 0
        return ablated

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def ablated_logits(session, layer: str, batch_size: int = DEFAULT_BATCH_SIZE) -> torch.Tensor:
    """K × classes logits with channel k of ``layer`` zeroed (row k); cached per layer."""
    store: OrderedDict = session.cached("ablation-cam logits", OrderedDict)
    if layer in store:
        store.move_to_end(layer)
        return store[layer]
    count = session.activations(layer).shape[0]
    module = session.model.get_submodule(layer)
    rows = []
    for start in range(0, count, batch_size):
        channels = list(range(start, min(start + batch_size, count)))
        batch = session.input.expand(len(channels), *session.input.shape[1:])
        with ablating(module, channels):
            rows.append(session.predict(batch).float().cpu())
        progress.report(channels[-1] + 1, count)
    result = torch.cat(rows)
    store[layer] = result
    while len(store) > 4:
        store.popitem(last=False)
    return result


def _ablationcam(session, layer, target, channels, region, batch_size) -> Result:
    refuse_region("Ablation-CAM", region)
    target = targets.logit_index(target, "Ablation-CAM")
    logits = ablated_logits(session, layer.name, batch_size)
    original = float(session.logits[target])
    if original == 0:
        raise ValueError("target: its logit is exactly 0, so Ablation-CAM's relative drop (y − y_k) / y is undefined")
    weights = ((original - logits[:, target].double()) / original).float()
    activations = session.activations(layer.name)
    return Result(weighted_sum(activations, weights.to(activations.device), channels), weights)


register(MethodSpec(
    "ablationcam", "Ablation-CAM", _ablationcam,
    params={"batch_size": {"type": "int", "default": DEFAULT_BATCH_SIZE, "min": 1, "label": "batch size"}},
    description="Desai & Ramaswamy 2020: channel weights = relative drop of the logit when the map is zeroed.",
))
