"""The model-randomisation sanity check (Adebayo et al. 2018), cascading from the top.

The model's parameterised modules, in the reverse of their definition order (the classifier
first), are re-initialised one group more at each of ``stages`` stages, on a copy of the model
(``reset_parameters()`` where a module has one; otherwise each parameter ~ N(0, 0.01²)), under a
seeded RNG. At each stage the same method explains the same target at the same layer, with the same
channels, region and parameters, on the randomised copy; the score is the Spearman rank
correlation of that map with the original (on the map's own grid). A method that depends on the
model falls towards 0 as the layers go; one that only reflects the image (an edge detector) stays
high. The number is the correlation after the last stage (lower means more sensitive to the model).
A randomised map that is constant (blank, say) counts as ρ = 0 — it keeps nothing of the original's
ranking; a constant original gives NaN.

Batch norm's ``reset_parameters`` also resets its running statistics, as a freshly built layer has
them. Each stage is a new Session (one forward and backward, plus the method's own passes).
"""
from __future__ import annotations

import copy
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .. import progress
from .passes import Context, scored_target
from .result import Curve, MetricResult


def parameterised_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Modules that own parameters, top (output side) first."""
    found = [(name, m) for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    return found[::-1]


def reinitialise(module: torch.nn.Module) -> None:
    """The module's own parameters drawn afresh (its ``reset_parameters``, else N(0, 0.01²)),
    from the CPU's generator whatever the device, so a seed gives the same randomised model on
    every device (a GPU's generator draws other numbers)."""
    own = dict(module.named_parameters(recurse=False))
    if all(p.device.type == "cpu" for p in own.values()):
        _draw(module)
        return
    drawn = copy.deepcopy(module).cpu()
    _draw(drawn)
    with torch.no_grad():
        for name, parameter in drawn.named_parameters(recurse=False):
            own[name].copy_(parameter)
        kept = dict(module.named_buffers(recurse=False))
        for name, buffer in drawn.named_buffers(recurse=False):  # (a batch norm's running statistics)
            kept[name].copy_(buffer)


def _draw(module: torch.nn.Module) -> None:
    reset = getattr(module, "reset_parameters", None)
    if callable(reset):
        reset()
        return
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            parameter.normal_(0.0, 0.01)


def check_stages(stages: Any, count: int) -> int:
    if isinstance(stages, bool) or not isinstance(stages, Integral):
        raise TypeError(f"stages: expected an integer, got {type(stages).__name__}")
    stages = int(stages)
    if not 1 <= stages <= count:
        raise ValueError(f"stages: {stages} is out of range; must be in [1, {count}] (the model's parameterised modules)")
    return stages


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0:  # a constant original map has no ranking to compare
        return float("nan")
    if np.ptp(b) == 0:  # the randomised map went blank: no rank structure in common
        return 0.0
    return float(spearmanr(a, b).statistic)


def _explain_params(explanation) -> dict:
    from .. import methods

    schema = methods.get(explanation.method).params
    return {k: v for k, v in explanation.params.items() if k in schema}


def sanity_check(context: Context, stages: int = 5, seed: int = 0) -> MetricResult:
    from ..session import Session

    session, explanation = context.session, context.explanation
    modules = parameterised_modules(session.model)
    stages = check_stages(stages, len(modules))
    layers = explanation.params.get("layers") or explanation.layer
    params = _explain_params(explanation)
    model = copy.deepcopy(session.model)
    copies = dict(model.named_modules())
    ends = [round((s + 1) * len(modules) / stages) for s in range(stages)]
    correlations, reached, done = [], [], 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for stage, end in enumerate(ends):
            for name, _ in modules[done:end]:
                reinitialise(copies[name])
            done = end
            randomised = Session(model, session.image, preprocess=session.preprocess, classes=session.classes,
                                 device=session.device, output=session.output, task=session.task,
                                 reshape=session.reshape)
            other = randomised.explain(explanation.method, layer=layers, target=scored_target(explanation),
                                       channels=explanation.channels,
                                       region=None if isinstance(layers, list) else _region(explanation), **params)
            correlations.append(_spearman(explanation.map, other.map))
            reached.append(modules[end - 1][0] or type(session.model).__name__)
            progress.report(stage + 1, stages)
    fractions = np.asarray(ends, dtype=np.float64) / len(modules)
    return MetricResult(
        "sanity", correlations[-1],
        Curve(fractions, np.asarray(correlations), "fraction of parameterised modules randomised (from the top)",
              "Spearman ρ with the original map"),
        {"stages": stages, "seed": int(seed)}, higher_is_better=False,
        details={"randomised_down_to": reached, "modules": len(modules)},
    )


def _region(explanation):
    region = explanation.region
    return None if region is None else tuple(region)
