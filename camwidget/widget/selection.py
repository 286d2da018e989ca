"""What the user selects, validated once: a frozen :class:`Selection` and the view-only values.

Every value that reaches the kernel — from a notebook cell or from a browser message — passes
through here before it touches a trait or the worker. A selection value is checked by the same
code the engine uses (``engine/subsets.py`` for channels and regions, the method's parameter
schema for ``params``, the session for layers and targets), so one wrong value gets one message
everywhere. Refusals are ``ValueError``/``TypeError`` whose message starts with the value's name.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from ..engine import Session
from ..engine import methods as _methods
from ..engine import session_targets, targets
from ..engine.methods.fusion import check_fusable
from ..engine.subsets import channel_index, region_mask, region_as_tuple
from .wire import COLORMAPS

#: The selection's fields, in the order they are validated (later ones depend on earlier ones).
FIELDS = ("layer", "method", "fuse_layers", "fuse_gamma", "target", "target_box", "params", "channels", "region")
#: Values drawn in the browser only: they never reach the session.
VIEW = ("opacity", "colormap", "outline", "hide_rest")


@dataclass(frozen=True)
class Selection:
    """One validated selection: what the kernel explains. Build with :meth:`initial`, change with
    :meth:`changed`; never construct from unchecked values."""

    layer: str
    method: str
    target: Any  # a class index, or a resolved camwidget.targets.Target
    #: A segmentation target's box on the output map (output pixels), or None.
    target_box: tuple[int, int, int, int] | None = None
    channels: tuple[int, ...] | None = None
    region: tuple[int, int, int, int] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Layers whose maps are fused (depth order, two or more, ``layer`` among them); () = one layer.
    fuse_layers: tuple[str, ...] = ()
    #: LayerCAM's tanh(γ · M / max M) scaling of each map before fusing (None: off).
    fuse_gamma: float | None = None

    @classmethod
    def initial(cls, session: Session, **values: Any) -> Selection:
        """The selection for ``values`` (defaults for the missing ones); raises on a bad value."""
        layer = values.get("layer")
        new = cls(layer=session.layer_info(None).name if layer is None else check_layer(session, layer), method=check_method(values.get("method") or "gradcam++"),
                  target=check_target(session, values.get("target")))
        if isinstance(new.target, targets.SegmentationTarget) and new.target.box is not None:
            new = replace(new, target_box=new.target.box)  # a SegmentationTarget's box shows as target_box
        for name in ("fuse_layers", "fuse_gamma", "target_box", "params", "channels", "region"):
            if values.get(name) is not None:
                new = new._with(session, name, values[name])
        return new

    def changed(self, session: Session, changes: Mapping[str, Any]) -> tuple[Selection, dict[str, str]]:
        """The selection with ``changes`` applied: (new selection, {name: refusal message}).

        Valid changes apply even when others are refused. A new layer clears ``channels`` and
        ``region`` (they index the old layer) unless the same change gives them; a new method
        keeps only the parameters it has; a new layer or target sends an INV ``cluster`` back
        to 0 (the heaviest). Fusing (``fuse_layers``) clears ``channels`` and ``region``; a new
        ``layer``, a channel subset, a region or a method that cannot fuse returns to one layer.
        """
        refused: dict[str, str] = {}
        new = self
        for name in FIELDS:
            if name not in changes:
                continue
            try:
                new = new._with(session, name, changes[name])
            except Exception as exc:  # noqa: BLE001 - every refusal becomes a message, never a traceback
                refused[name] = refusal(name, exc)
        return new, refused

    def _with(self, session: Session, name: str, value: Any) -> Selection:
        if name == "layer":
            layer = check_layer(session, value)
            if layer == self.layer:
                return self
            cleared = replace(self, layer=layer, channels=None, region=None, fuse_layers=())
            return cleared._first_cluster()
        if name == "method":
            method = check_method(value)
            if method == self.method:
                return self
            schema = _methods.get(method).params
            new = replace(self, method=method, params={k: v for k, v in self.params.items() if k in schema})
            try:
                check_fusable(method)
            except ValueError:
                new = replace(new, fuse_layers=())  # LIME, SeCAM, INV, CAM: one layer again
            return new
        if name == "fuse_layers":
            layers = check_fuse_layers(session, self.method, value)
            if layers == self.fuse_layers:
                return self
            if not layers:
                return replace(self, fuse_layers=())
            layer = self.layer if self.layer in layers else layers[-1]
            return replace(self, layer=layer, fuse_layers=layers, channels=None, region=None)
        if name == "fuse_gamma":
            return replace(self, fuse_gamma=check_fuse_gamma(value))
        if name == "target":
            target = check_target(session, value)
            box = target.box if isinstance(target, targets.SegmentationTarget) else None
            if box is None and self.target_box is not None and isinstance(target, targets.SegmentationTarget) \
                    and not isinstance(value, targets.Target):
                # A class picked while an output box is drawn: that class in the same box.
                box = self.target_box
                target = targets.SegmentationTarget(int(target.index or 0), box=box).resolved(session)
            if target == self.target and box == self.target_box:
                return self
            return replace(self, target=target, target_box=box)._first_cluster()
        if name == "target_box":
            box = check_target_box(session, self.target, value)
            if box == self.target_box:
                return self
            index = targets.class_index(self.target)  # not None: check_target_box refuses a custom score
            target = targets.SegmentationTarget(int(index or 0), box=box).resolved(session)
            return replace(self, target=target, target_box=box)._first_cluster()
        if name == "params":
            return replace(self, params=check_params(self.method, value))
        if name == "channels":
            channels = check_channels(session, self.layer, value)
            return replace(self, channels=channels, fuse_layers=self.fuse_layers if channels is None else ())
        if name == "region":
            region = check_region(session, self.layer, value)
            return replace(self, region=region, fuse_layers=self.fuse_layers if region is None else ())
        raise KeyError(name)

    def _first_cluster(self) -> Selection:
        if self.params.get("cluster"):
            return replace(self, params={**self.params, "cluster": 0})
        return self

    def without_subset(self) -> Selection:
        """The same selection over every channel and neuron of ``layer`` alone (what the
        feature-map atlas ranks)."""
        return replace(self, channels=None, region=None, fuse_layers=())

    def explain_kwargs(self) -> dict[str, Any]:
        """Keywords for ``session.explain`` (a list of layers and ``gamma`` when fusing)."""
        if self.fuse_layers:
            return {"layer": list(self.fuse_layers), "target": self.target, "channels": None, "region": None,
                    "gamma": self.fuse_gamma, **self.params}
        return {"layer": self.layer, "target": self.target, "channels": None if self.channels is None else list(self.channels),
                "region": self.region, **self.params}

    def traits(self) -> dict[str, Any]:
        """The selection as the widget's synced traits hold it (JSON values)."""
        return {"layer": self.layer, "method": self.method, "target": self.target,
                "target_box": None if self.target_box is None else list(self.target_box),
                "channels": None if self.channels is None else list(self.channels),
                "region": None if self.region is None else list(self.region), "params": dict(self.params),
                "fuse_layers": list(self.fuse_layers), "fuse_gamma": self.fuse_gamma}

    @property
    def key(self) -> str:
        """What identifies an answer (equal keys, equal explanations)."""
        return json.dumps(self.traits(), sort_keys=True, default=lambda v: f"{v!r}#{hash(v)}")  # a Target: by value

    @property
    def target_json(self) -> int | str | None:
        """The target as the view shows it (in the panels' metadata): its class index, None for a
        custom score — never a Target object, which JSON cannot carry."""
        return targets.json_value(self.target)

    @property
    def seed(self) -> int:
        """The INV clustering seed this selection uses (0 for other methods)."""
        return int(self.params.get("seed", 0) or 0) if self.method == "inv" else 0


def refusal(name: str, exc: BaseException) -> str:
    """The message for a refused value: the exception's text, starting with the value's name."""
    text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
    return text if text.startswith(name) else f"{name}: {text}"


# ---- one check per value ------------------------------------------------------------------------
def _integral(value: Any) -> bool:
    """An int, or a JSON number that is one (3.0); never a bool, never non-finite."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()


def check_layer(session: Session, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"layer: expected a layer name, got {value!r}")
    return session.layer_info(value).name


def check_method(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"method: expected a method name, got {value!r}")
    return _methods.get(value).name


def check_target(session: Session, value: Any) -> Any:
    if _integral(value):
        value = int(value)
    elif isinstance(value, (float, np.floating)):
        raise TypeError(f"target: expected a class index (int), a class name or None, got {value!r}")
    if value is not None and not isinstance(value, (int, str, targets.Target)) and not callable(value):
        raise TypeError(f"target: expected a class index, a class name, None, a camwidget.targets.Target "
                        f"or a callable of the output, got {value!r}")
    return session.resolve_target(value)  # a class index, or a Target (multi-label, segmentation, a score)


def check_fuse_layers(session: Session, method: str, value: Any) -> tuple[str, ...]:
    """Two or more distinct layer names in depth order (``()`` for None or an empty list: one layer).

    One layer alone, a repeated layer, an unknown name and a method that cannot fuse
    (``engine.methods.fusion.NOT_FUSED``) are refused.
    """
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"fuse_layers: expected a list of layer names (or [] for one layer), got {value!r}")
    if not value:
        return ()
    if not all(isinstance(v, str) and v for v in value):
        raise TypeError(f"fuse_layers: expected layer names (strings), got {list(value)!r}")
    try:
        names = [session.layer_info(v).name for v in value]
    except ValueError as exc:
        raise ValueError(f"fuse_layers: {str(exc).removeprefix('layer: ')}") from None
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"fuse_layers: {twice[0]!r} is given twice; name each layer once")
    if len(names) < 2:
        raise ValueError(f"fuse_layers: fusing needs two or more layers, got {names}; "
                         f"to show one layer set layer (and fuse_layers to [])")
    try:
        check_fusable(method)
    except ValueError as exc:
        raise ValueError(f"fuse_layers: {str(exc).removeprefix('layer: ')}") from None
    depth = {info.name: i for i, info in enumerate(session.layers)}
    return tuple(sorted(names, key=lambda n: depth.get(n, len(depth))))


def check_fuse_gamma(value: Any) -> float | None:
    """LayerCAM's scaling factor: a finite number > 0 (the paper's is 2), or None for no scaling."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"fuse_gamma: expected a number > 0 (LayerCAM uses 2) or None, got {value!r}")
    if not math.isfinite(float(value)) or not float(value) > 0:
        raise ValueError(f"fuse_gamma: expected a finite number > 0 (LayerCAM uses 2) or None, got {value!r}")
    return float(value)


def check_target_box(session: Session, target: Any, value: Any) -> tuple[int, int, int, int] | None:
    """A half-open (row0, col0, row1, col1) box on a segmentation model's output map, in output
    pixels, for the class of ``target`` (the selection's); or None (the class's predicted pixels)."""
    if value is None:
        return None
    size = session_targets.output_size(session)
    if size is None:
        raise ValueError(f"target_box: only a segmentation model's output map has pixels to select; this session's "
                         f"task is {session_targets.task_of(session)} (region= selects neurons of the layer)")
    h, w = size
    if not isinstance(value, (list, tuple)) or len(value) != 4 or not all(_integral(v) for v in value):
        raise TypeError(f"target_box: expected (row0, col0, row1, col1) in pixels of the {h}×{w} output map, "
                        f"or None, got {value!r}")
    r0, c0, r1, c1 = (int(v) for v in value)
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ValueError(f"target_box: {[r0, c0, r1, c1]} is outside or empty on the {h}×{w} output map; expected "
                         f"0 ≤ row0 < row1 ≤ {h} and 0 ≤ col0 < col1 ≤ {w} (half-open)")
    if targets.class_index(target) is None:
        raise ValueError(f"target_box: the target on screen ({targets.name(target, session.classes)}) scores no "
                         "class; pick a class first")
    return r0, c0, r1, c1


def check_params(method: str, value: Any) -> dict[str, Any]:
    """Method parameters: a flat dict of finite JSON scalars that the method's schema accepts.

    Returned as given (the schema's defaults are not filled in), so the view shows what was asked.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"params: expected a dict, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, (bool, int, float, str))):
            raise TypeError(f"params: {k!r} must map to a number, a string, a bool or None, got {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"params: {k!r} must be finite, got {v}")
    params = {k: (int(v) if isinstance(v, float) and v.is_integer() and _int_param(method, k) else v) for k, v in value.items()}
    _methods.get(method).check_params(params)
    return params


def _int_param(method: str, name: str) -> bool:
    return _methods.get(method).params.get(name, {}).get("type") == "int"


def check_channels(session: Session, layer: str, value: Any) -> tuple[int, ...] | None:
    """Sorted unique channel indices of ``layer`` (``engine.subsets.channel_index``), or None."""
    if isinstance(value, (list, tuple)):
        value = [int(v) if _integral(v) and isinstance(v, (float, np.floating)) else v for v in value]
    index = channel_index(value, session.layer_info(layer).shape[0])
    return None if index is None else tuple(int(i) for i in index.tolist())


def check_region(session: Session, layer: str, value: Any) -> tuple[int, int, int, int] | None:
    """A half-open (row0, col0, row1, col1) rectangle on ``layer``'s grid
    (``engine.subsets.region_mask``), or None."""
    if value is None:
        return None
    h, w = session.layer_info(layer).shape[1:]
    if not isinstance(value, (list, tuple)) or len(value) != 4 or not all(_integral(v) for v in value):
        raise TypeError(f"region: expected (row0, col0, row1, col1) or a boolean {h}×{w} mask, got {value!r}")
    return region_as_tuple(region_mask(tuple(int(v) for v in value), (h, w)))  # type: ignore[arg-type]


def check_view(name: str, value: Any) -> Any:
    """A view-only value (``opacity``, ``colormap``, ``outline``, ``hide_rest``) in its canonical form."""
    if name == "opacity":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"opacity: expected a number in [0, 1], got {value!r}")
        return float(value)
    if name == "colormap":
        if not isinstance(value, str) or value not in COLORMAPS:
            raise ValueError(f"colormap: {value!r} is not one of {', '.join(COLORMAPS)}")
        return value
    if name in ("outline", "hide_rest"):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
        return bool(value)
    raise KeyError(name)


def check_request(value: Any) -> int:
    """A request id from the view: a non-negative integer."""
    if not _integral(value) or int(value) < 0:
        raise TypeError(f"request: expected a non-negative integer id, got {value!r}")
    return int(value)
