"""Session: one model and one image; every expensive step runs once and is cached."""
from __future__ import annotations

import hashlib
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .. import images
from . import allocator, channels_last
from . import gradients as gradients_
from . import guards
from . import layers as layers_
from . import outputs as outputs_
from . import session_targets
from . import targets as targets_
from .cache import DEFAULT_BUDGET, CacheInfo, SessionCache, nbytes
from .capture import capture, serialised, training_mode_restored
from .explanation import Explanation
from .layers import LayerInfo
from .subsets import Channels, Region, channel_index, region_as_tuple, region_mask

_TARGETS_KEPT = 8


@contextmanager
def _grad_from_first_capture() -> Iterator[None]:
    """No autograd until ``capture(graph_from_first=True)`` switches it on; the caller's mode after."""
    with torch.inference_mode(False), torch.no_grad():
        yield


class Session:
    """One model and one image, explained at any selectable layer for any target.

    The first request runs one forward with hooks on every selectable layer (hooks released
    at once) and keeps the activations and the autograd graph. The first explanation of a target
    at a layer runs a backward from its logit down to that layer only; ``prefetch_gradients``
    finishes every other layer in one more pass (cancellable; see ``engine.gradients``). Every
    later layer, channel subset or region for that target is arithmetic on cached tensors.
    Everything cached shares one memory budget, ``cache_bytes`` (see ``cache_info()``).
    """

    def __init__(
        self,
        model: nn.Module,
        image: Any,
        preprocess: Callable[[np.ndarray], torch.Tensor] | None = None,
        classes: Sequence[str] | None = None,
        layers: Sequence[str] | None = None,
        device: str | torch.device | None = None,
        output: outputs_.OutputSpec = None,
        reshape: layers_.ReshapeSpec = None,
        task: str | None = None,
        cache_bytes: int | None = DEFAULT_BUDGET,
    ) -> None:
        """``output``: which part of the model's output to explain (a key, an index, a callable;
        default: a lone tensor, ``.logits``, ``["logits"]`` or ``["out"]``, see ``engine/outputs.py``).
        ``reshape``: how non-convolutional outputs become C × h × w grids (transformer tokens are
        automatic; see ``engine/layers.py``). ``task``: ``"classification"``, ``"multilabel"`` or
        ``"segmentation"`` (None: read from the output; see ``engine/targets.py``)."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        guards.check_model(model)
        allocator.keep_freed_memory()  # a new image's tensors reuse freed memory (engine/allocator.py)
        self.cache = SessionCache(cache_bytes)  # one budget for everything cached (engine/cache.py)
        from ..models import Preprocess

        self.model = model
        self.image: np.ndarray = images.load(image)
        self.preprocess = preprocess if preprocess is not None else Preprocess()
        if device is None:
            param = next(iter(model.parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
        self.device = torch.device(device)
        x = self.preprocess(self.image)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"preprocess: must return a torch.Tensor, returned {type(x).__name__}")
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[0] != 1:
            raise ValueError(f"preprocess: must return a 3×H×W or 1×3×H×W tensor, returned shape {tuple(x.shape)}")
        if not torch.isfinite(x.detach().sum()):  # a NaN or inf anywhere makes the sum one
            raise ValueError("image: the preprocessed tensor contains NaN or infinite values")
        x = guards.as_model_input(x, model, self.device)  # the model's dtype and device
        if x.is_inference():  # made under inference_mode(): autograd needs a normal tensor
            with torch.inference_mode(False):
                x = x.clone()
        self.input: torch.Tensor = x
        self.output = outputs_.check(output)
        self.task = session_targets.check_task(task)
        self.reshape = reshape  # kept for sessions made from this one (the sanity check's randomised models)
        self.all_layers: list[LayerInfo] = layers_.discover(model, self.input, reshape)
        if layers is not None:
            if isinstance(layers, str) or not len(layers):
                raise ValueError("layers: give a non-empty list of layer names, or None for all")
            chosen = {layers_.find(self.all_layers, n).name for n in layers}
            self.layers: list[LayerInfo] = [i for i in self.all_layers if i.name in chosen]
        else:
            self.layers = list(self.all_layers)
        self.classes: list[str] | None = list(classes) if classes is not None else None
        self._logits: torch.Tensor | None = None
        self._graph_ready = False  # whether _logits / _activations carry the autograd graph
        self._activations: dict[str, torch.Tensor] = {}
        self._unchecked: set[str] = set()  # captured layers not yet checked finite (guards.check_layer)
        self._unchecked_gradients: dict[Any, set[str]] = {}  # per target, stored by prefetch_gradients unchecked
        self._gradients = self.cache.namespace("gradients", max_items=_TARGETS_KEPT)
        self._fingerprint: str | None = None

    # ---- the model runs only here -------------------------------------------------------
    def forward_batch(
        self, inputs: torch.Tensor, names: Sequence[str], from_input: bool | None = True,
        model: nn.Module | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Run the model on a batch with autograd on, capturing ``names``; hooks released on return.

        For methods that need passes of their own (noisy copies, perturbations). Returns the
        logits and the captured activations, both still in the autograd graph. ``from_input=False``
        records the graph only from the shallowest captured layer on (cheaper; enough for
        gradients with respect to the captured activations, not to the input); ``from_input=None``
        records no graph at all (activations only, as cheap as a no-grad forward). ``model``: an
        equivalent copy of the session's model to run instead (``engine.folding``); by default the
        checked channels-last copy where one serves (``engine/channels_last.py``), else the model.
        """
        # copy what discovery saw modified in place downstream, and any name it does not know
        known = {i.name: i for i in self.all_layers}
        copy = [n for n in names if n not in known or known[n].modified_in_place]
        layouts = {n: known[n].layout for n in names if n in known}
        if model is None:
            twin = channels_last.twin(self.model, self.input, lambda out: outputs_.select(out, self.output))
            if twin is not None:
                try:
                    return self._forward(twin, inputs, list(names), from_input, copy, layouts, private=True)
                except Exception:  # the copy failed where the model may not: run the model, stop using it
                    channels_last.failed(self.model)
            model = self.model
        return self._forward(model, inputs, list(names), from_input, copy, layouts, private=False)

    def _forward(self, model: nn.Module, inputs: torch.Tensor, names: list[str], from_input: bool | None,
                 copy: list[str], layouts: dict, private: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``private``: ``model`` is the channels-last copy (in eval mode for good, nobody else calls it)."""
        mode = torch.no_grad() if from_input is None else gradients_.grad_enabled() if from_input else _grad_from_first_capture()
        eval_mode = nullcontext() if private else training_mode_restored(model)
        with serialised(model), mode, eval_mode, capture(model, names, copy, from_input is False, layouts,
                                                         private=private) as captured:
            logits = outputs_.select(model(inputs), self.output)
        return logits, dict(captured)

    def predict(self, inputs: torch.Tensor, model: torch.nn.Module | None = None) -> torch.Tensor:
        """Logits of a batch of model inputs, without autograd or hooks (perturbation methods);
        ``model``: an equivalent copy to run instead (``engine.folding.folded``)."""
        model = self.model if model is None else model
        with torch.no_grad(), training_mode_restored(model):
            floating = inputs.is_floating_point()  # in the model's dtype, as the session's input
            raw = model(inputs.to(self.device, self.input.dtype) if floating else inputs.to(self.device))
            return outputs_.select(raw, self.output)

    def _ensure_forward(self) -> None:
        """The cached forward with its autograd graph (replacing a graph-less one, see ``_ensure_activations``)."""
        if self._logits is not None and self._graph_ready:
            return
        with gradients_.grad_enabled():
            x = self.input.detach().requires_grad_(True)  # a new leaf sharing the input's storage
        # A session narrowed with layers= records the graph from its shallowest layer only;
        # input gradients ("neurons") then take a pass of their own.
        self._graph_from_input = len(self.layers) == len(self.all_layers)
        logits, captured = self.forward_batch(x, [i.name for i in self.layers], from_input=self._graph_from_input)
        guards.check_forward(self.model, logits if isinstance(logits, torch.Tensor) else torch.zeros(0), captured,
                             [i.name for i in self.layers])
        if self.classes is not None and isinstance(logits, torch.Tensor) and logits.dim() > 1 and len(self.classes) != logits.shape[1]:
            raise ValueError(f"classes: {len(self.classes)} names for a model with {logits.shape[1]} outputs")
        self._input_leaf = x
        self._activations, self._unchecked = captured, set(captured)
        self._logits = logits
        self._graph_ready = True

    def _ensure_activations(self) -> None:
        """Activations and logits from whichever forward ran (methods needing no gradient: no graph)."""
        if self._logits is None:
            self._ensure_forward()

    # ---- cached tensors ---------------------------------------------------------------
    @property
    def logits(self) -> torch.Tensor:
        """The pre-softmax scores of the image (classes, or classes × H × W), detached."""
        self._ensure_activations()
        return outputs_.class_scores(self._logits)[0].detach()

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[0])

    def activations(self, layer: str) -> torch.Tensor:
        """Activations of ``layer`` for the image, C × h × w, detached."""
        info = self.layer_info(layer)
        self._ensure_activations()
        self._check_layer(info.name)
        return self._activations[info.name][0].detach()

    def _check_layer(self, name: str) -> None:
        """Refuse a layer whose captured activations are not finite, the first time it is used."""
        if name in self._unchecked and self._logits is not None:
            guards.check_layer(self.model, self._logits, self._activations, [i.name for i in self.layers], name)
            self._unchecked.discard(name)

    def gradients(self, layer: str, target: Any = None) -> torch.Tensor:
        """∂ score(target) / ∂ activations of ``layer``, C × h × w (a backward to that layer only
        the first time; see ``engine.gradients``)."""
        info = self.layer_info(layer)
        return gradients_.layer_gradients(self, self.resolve_target(target), info.name)

    def prefetch_gradients(self, target: int | str | None = None) -> int:
        """Finish every layer's gradient for ``target`` in one backward; how many it computed.

        Cancellable between layers through ``progress.reporting(cancelled=...)`` (what was
        finished stays); a widget calls it after the first map is shown.
        """
        return gradients_.complete(self, self.resolve_target(target))

    def _gradients_for(self, target: int) -> dict[str, torch.Tensor]:
        return gradients_.all_gradients(self, target)

    def _gradient_slot(self, target: int) -> dict[str, torch.Tensor]:
        """``target``'s layer gradients computed so far (a dict to fill, then ``_keep_gradients``)."""
        found = self._gradients.get(target)
        if found is None:
            return {}
        self._gradients.move_to_end(target)
        return found

    def _keep_gradients(self, target: int, done: dict[str, torch.Tensor], check: bool = True) -> None:
        """Keep ``target``'s gradients within the budget, after checking them (finite, not all zero;
        ``gradients._backward`` has already run the rest of the layers where the ones done so far
        are all zero, so that only every layer together can call a score constant)."""
        if check:
            order = [i.name for i in self.layers if i.name in done]
            guards.check_gradients(done, order, target, self.class_name(target))
        self._gradients[target] = done

    def input_gradient(self, layer: str, select: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """∂ sum(select(A)) / ∂ model input (1 × 3 × H × W), from the cached forward graph.

        ``select`` cuts neurons from ``layer``'s activations (1 × C × h × w, still in the graph).
        """
        info = self.layer_info(layer)
        self._ensure_forward()
        if self._graph_from_input:
            self._check_layer(info.name)
            leaf, activations = self._input_leaf, self._activations[info.name]
        else:
            with gradients_.grad_enabled():
                leaf = self.input.detach().requires_grad_(True)
            activations = self.forward_batch(leaf, [info.name])[1][info.name]
        with gradients_.grad_enabled():
            (g,) = torch.autograd.grad(select(activations).sum(), leaf, retain_graph=True)
        return g.detach()

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """A value computed once per session and key (segmentations, clusterings, ...), kept
        within the session's memory budget (least recently used dropped first)."""
        return self.cache.get_or_compute(key, compute)

    def cache_info(self) -> CacheInfo:
        """What this session caches, by kind, next to its budget (see ``engine/cache.py``)."""
        return self.cache.info(forward_bytes=nbytes([self._logits, self._activations]))

    # ---- names and validation -----------------------------------------------------------
    @property
    def default_layer(self) -> str:
        """The deepest selectable layer (for transformers: whose map is not structurally blank)."""
        return layers_.default_layer(self)

    def layer_info(self, layer: str | None) -> LayerInfo:
        """The selectable layer ``layer`` (None: the default); ValueError with close matches."""
        if layer is None:
            return layers_.find(self.layers, self.default_layer)
        info = layers_.find(self.all_layers, layer)
        if info not in self.layers:
            raise ValueError(
                f"layer: {layer!r} was left out by this session's layers=; valid: "
                f"{', '.join(i.name for i in self.layers)}"
            )
        return info

    def resolve_target(self, target: Any) -> int | targets_.Target:
        """A class index from an index, a class name, or None (the top class); a Target for
        multi-label, segmentation and callable targets (see ``engine/targets.py``)."""
        self._ensure_activations()
        return session_targets.resolve(self, target)

    def class_name(self, target: int | targets_.Target) -> str:
        return targets_.name(target, self.classes)

    def top(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The k most probable classes: ``[(class_index, class_name, probability), ...]`` (sigmoid
        probabilities for multi-label, pixel shares of the classes present for segmentation)."""
        self._ensure_activations()
        return session_targets.top(self, k)

    @property
    def image_fingerprint(self) -> str:
        """A stable hash of the image's pixels."""
        digest = hashlib.blake2b(self.image.tobytes(), digest_size=12)
        digest.update(str(self.image.shape).encode())
        return digest.hexdigest()

    @property
    def model_fingerprint(self) -> str:
        """A stable hash of the model's parameters and buffers (computed once per session)."""
        if self._fingerprint is None:
            digest = hashlib.blake2b(digest_size=12)
            for name, tensor in self.model.state_dict().items():
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def clusters(self, layer: str | None = None, target: int | str | None = None, seed: int = 0) -> list:
        """INV clusters of ``layer``'s feature maps, heaviest first (see ``engine.clusters``); cached."""
        from .clusters import cluster_layer

        return list(cluster_layer(self, layer, target, seed).clusters)

    # ---- explanations -------------------------------------------------------------------
    def explain(
        self,
        method: str = "gradcam",
        layer: str | None = None,
        target: targets_.TargetSpec = None,
        channels: Channels = None,
        region: Region = None,
        **params: Any,
    ) -> Explanation:
        """Explain ``target`` at ``layer`` with ``method`` (see ``camwidget.engine.methods.available()``).

        ``channels`` restricts the map to a subset of feature maps (weights unchanged);
        ``region`` — ``(row0, col0, row1, col1)`` half-open on the layer's h × w grid, or a boolean
        h × w mask — computes the weights from those neurons only.
        """
        from . import methods

        if isinstance(layer, (list, tuple)):  # several layers: fuse their maps (methods/fusion.py)
            from .methods.fusion import fuse

            return fuse(self, method, layer, target, channels, region, **params)
        spec = methods.get(method)
        checked = spec.check_params(params)
        gradients_.before(self, spec, checked)  # a graph-less forward / work that overlaps it
        info = spec.resolve_layer(self, layer)
        target_index = self.resolve_target(target)
        index = channel_index(channels, info.channels)
        mask = region_mask(region, info.grid)
        result = spec.compute(self, info, target_index, index, mask, **checked)
        blank = not bool((result.map > 0).any())
        explanation = Explanation(
            map=np.ascontiguousarray(result.map.detach().float().cpu().numpy()),
            weights=None if result.weights is None else result.weights.detach().float().cpu().numpy(),
            method=spec.name,
            layer=info.name,
            target=targets_.class_index(target_index),
            image_size=tuple(self.image.shape[:2]),
            channels=None if index is None else index.tolist(),
            region=region_as_tuple(mask),
            class_name=self.class_name(target_index),
            resolved_target=target_index,
            mask=result.mask,
            segments=result.segments,
            params=dict(result.params),
            source=self.token,
        )
        if blank and result.weights is not None and spec.needs_graph:  # a gradient method: why it is blank
            explanation.blank_reason = layers_.blank_reason(self, info, target_index)
        return explanation

    @property
    def token(self) -> str:
        """A unique id of this session; its explanations carry it (``Explanation.source``)."""
        if getattr(self, "_token", None) is None:
            import uuid

            self._token = uuid.uuid4().hex
        return self._token

    def evaluate(self, explanation: Explanation, metrics: Sequence[str] | str = ("deletion", "insertion", "avg-drop"),
                 **options: Any) -> dict:
        """Faithfulness metrics of ``explanation`` (one of this session's), batched and cached (``engine.metrics``)."""
        from .metrics import evaluate

        return evaluate(self, explanation, metrics, **options)

    def __repr__(self) -> str:
        h, w = self.image.shape[:2]
        return f"Session({type(self.model).__name__}, image {h}×{w}, {len(self.layers)} layers)"
