"""The "Faithfulness" panel: the map on screen scored by deletion, insertion and average drop /
increase, and a compare table of methods × metrics for the current image, target and layer.

After each answer, once the selection has been still for ``STILL_S``, the panel evaluates the
explanation on screen through ``session.evaluate`` (the worker thread, under the session lock;
cancelled at the next batch when a newer selection arrives — the heatmap was published before,
so it never waits for the metrics) and publishes the ``faithfulness_curves`` trait: per metric the number,
its direction and the curve as two short lists (the browser draws them; no image per frame).

The compare table (``compare`` trait; ``w.compare()`` or the panel's "compare methods" button,
the ``{"kind": "compare"}`` action) explains each method at the current layer and target and
evaluates it, one row at a time, publishing the table as each row finishes. A row yields to the
worker: when a selection is waiting, the row is cancelled at its next batch, the heatmap is
answered, and the row is computed again. A change of image, layer (or fused layers) or target
ends the table; while layers are fused (``w.fuse_layers``) every row fuses the same layers.
``w.compare()`` returns a list of rows (dicts), not a pandas DataFrame: pandas is not a
dependency of camwidget, and ``pandas.DataFrame(w.compare())`` is one call away.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import traitlets as t

from ..engine import methods as methods_
from ..engine import metrics as metrics_
from ..engine import progress
from ..engine.metrics import scores as scores_
from .panel import Panel
from .worker import Answer, Job

#: Metrics of the map on screen (and the compare table's columns).
METRICS = ("deletion", "insertion", "avg-drop", "avg-increase")
#: Deletion / insertion steps in the panel (the engine's default is 100; 50 halves the passes).
STEPS = 50
#: Perturbed inputs per pass: small, so a newer selection waits at most one short batch.
BATCH_SIZE = 16
#: The metrics start once the selection has been still this long.
STILL_S = 0.3
#: The compare table's default methods: the gradient family, all from the cache (fast).
COMPARE_METHODS = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "gradcam-elementwise",
                   "eigencam", "eigengradcam")


def _summary(results: dict[str, metrics_.MetricResult]) -> dict[str, Any]:
    out = {}
    for name, r in results.items():
        entry: dict[str, Any] = {"value": float(r.value), "higher_is_better": bool(r.higher_is_better)}
        if r.curve is not None:
            entry["x"] = [round(float(v), 5) for v in r.curve.x]
            entry["y"] = [round(float(v), 5) for v in r.curve.y]
        out[name] = entry
    return out


def check_compare_message(message: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    """The ``methods`` / ``metrics`` lists of a compare action (None: the defaults); refuses others."""
    picked: list[list[str] | None] = []
    for name, valid in (("methods", [m.name for m in methods_.available()]), ("metrics", metrics_.available())):
        value = message.get(name)
        if value is None:
            picked.append(None)
            continue
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value) or len(value) > 64:
            raise ValueError(f"{name}: expected a non-empty list of names; valid: {', '.join(valid)}")
        unknown = [v for v in value if v not in valid]
        if unknown:
            raise ValueError(f"{name}: {unknown[0]!r} is unknown; valid: {', '.join(valid)}")
        picked.append(list(dict.fromkeys(value)))
    return picked[0], picked[1]


def panel_metrics(explanation: Any) -> list[str]:
    """The panel's metrics for this map: all of ``METRICS`` for a class, multi-label or segmentation
    target (probabilities); deletion and insertion only for a custom score, which Average Drop /
    Increase (ratios to the unperturbed score) do not fit when it is not positive."""
    if scores_.is_probability(explanation.resolved_target):
        return list(METRICS)
    return [m for m in METRICS if not m.startswith("avg-")]


class Faithfulness(Panel):
    """Curves and numbers for the map on screen; the methods × metrics table (js/faithfulness.ts)."""

    name = "faithfulness"
    traits = {
        "faithfulness_curves": t.Dict().tag(sync=True),
        "compare_table": t.Dict().tag(sync=True),
    }
    actions = {"compare": "on_compare"}

    def __init__(self, widget: Any, **options: Any) -> None:
        super().__init__(widget)
        self.results: dict[str, metrics_.MetricResult] = {}
        self._key: str | None = None
        self._rows: list[dict[str, Any]] = []
        self._generation = 0
        self._lock = threading.Lock()

    # ---- the map on screen (worker thread) ----------------------------------------------------
    def on_answer(self, answer: Answer, job: Job) -> None:
        selection = answer.request.selection
        if selection.key == self._key or not job.wait_still(STILL_S):
            return
        e = answer.explanation
        self.widget.publish(faithfulness_curves={"request": answer.request.id, "state": "computing", "method": e.method,
                                          "layer": e.layer, "target": e.target, "metrics": {}})
        with job.session() as session, progress.reporting(None, cancelled=job.superseded):
            results = session.evaluate(e, panel_metrics(e), steps=STEPS, batch_size=BATCH_SIZE)
        if job.superseded():
            return
        self.results, self._key = results, selection.key
        self.widget.publish(faithfulness_curves={"request": answer.request.id, "state": "done", "method": e.method,
                                          "layer": e.layer, "target": e.target, "class_name": e.class_name,
                                          "steps": STEPS, "metrics": _summary(results)})

    def on_error(self, request: Any, exc: Exception) -> None:
        self.widget.publish(faithfulness_curves={"request": request.id, "state": "error", "metrics": {}})

    # ---- the compare table ----------------------------------------------------------------------
    def on_compare(self, message: dict[str, Any]) -> None:
        methods, metrics = check_compare_message(message)
        self.compare(methods, metrics)

    def compare(self, methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows ``{"method", "layer", "target", <metric>: value, ..., "error"}`` for the current image,
        target and layer; the ``compare_table`` trait is published as each row finishes."""
        methods = list(methods or COMPARE_METHODS)
        metrics = list(metrics or METRICS)
        with self._lock:
            self._generation += 1
            generation = self._generation
        start = self.widget.selection
        worker = self.widget.worker
        rows: list[dict[str, Any]] = []
        columns = {m: metrics_.METRICS[m] for m in metrics}
        directions: dict[str, bool] = {}

        def table(state: str) -> dict[str, Any]:
            return {"state": state, "layer": _layer_name(start), "target": start.target_json, "metrics": metrics,
                    "higher_is_better": directions, "methods": methods, "rows": rows}

        self.widget.publish(compare_table=table("computing"))
        for method in methods:
            while True:
                current = self.widget.selection
                if generation != self._generation or _place(current) != _place(start):
                    self.widget.publish(compare_table=table("stopped"))
                    return rows
                worker.wait(None)  # the heatmap first
                try:
                    row = self._row(method, start, metrics, columns, directions,
                                    cancelled=lambda: not worker.wait(0) or generation != self._generation)
                    break
                except progress.Cancelled:
                    continue
            rows.append(row)
            self.widget.publish(compare_table=table("computing" if len(rows) < len(methods) else "done"))
        self._rows = rows
        return rows

    def _row(self, method: str, start: Any, metrics: list[str], columns: dict, directions: dict, cancelled) -> dict:
        row: dict[str, Any] = {"method": method, "layer": _layer_name(start), "target": start.target_json}
        fused = {"layer": list(start.fuse_layers), "gamma": start.fuse_gamma} if start.fuse_layers else {"layer": start.layer}
        with self.widget.worker.using_session() as session, progress.reporting(None, cancelled=cancelled):
            try:
                e = session.explain(method, target=start.target, **fused)
                options = {"steps": STEPS} if {"deletion", "insertion"} & set(metrics) else {}
                results = session.evaluate(e, metrics, batch_size=BATCH_SIZE, **options)
            except (ValueError, TypeError) as exc:  # e.g. CAM away from its head layer: the row says why
                row["error"] = str(exc)
                return row
        for name, result in results.items():
            row[name] = float(result.value)
            directions[name] = bool(result.higher_is_better)
        return row


def _place(selection: Any) -> tuple:
    """What a compare table is about: the layer (or fused layers) and the target."""
    return selection.layer, selection.fuse_layers, selection.fuse_gamma, selection.target


def _layer_name(selection: Any) -> str:
    """The layer, or the fused layers joined by " + " (as the fused Explanation names them)."""
    return " + ".join(selection.fuse_layers) if selection.fuse_layers else selection.layer
