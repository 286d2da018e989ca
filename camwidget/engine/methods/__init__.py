"""The explanation methods, one file per family, each registered here by name.

A method is a function of the session's cached tensors and explicit parameters; it never runs
the model itself. The widget lists what ``available()`` returns, so a new method appears in
the UI without touching the widget.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its name, a label for people, its compute function and parameters.

    ``params`` maps a parameter name to its schema: ``{"type": "int" | "float" | "choice" |
    "bool", "default": ..., "min": ..., "max": ..., "choices": [...], "nullable": bool,
    "label": str}``; the widget renders controls from it.
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
    prepare: Callable[[Any, dict[str, Any]], None] | None = None

    def resolve_layer(self, session, layer: str | None) -> LayerInfo:
        if layer is None and self.default_layer is not None:
            layer = self.default_layer(session)
        return session.layer_info(layer)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in; unknown names, wrong types and out-of-range values refused."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            valid = ", ".join(self.params) or "none"
            raise TypeError(f"{unknown[0]}: not a parameter of method {self.name!r} (its parameters: {valid})")
        checked = {}
        for name, schema in self.params.items():
            value = params.get(name, schema.get("default"))
            checked[name] = _check_value(name, value, schema)
        return checked


def _check_value(name: str, value: Any, schema: dict[str, Any]) -> Any:
    if value is None:
        if schema.get("nullable") or schema.get("default") is None:
            return None
        raise ValueError(f"{name}: must not be None")
    kind = schema["type"]
    if kind == "choice":
        if value not in schema["choices"]:
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(str, schema['choices']))}")
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected True or False, got {value!r}")
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if kind == "int":
        if float(value) != int(value):
            raise TypeError(f"{name}: expected an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name}: must be finite, got {value}")
    low, high = schema.get("min"), schema.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else (f"<= {high}" if low is None else f"in [{low}, {high}]")
        raise ValueError(f"{name}: {value} is out of range; must be {bounds}")
    return value


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method to the registry (its name must be new)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"method: {spec.name!r} is registered already")
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
