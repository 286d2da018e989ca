"""``evaluate_dataset``: faithfulness metrics of several methods over a dataset, as tables.

Maps come from the batched explainer (one forward and one backward per batch of items, at each
method's layer); each item's maps are then scored by ``session.evaluate`` — the engine's metrics
(``camwidget.engine.metrics``), whose perturbed inputs run in batches of ``metric_batch_size``
through ``Session.predict``. (The perturbations are batched within an item, not across items: one
item's deletion and insertion curves already fill batches of 32 at the default 100 steps.) The
pointing games read each item's ``box``. The result: one row per item × method × metric, and a
summary of methods × metrics — the mean and a 95 % percentile-bootstrap interval over items
(1,000 resamples of the items, seeded) — the shape of the field's result tables.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ..engine import allocator
from . import targets as targets_
from .explain import check_common, progress_bar, resolve_model
from .explainer import BatchExplainer, ItemResult
from .items import ItemSource, as_items
from .results import pandas_module

DEFAULT_METRICS = ("deletion", "insertion", "avg-drop")
POINTING = ("pointing-game", "energy-pointing-game")


def bootstrap_interval(values: np.ndarray, confidence: float = 0.95, resamples: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """The percentile-bootstrap interval of the mean of ``values`` (NaN for no value)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def summarise(table, confidence: float = 0.95, resamples: int = 1000, seed: int = 0):
    """Methods × metrics: n, mean, and the bootstrap interval (``ci_low``, ``ci_high``)."""
    pd = pandas_module()
    rows = []
    scored = table[table["metric"] != ""]  # an item that failed as a whole has no metric rows
    for (method, metric), group in scored.groupby(["method", "metric"], sort=False):
        values = group["value"].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        low, high = bootstrap_interval(finite, confidence, resamples, seed)
        rows.append({"method": method, "metric": metric, "n": len(finite),
                     "mean": float(finite.mean()) if len(finite) else float("nan"), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["method", "metric", "n", "mean", "ci_low", "ci_high"])


@dataclass
class Evaluation:
    """``table``: per item × method × metric (id, label, target, method, layer, metric, value,
    error); ``summary``: methods × metrics with n, mean and the 95 % interval; ``wide()``: one row
    per item and method, one column per metric."""

    table: Any
    summary: Any

    def wide(self):
        return self.table.pivot_table(index=["id", "method"], columns="metric", values="value", sort=False)

    def __repr__(self) -> str:
        return f"Evaluation({self.table['id'].nunique()} items)\n{self.summary.to_string(index=False)}"


def _metric_step(methods: Sequence[str], layer_of: Mapping[str, str | None], params: dict, metrics: Sequence[str],
                 metric_params: dict, metric_batch_size: int) -> Callable:
    def step(session, result: ItemResult) -> None:
        item_box = result.extra.pop("box", None)
        rows = []
        for method in methods:
            explanation = session.explain(method, layer=layer_of[method], target=result.target, **params.get(method, {}))
            chosen = dict(metric_params)
            asked = list(metrics)
            if any(m in POINTING for m in asked):
                if item_box is None:
                    rows += [(method, explanation.layer, m, float("nan"), "the item has no box") for m in asked
                             if m in POINTING]
                    asked = [m for m in asked if m not in POINTING]
                else:
                    for m in POINTING:
                        if m in asked:
                            chosen[m] = {**chosen.get(m, {}), "box": item_box}
            if asked:
                found = session.evaluate(explanation, asked, batch_size=metric_batch_size,
                                         params={k: v for k, v in chosen.items() if k in asked})
                rows += [(method, explanation.layer, m, float(found[m].value), "") for m in asked]
        result.extra["rows"] = rows
    return step


def evaluate_dataset(
    model: nn.Module | Callable[[], tuple],
    dataset: Any,
    methods: Sequence[str] | str = ("gradcam",),
    metrics: Sequence[str] | str = DEFAULT_METRICS,
    layer: str | dict[str, str] | None = None,
    targets: Any = "top",
    out: str | os.PathLike | None = None,
    *,
    params: dict[str, dict] | None = None,
    metric_params: dict[str, dict] | None = None,
    batch_size: int = 16,
    metric_batch_size: int = 32,
    preprocess=None,
    classes: Sequence[str] | None = None,
    on_error: str = "raise",
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
    client: Any = None,
    workers: int | None = None,
) -> Evaluation:
    """Score ``methods`` with ``metrics`` on every item of ``dataset`` (see the module docstring).

    ``layer``: one layer for every method, ``{method: layer}``, or None for each method's default
    (the deepest layer; CAM's own). ``metric_params``: ``{metric: {parameter: value}}`` (e.g.
    ``{"deletion": {"steps": 50}}``). ``out``: a ``.csv`` (the per-item table; the summary beside
    it as ``<name>-summary.csv``) or ``.parquet`` path. ``client=`` / ``workers=`` as in
    ``explain_dataset``.
    """
    methods = check_common(methods, batch_size, on_error, client, workers, model)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise ValueError("metrics: give at least one metric name")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    if out is not None and os.path.splitext(os.fspath(out))[1].lower() not in (".csv", ".parquet"):
        raise ValueError(f"out: {os.fspath(out)!r} must end in .csv or .parquet")
    source = as_items(dataset)
    targets_.check(targets, len(source))
    config = {"methods": methods, "metrics": metrics, "layer": layer, "params": params or {},
              "metric_params": metric_params or {}, "metric_batch_size": metric_batch_size, "targets": targets,
              "on_error": on_error, "preprocess": preprocess, "classes": None if classes is None else list(classes)}
    units = [list(range(s, min(s + batch_size, len(source)))) for s in range(0, len(source), batch_size)]
    bar = progress_bar(len(source), progress, "evaluate_dataset")
    rows: list[dict] = []
    try:
        if client is not None or workers is not None:
            from .scale import cache_key, cluster_client, dask_modules

            key = cache_key(model, config, "evaluate")
            with cluster_client(client, workers) as dask_client:
                [shared] = dask_client.scatter([source], broadcast=True)
                futures = [dask_client.submit(_unit_task, u, key, model, shared, config, pure=False) for u in units]
                for future in dask_modules().as_completed(futures):
                    found = future.result()
                    rows += found
                    if bar is not None:
                        bar.update(len({r["id"] for r in found}))
        else:
            made = _evaluator(model, source, config)
            with allocator.heap_only(keep_all=True):  # batches reuse their freed blocks (engine/allocator.py)
                for unit in units:
                    rows += _rows(made.run(unit))
                    if bar is not None:
                        bar.update(len(unit))
    finally:
        if bar is not None:
            bar.close()
    pd = pandas_module()
    columns = ["id", "index", "label", "target", "method", "layer", "metric", "value", "error"]
    table = pd.DataFrame(rows, columns=columns).sort_values(["index", "method", "metric"], kind="stable")
    table = table.reset_index(drop=True)
    evaluation = Evaluation(table, summarise(table, confidence, resamples, seed))
    if out is not None:
        _save(evaluation, os.fspath(out))
    return evaluation


def _evaluator(model, source: ItemSource, config: dict) -> BatchExplainer:
    net, preprocess, classes = resolve_model(model, config["preprocess"], config["classes"])
    from ..engine import Session
    from ..engine import methods as methods_

    probe_item = None
    for index in range(len(source)):
        try:
            probe_item = source.item(index)
            break
        except ValueError:
            if config["on_error"] == "raise":
                raise
    if probe_item is None:
        raise ValueError("dataset: no item could be read")
    session = Session(net, probe_item.image, preprocess=preprocess, classes=classes)
    layer = config["layer"]
    layer_of: dict[str, str] = {}
    for method in config["methods"]:
        chosen = layer.get(method) if isinstance(layer, dict) else layer
        layer_of[method] = methods_.get(method).resolve_layer(session, chosen).name
    layers = sorted(set(layer_of.values()), key=[i.name for i in session.layers].index)
    made = BatchExplainer(net, preprocess, classes, source, [], layers, None, config["targets"], config["on_error"])
    made.template(probe_item.image)
    made.layers_of = {}
    step = _metric_step(config["methods"], layer_of, config["params"], config["metrics"], config["metric_params"],
                        config["metric_batch_size"])

    def with_box(session, result):
        result.extra["box"] = source.raw(result.index).box
        step(session, result)

    made.per_item = with_box
    return made


def _rows(results: list[ItemResult]) -> list[dict]:
    rows = []
    for r in results:
        base = {"id": r.id, "index": r.index, "label": r.label, "target": r.target}
        if r.error:
            rows.append({**base, "method": "", "layer": "", "metric": "", "value": float("nan"), "error": r.error})
        for method, layer, metric, value, note in r.extra.get("rows", []):
            rows.append({**base, "method": method, "layer": layer, "metric": metric, "value": value, "error": note})
    return rows


def _unit_task(unit, key, factory, source, config):
    from .scale import worker_state

    made = worker_state(key, lambda: _evaluator(factory, source, config))
    with allocator.heap_only(keep_all=True):
        return _rows(made.run(unit))


def _save(evaluation: Evaluation, path: str) -> None:
    stem, suffix = os.path.splitext(path)
    if suffix.lower() == ".parquet":
        try:
            evaluation.table.to_parquet(path, index=False)
            evaluation.summary.to_parquet(f"{stem}-summary.parquet", index=False)
        except ImportError as error:
            raise ImportError("out: writing Parquet needs pyarrow (pip install pyarrow), or give a .csv path") from error
        return
    evaluation.table.to_csv(path, index=False)
    evaluation.summary.to_csv(f"{stem}-summary.csv", index=False)
