"""The explanation methods, one file per family, each registered here by name.

A method is a function of the session's cached tensors and explicit parameters; it never runs
the model itself. The widget lists what ``available()`` returns, so a new method appears in
the UI without touching the widget.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch

from ..layers import LayerInfo


@dataclass
class Result:
    """What a method computes: the map (h × w or image-sized) and the channel weights."""

    map: torch.Tensor
    weights: torch.Tensor | None
    mask: np.ndarray | None = None
    segments: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)


Compute = Callable[..., Result]


#: One seed rule for every method: an integer in [0, 2**32 - 1] (what numpy's RandomState and
#: a torch.Generator both take). Any parameter called ``seed`` is held to it at registration.
SEED_RANGE = (0, 2**32 - 1)
#: Soft upper bounds given to every numeric parameter without a ``max`` or ``limit`` of its own:
#: far above any real use, low enough that a typo cannot ask for a day of compute or a terabyte.
DEFAULT_LIMITS = {"int": 1_000_000, "float": 1e6}
#: Tighter soft limits by parameter name, for what costs a model pass or memory per unit:
#: 10,000 noisy copies, 100,000 LIME samples, 10,000 superpixels, batches of 1,024 inputs.
NAMED_LIMITS = {"n": 10_000, "n_samples": 100_000, "n_segments": 10_000, "batch_size": 1024}

_raised: dict[tuple[str, str], float] = {}


def raise_limit(method: str, param: str, value: float) -> None:
    """Let ``method``'s ``param`` go up to ``value``, past its schema's ``limit`` (for a soak or a
    deliberate huge run); the schema's hard ``max``, where it has one, still holds."""
    spec = get(method)
    if param not in spec.params:
        raise ValueError(f"param: {param!r} is not a parameter of method {spec.name!r} (its parameters: "
                         f"{', '.join(spec.params) or 'none'})")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise TypeError(f"value: expected a finite number, got {value!r}")
    _raised[(spec.name, param)] = value


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its name, a label for people, its compute function and parameters.

    ``params`` maps a parameter name to its schema: ``{"type": "int" | "float" | "choice" |
    "bool", "default": ..., "min": ..., "max": ..., "limit": ..., "choices": [...],
    "nullable": bool, "label": str, "secondary": bool}``; the widget renders controls from it
    (``secondary``: folded behind "more…", see ``methods/disclosure.py``). ``max`` is a hard
    bound; ``limit`` a soft one (a guard against accidents) that
    ``methods.raise_limit(method, name, value)`` lifts. Numeric parameters without either get
    ``DEFAULT_LIMITS``; a parameter called ``seed`` always follows ``SEED_RANGE``.
    """

    name: str
    label: str
    compute: Compute
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_layer: Callable[[Any], str] | None = None
    description: str = ""
    #: False: the method needs no gradient of the session's forward (a new session then runs a
    #: forward without autograd graph); ``prepare(session, params)`` runs first, before it.
    needs_graph: bool = True
    prepare: Callable[[Any, dict[str, Any]], object] | None = None  # its result is ignored

    def resolve_layer(self, session, layer: str | None) -> LayerInfo:
        if layer is None and self.default_layer is not None:
            layer = self.default_layer(session)
        return session.layer_info(layer)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in; unknown names, wrong types and out-of-range values refused."""
        unknown = sorted(set(params) - set(self.params), key=str)
        if unknown:
            valid = ", ".join(self.params) or "none"
            raise TypeError(f"{unknown[0]}: not a parameter of method {self.name!r} (its parameters: {valid})")
        checked = {}
        for name, schema in self.params.items():
            value = params.get(name, schema.get("default"))
            checked[name] = _check_value(name, value, schema, self.name)
        return checked


def _bounded(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The schema with the house rules applied: the seed range, a soft limit on every number."""
    schema = dict(schema)
    if name == "seed":
        schema.update(type="int", min=SEED_RANGE[0], max=SEED_RANGE[1])
        schema.pop("limit", None)
    if schema.get("type") in DEFAULT_LIMITS and schema.get("max") is None and schema.get("limit") is None:
        schema["limit"] = NAMED_LIMITS.get(name, DEFAULT_LIMITS[schema["type"]])
    return schema


def _number(name: str, value: Any) -> Any:
    """A Python int or float from Python / numpy scalars (and one-element torch tensors are not:
    say ``int(t)``); TypeError naming the parameter otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint = "; pass a plain number (e.g. int(t) or t.item())" if isinstance(value, (torch.Tensor, np.ndarray)) else ""
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}{hint}")
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _check_value(name: str, value: Any, schema: dict[str, Any], method: str = "") -> Any:
    if value is None:
        if schema.get("nullable") or schema.get("default") is None:
            return None
        raise ValueError(f"{name}: must not be None")
    kind = schema["type"]
    if kind == "choice":
        try:
            known = value in schema["choices"]
        except Exception:  # noqa: BLE001 - an array or anything with an odd __eq__
            known = False
        if not known or not isinstance(value, type(schema["choices"][0])):
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(str, schema['choices']))}")
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
        return bool(value)
    value = _number(name, value)
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value}")
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise TypeError(f"{name}: expected an integer, got {value!r}")
            value = int(value)
    low, high = schema.get("min"), schema.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else (f"<= {high}" if low is None else f"in [{low}, {high}]")
        raise ValueError(f"{name}: {value} is out of range; must be {bounds}")
    limit = _raised.get((method, name), schema.get("limit"))
    if limit is not None and value > limit:
        raise ValueError(
            f"{name}: {value} is above this parameter's limit of {limit} (a guard against runs nobody "
            f"means to start); to go past it, call camwidget.engine.methods.raise_limit({method!r}, "
            f"{name!r}, {value})"
        )
    return value


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method to the registry (its name must be new); its parameters get the house bounds."""
    if spec.name in _REGISTRY:
        raise ValueError(f"method: {spec.name!r} is registered already")
    spec = replace(spec, params={name: _bounded(schema, name) for name, schema in spec.params.items()})
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> MethodSpec:
    """The method called ``name``; ValueError listing the valid names otherwise."""
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"method: {name!r} is unknown; valid: {', '.join(_REGISTRY)}")
    return _REGISTRY[name.lower()]


def available() -> list[MethodSpec]:
    """Every registered method, in the order they were registered."""
    return list(_REGISTRY.values())


def weighted_sum(activations: torch.Tensor, weights: torch.Tensor, channels: torch.Tensor | None) -> torch.Tensor:
    """ReLU(Σ_{k ∈ channels} w_k A_k) — the map every CAM-family method ends with."""
    if channels is not None:
        activations, weights = activations[channels], weights[channels]
    return torch.relu(torch.einsum("k,khw->hw", weights.to(activations.dtype), activations))


from . import cam, gradcam, inv, smooth, neurons, secam, lime  # noqa: E402,F401  (registration order = the widget's order)
from . import xgradcam, elementwise, eigen, scorecam, ablation  # noqa: E402,F401
