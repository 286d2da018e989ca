"""The batched explainer: B items in one forward with hooks on the requested layers, one
``torch.autograd.grad`` of the sum of each item's target logit, then every method at every layer.

The items of a batch do not interact (the model runs in eval mode, so batch normalisation uses
its running statistics), so the gradient of Σ_b logit_b(t_b) with respect to item b's
activations is item b's own gradient. Grad-CAM and Grad-CAM++ are computed for the whole batch
at once; every other registered method runs per item on an :class:`ItemSession` holding the
item's slice of the batch's tensors — the same code as a one-image Session.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import Session
from ..engine import methods as methods_
from .item_session import ItemSession
from .items import Item, ItemError, ItemSource
from .targets import resolve

BATCHED = ("gradcam", "gradcam++")


@dataclass
class ItemResult:
    """What one item produced: its table row and its maps / weights per (method, layer)."""

    id: str
    index: int
    target: int = -1
    score: float = float("nan")
    probability: float = float("nan")
    label: str = ""
    error: str = ""
    maps: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    weights: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "target": self.target, "score": self.score,
                "probability": self.probability, "label": self.label, "error": self.error}


def batched_gradcam(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM of a batch: w_bk = mean_ij g_bkij, M_b = ReLU(Σ_k w_bk A_bk)."""
    w = g.mean(dim=(2, 3))
    return torch.relu(torch.einsum("bk,bkhw->bhw", w.to(a.dtype), a)), w


def batched_gradcampp(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM++ of a batch, the paper's α = g² / (2g² + (Σ_ab A_ab) g³).

    Only neurons with g > 0 contribute (α · ReLU(g)), and there α · g = g / (2 + (Σ_ab A_ab) g):
    the same weights as the one-image method without forming g² and g³ (float64, as it)."""
    gd = g.double()
    total = a.double().sum(dim=(2, 3), keepdim=True)
    denominator = 2 + total * gd
    valid = (gd > 0) & (denominator != 0)
    w = torch.where(valid, gd / torch.where(valid, denominator, torch.ones_like(denominator)),
                    torch.zeros_like(gd)).sum(dim=(2, 3)).float()
    return torch.relu(torch.einsum("bk,bkhw->bhw", w.to(a.dtype), a)), w


_FAST: dict[str, Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {
    "gradcam": batched_gradcam, "gradcam++": batched_gradcampp,
}


def cams_in_backward(objective: torch.Tensor, captured: dict[str, torch.Tensor], wanted: dict[str, list[str]],
                     rows: torch.Tensor | None = None) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """``{(method, layer): (maps, weights)}`` of the batched methods ``wanted[layer]`` at every
    layer, each computed by a hook on the layer's activations when its gradient arrives during
    the one backward pass of ``objective`` (``rows``: the items to keep, None for all).

    The same arithmetic on the same tensors as ``autograd.grad`` over every layer followed by the
    maps, but each gradient is dropped as soon as its maps are made instead of all being held
    to the end. A layer whose gradient does not pass on the way to the captured leaves (it does
    not reach the output, or sits on a path of its own) gets its own gradient afterwards —
    zeros when it does not reach the output, as ``allow_unused`` gives."""
    out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def maps_of(layer: str, g: torch.Tensor) -> None:
        a = captured[layer].detach()
        a, g = (a, g.detach()) if rows is None else (a[rows], g.detach()[rows])
        for method in wanted[layer]:
            maps, weights = _FAST[method](a, g)
            out[method, layer] = (maps.float().cpu().numpy(), weights.float().cpu().numpy())

    handles = [captured[n].register_hook(lambda g, n=n: maps_of(n, g)) for n in wanted if captured[n].requires_grad]
    leaves = [captured[n] for n in wanted if captured[n].requires_grad and captured[n].grad_fn is None]
    try:
        if leaves:
            torch.autograd.grad(objective, leaves, allow_unused=True, retain_graph=True)
    finally:
        for handle in handles:
            handle.remove()
    missing = [n for n in wanted if (wanted[n][0], n) not in out]
    if missing:
        usable = [n for n in missing if captured[n].requires_grad]
        grads = dict(zip(usable, torch.autograd.grad(objective, [captured[n] for n in usable], allow_unused=True)
                         if usable else ()))
        for n in missing:
            g = grads.get(n)
            maps_of(n, torch.zeros_like(captured[n]) if g is None else g)
    return out


class BatchExplainer:
    """One model, its layers and methods; :meth:`run` explains a list of item indices."""

    def __init__(self, model: nn.Module, preprocess, classes: Sequence[str] | None, source: ItemSource,
                 methods: Sequence[str], layers: Sequence[str] | None, params: dict[str, dict] | None = None,
                 targets: Any = None, on_error: str = "raise",
                 per_item: Callable[[ItemSession, ItemResult], None] | None = None) -> None:
        self.model, self.preprocess, self.classes, self.source = model, preprocess, classes, source
        self.targets, self.on_error = targets, on_error
        self.per_item = per_item  # called with each item's session after the methods (campaigns)
        self.methods = [methods_.get(m).name for m in methods]
        params = params or {}
        self.params = {m: methods_.get(m).check_params(dict(params.get(m, {}))) for m in self.methods}
        self._template: Session | None = None
        self._layer_request = None if layers is None else list(layers)
        self.layers: list[str] = []
        self.layers_of: dict[str, list[str]] = {}
        self._fingerprint: str | None = None

    # ---- setup from the first readable item ---------------------------------------------
    def template(self, image: np.ndarray) -> Session:
        """A one-image Session that fixes the layers (and their shapes) for the whole run."""
        if self._template is None:
            session = Session(self.model, image, preprocess=self.preprocess, classes=self.classes,
                              layers=self._layer_request)
            self._template = session
            self.layers = [i.name for i in session.layers]
            self.input_shape = tuple(session.input.shape[1:])
            self._fingerprint = session.model_fingerprint
        return self._template

    def probe(self, image: np.ndarray) -> dict[str, Any]:
        """What the store needs to know before any batch: the layers and their shapes, the model
        input size, and per method whether its maps lie on the layer's grid or at the model input
        (segment methods), and whether it has channel weights — from one explanation per method
        at the deepest layer of ``image``."""
        session = self.template(image)
        kinds, weighted, layers_of = {}, {}, {}
        for method in self.methods:
            spec = methods_.get(method)
            names = list(self.layers)
            if spec.default_layer is not None and self._layer_request is None:
                names = [spec.resolve_layer(session, None).name]  # a method defined at one layer (CAM)
            layers_of[method] = names
            if method in _FAST and not self.params[method]:
                kinds[method], weighted[method] = "grid", True
                continue
            last = session.layer_info(names[-1])
            e = session.explain(method, layer=last.name, **self.params[method])
            kinds[method] = "grid" if tuple(e.map.shape) == last.grid else "input"
            weighted[method] = e.weights is not None
        self.layers_of = layers_of
        return {"layers": [(i.name, list(i.shape)) for i in session.layers], "input": list(self.input_shape[1:]),
                "kinds": kinds, "weighted": weighted, "layers_of": layers_of, "model": self._fingerprint}

    # ---- one batch ------------------------------------------------------------------------
    def run(self, indices: Sequence[int]) -> list[ItemResult]:
        results, items, inputs = [], [], []
        for index in indices:
            result = ItemResult(self.source.ids[index], int(index))
            results.append(result)
            try:
                item = self.source.raw(index)
                result.label = "" if item.label is None else str(item.label)
                self.source.load(item)
                x = self._input(item)
            except (ItemError, ValueError, TypeError) as error:
                self._failed(result, error)
                continue
            items.append((result, item))
            inputs.append(x)
        if not items:
            return results
        template = self.template(items[0][1].image)  # (made by the first item's _input)
        x = torch.cat(inputs).to(template.device)
        logits, captured = template.forward_batch(x, self.layers, from_input=False)
        chosen = []
        for b, (result, item) in enumerate(items):
            try:
                result.target = resolve(self.targets, item, logits[b].detach(), self.classes)
            except (ValueError, TypeError) as error:
                self._failed(result, error)
                continue
            chosen.append(b)
        if not chosen:
            return results
        rows = torch.tensor(chosen)
        targets = torch.tensor([items[b][0].target for b in chosen])
        every = len(chosen) == len(items)  # the usual case: no copy of the batch's tensors
        if self._all_fast():
            # Grad-CAM / Grad-CAM++ only: each layer's maps are made as its gradient arrives in
            # the backward pass, so no gradient outlives its maps (the floor's peak memory)
            with torch.inference_mode(False), torch.enable_grad():
                cams = cams_in_backward(logits[rows, targets].sum(), captured, self._fast_layers(),
                                        None if every else rows)
            del captured
            self._scores(items, chosen, logits)
            for (method, layer), (maps, weights) in cams.items():
                for j, b in enumerate(chosen):
                    items[b][0].maps[method, layer] = maps[j]
                    items[b][0].weights[method, layer] = weights[j]
            return results
        with torch.inference_mode(False), torch.enable_grad():
            objective = logits[rows, targets].sum()
            grads = torch.autograd.grad(objective, [captured[n] for n in self.layers], allow_unused=True)
        activations = {n: captured[n].detach() if every else captured[n].detach()[rows] for n in self.layers}
        gradients = {n: (torch.zeros_like(activations[n]) if g is None else g.detach() if every else g.detach()[rows])
                     for n, g in zip(self.layers, grads)}
        del captured, grads, objective
        self._scores(items, chosen, logits)
        for method in self.methods:
            if method in _FAST and not _has_options(self.params[method]):
                for layer in self.layers_of[method]:
                    batch_maps, batch_weights = _FAST[method](activations[layer], gradients[layer])
                    maps, weights = batch_maps.float().cpu().numpy(), batch_weights.float().cpu().numpy()
                    for j, b in enumerate(chosen):
                        items[b][0].maps[method, layer] = maps[j]
                        items[b][0].weights[method, layer] = weights[j]
                continue
            for j, b in enumerate(chosen):
                result, item = items[b]
                try:
                    session = self._item_session(item, inputs[b], logits[b:b + 1].detach(), activations, gradients,
                                                 j, result.target)
                    for layer in self.layers_of[method]:
                        e = session.explain(method, layer=layer, target=result.target, **self.params[method])
                        result.maps[method, layer] = e.map
                        if e.weights is not None:
                            result.weights[method, layer] = e.weights
                except ValueError as error:
                    self._failed(result, ValueError(f"item {result.id!r}: method {method!r}: {error}"))
        if self.per_item is not None:
            for j, b in enumerate(chosen):
                result, item = items[b]
                if result.error:
                    continue
                session = self._item_session(item, inputs[b], logits[b:b + 1].detach(), activations, gradients,
                                             j, result.target)
                try:
                    self.per_item(session, result)
                except ValueError as error:
                    self._failed(result, ValueError(f"item {result.id!r}: {error}"))
        return results

    def _all_fast(self) -> bool:
        return self.per_item is None and all(m in _FAST and not _has_options(self.params[m]) for m in self.methods)

    def _fast_layers(self) -> dict[str, list[str]]:
        """layer → the batched methods wanted there."""
        wanted: dict[str, list[str]] = {}
        for method in self.methods:
            for layer in self.layers_of[method]:
                wanted.setdefault(layer, []).append(method)
        return wanted

    @staticmethod
    def _scores(items, chosen: list[int], logits: torch.Tensor) -> None:
        probabilities = torch.softmax(logits.detach().float(), dim=1)
        for b in chosen:
            result = items[b][0]
            result.score = float(logits[b, result.target].detach())
            result.probability = float(probabilities[b, result.target])

    def _item_session(self, item: Item, x, logits, activations, gradients, j: int, target: int) -> ItemSession:
        return ItemSession.from_batch(
            self.model, item.image, x, self.preprocess, self.classes, self.layers, logits,
            {n: a[j:j + 1] for n, a in activations.items()}, target,
            {n: g[j] for n, g in gradients.items()}, self._fingerprint,
        )

    def _input(self, item: Item) -> torch.Tensor:
        self.template(item.image)
        x = self.preprocess(item.image)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"preprocess: must return a torch.Tensor, returned {type(x).__name__}")
        if x.dim() == 3:
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape or x.shape[0] != 1:
            raise ValueError(
                f"preprocess: item {item.id!r} becomes a {tuple(x.shape)} tensor, but the batch needs "
                f"1×{'×'.join(map(str, self.input_shape))}; use a preprocess that resizes to one size"
            )
        if not torch.isfinite(x.detach().sum()):
            raise ValueError(f"image: item {item.id!r}: the preprocessed tensor contains NaN or infinite values")
        return x.detach()

    def _failed(self, result: ItemResult, error: Exception) -> None:
        if self.on_error == "raise":
            raise error
        result.error = str(error)
        result.maps.clear()
        result.weights.clear()
        result.extra.clear()


def _has_options(params: dict[str, Any]) -> bool:
    return bool(params)
