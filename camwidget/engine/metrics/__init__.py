"""Faithfulness metrics: is this map faithful to the model, and which method should I trust here?

``evaluate(session, explanation, metrics=[...])`` (also ``session.evaluate``) runs several metrics
of one explanation together: every perturbed input they need is named by what it is, each distinct
one runs once, all of them in batches of ``batch_size`` through ``Session.predict`` (progress and
cancellation between batches, as for any slow method). Results are cached per (map, target,
metric, parameters); a cancelled evaluation caches no result. One function per metric as well::

    cw.metrics.deletion(session, e, steps=100)       # MetricResult: value, curve, params
    session.evaluate(e, ["deletion", "insertion", "avg-drop"], steps=50)

Options are passed by name and go to every requested metric that takes them (``steps`` to deletion
and insertion, ``baseline`` to both); ``params={"insertion": {"baseline": "blur"}}`` sets one
metric's. The definitions, and where the peers differ, are in docs/metrics.md.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch

from . import confidence, pointing
from . import deletion_insertion as deletion_
from . import randomisation as sanity
from . import remove_and_debias as road_
from .passes import Context, run
from .result import Curve, MetricResult

#: Every metric and its parameters with their defaults.
METRICS: dict[str, dict[str, Any]] = {
    "deletion": {"steps": 100, "baseline": "zero"},
    "insertion": {"steps": 100, "baseline": "blur"},
    "avg-drop": {},
    "avg-increase": {},
    "road-morf": {"percentiles": road_.DEFAULT_PERCENTILES, "noise": 0.01, "seed": 0},
    "road-lerf": {"percentiles": road_.DEFAULT_PERCENTILES, "noise": 0.01, "seed": 0},
    "road": {"percentiles": road_.DEFAULT_PERCENTILES, "noise": 0.01, "seed": 0},
    "pointing-game": {"box": None, "mask": None, "tolerance": pointing.TOLERANCE},
    "energy-pointing-game": {"box": None, "mask": None},
    "sanity": {"stages": 5, "seed": 0},
}
DEFAULT_BATCH_SIZE = 32
_KEPT = 512

__all__ = [
    "METRICS",
    "Curve",
    "MetricResult",
    "available",
    "average_drop",
    "average_increase",
    "deletion",
    "energy_pointing_game",
    "evaluate",
    "insertion",
    "pointing_game",
    "road",
    "road_lerf",
    "road_morf",
    "sanity_check",
]


def available() -> list[str]:
    """The metric names ``evaluate`` accepts."""
    return list(METRICS)


def _names(metrics: Sequence[str] | str) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence) or not len(metrics):
        raise ValueError(f"metrics: give a non-empty list of metric names; valid: {', '.join(METRICS)}")
    names = []
    for name in metrics:
        if not isinstance(name, str) or name.lower() not in METRICS:
            raise ValueError(f"metrics: {name!r} is unknown; valid: {', '.join(METRICS)}")
        if name.lower() not in names:
            names.append(name.lower())
    return names


def _parameters(names: list[str], options: dict[str, Any], per_metric: dict[str, dict] | None) -> dict[str, dict]:
    per_metric = dict(per_metric or {})
    for name in per_metric:
        if name not in names:
            raise ValueError(f"params: {name!r} is not among the requested metrics ({', '.join(names)})")
    used = set()
    chosen = {}
    for name in names:
        values = dict(METRICS[name])
        for key in values:
            if key in options:
                values[key] = options[key]
                used.add(key)
        extra = per_metric.get(name, {})
        unknown = sorted(set(extra) - set(values))
        if unknown:
            raise TypeError(f"{unknown[0]}: not a parameter of metric {name!r} (its parameters: {', '.join(values) or 'none'})")
        values.update(extra)
        chosen[name] = values
    unused = sorted(set(options) - used)
    if unused:
        valid = sorted({k for n in names for k in METRICS[n]})
        raise TypeError(f"{unused[0]}: not a parameter of {', '.join(names)} (their parameters: {', '.join(valid) or 'none'})")
    return chosen


def _frozen(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return deletion_.baseline_key(value)
    if isinstance(value, np.ndarray):
        return ("array", value.shape, hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=12).hexdigest())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, float):
        return float(value)
    return value


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size: must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _validate(context: Context, name: str, values: dict) -> dict:
    """Check one metric's parameters before anything runs (bad input fails fast)."""
    values = dict(values)
    if name in ("deletion", "insertion"):
        deletion_.check_steps(values["steps"], context.pixels)
        deletion_.baseline_key(values["baseline"])
        if isinstance(values["baseline"], torch.Tensor):
            deletion_.baseline_tensor(context, values["baseline"])
    elif name.startswith("road"):
        values["percentiles"] = road_.check_percentiles(values["percentiles"])
        values["noise"] = road_.check_noise(values["noise"])
        if isinstance(values["seed"], bool) or not isinstance(values["seed"], Integral):
            raise TypeError(f"seed: expected an integer, got {values['seed']!r}")
    elif name in ("pointing-game", "energy-pointing-game"):
        pointing.object_mask(values["box"], values["mask"], tuple(context.session.image.shape[:2]))
        if name == "pointing-game":
            values["tolerance"] = pointing.check_tolerance(values["tolerance"])
    elif name == "sanity":
        sanity.check_stages(values["stages"], len(sanity.parameterised_modules(context.session.model)))
    return values


def evaluate(session, explanation, metrics: Sequence[str] | str = ("deletion", "insertion", "avg-drop"),
             batch_size: int = DEFAULT_BATCH_SIZE, params: dict[str, dict] | None = None,
             **options: Any) -> dict[str, MetricResult]:
    """The requested metrics of ``explanation`` (made by ``session``), as ``{name: MetricResult}``.

    Perturbation metrics share one batched run through ``Session.predict``; cached results are
    returned without a pass. See the module docstring for ``options`` and ``params``.
    """
    names = _names(metrics)
    batch_size = _check_batch_size(batch_size)
    context = Context(session, explanation)
    chosen = {name: _validate(context, name, values) for name, values in _parameters(names, options, params).items()}
    cache: OrderedDict = session.cached(("metrics", "results"), OrderedDict)
    keys = {name: (context.map_key, name, tuple((k, _frozen(v)) for k, v in sorted(chosen[name].items())))
            for name in names}
    results: dict[str, MetricResult] = {}
    pending = []
    for name in names:
        if keys[name] in cache:
            cache.move_to_end(keys[name])
            results[name] = cache[keys[name]]
        else:
            pending.append(name)

    plans: dict[str, Any] = {}  # deletion/insertion: (points, keys); ROAD: {order: keys}
    requests = []
    for name in pending:
        values = chosen[name]
        if name in ("deletion", "insertion"):
            points, point_keys, needed = deletion_.requests(context, name, values["steps"], values["baseline"])
            plans[name] = (points, point_keys)
            requests += needed
        elif name in ("avg-drop", "avg-increase"):
            requests += confidence.requests(context)
        elif name.startswith("road"):
            orders = ("morf", "lerf") if name == "road" else (name.split("-")[1],)
            plans[name] = {}
            for order in orders:
                order_keys, needed = road_.requests(context, order, values["percentiles"], values["noise"], values["seed"])
                plans[name][order] = order_keys
                requests += needed
    probabilities = run(session, context.target, requests, batch_size) if requests else {}

    computed: dict[str, MetricResult] = {}
    for name in pending:
        values = chosen[name]
        if name in ("deletion", "insertion"):
            points, point_keys = plans[name]
            computed[name] = deletion_.result(context, name, values["steps"], values["baseline"], points, point_keys,
                                              probabilities)
        elif name in ("avg-drop", "avg-increase"):
            computed[name] = confidence.result(context, name, probabilities)
        elif name.startswith("road"):
            parts = {order: road_.result(context, order, values["percentiles"], values["noise"], values["seed"],
                                         order_keys, probabilities) for order, order_keys in plans[name].items()}
            computed[name] = road_.combined(parts["morf"], parts["lerf"]) if name == "road" else next(iter(parts.values()))
        elif name == "pointing-game":
            computed[name] = pointing.pointing_game(context, values["box"], values["mask"], values["tolerance"])
        elif name == "energy-pointing-game":
            computed[name] = pointing.energy_pointing_game(context, values["box"], values["mask"])
        elif name == "sanity":
            computed[name] = sanity.sanity_check(context, values["stages"], values["seed"])
    # every result is complete here: only now are they cached (a cancellation above caches none)
    for name, result in computed.items():
        cache[keys[name]] = result
        while len(cache) > _KEPT:
            cache.popitem(last=False)
    results.update(computed)
    return {name: results[name] for name in names}


def _one(name: str):
    def metric(session, explanation, batch_size: int = DEFAULT_BATCH_SIZE, **options: Any) -> MetricResult:
        return evaluate(session, explanation, [name], batch_size=batch_size, **options)[name]

    metric.__name__ = name.replace("-", "_")
    defaults = ", ".join(f"{k}={v!r}" for k, v in METRICS[name].items())
    metric.__doc__ = f"The {name!r} metric of ``explanation`` ({defaults or 'no parameters'}); see ``evaluate``."
    return metric


deletion = _one("deletion")
insertion = _one("insertion")
average_drop = _one("avg-drop")
average_increase = _one("avg-increase")
road_morf = _one("road-morf")
road_lerf = _one("road-lerf")
road = _one("road")
pointing_game = _one("pointing-game")
energy_pointing_game = _one("energy-pointing-game")
sanity_check = _one("sanity")
