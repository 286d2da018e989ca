"""The clusters view: INV clusters of the current layer, and the labels people give them.

When the method is ``"inv"`` the worker computes the layer's clusters (the t-SNE is the slow
part; it reports progress and is superseded like any method); this panel then sends each
cluster's map as a thumbnail with its weight (``clusters_atlas`` / ``clusters_meta``). Clicking a
thumbnail sets ``params.cluster``, so the overlay is the "inv" explanation of that cluster. A
label typed in the view arrives as a ``{"kind": "label"}`` message and is recorded on the action
thread with ``store.annotate`` — in the :class:`~camwidget.labels.LabelStore` given as
``store=``, or, without one, in a :class:`~.memory_labels.MemoryLabels` kept on the widget.
``labels`` lists the current layer's labels with their scores
(``cluster_scores(..., group_synonyms=False)``); ``annotations`` every annotation of this image
and model.
"""
from __future__ import annotations

import logging
from typing import Any

import traitlets as t

from ..labels import cluster_scores
from ..labels.store import Annotation
from .actions import REFUSED
from .memory_labels import MemoryLabels, annotation_dict
from .panel import Panel
from .selection import _integral
from .worker import Answer, Job

log = logging.getLogger("camwidget.widget")


def check_annotator(value: Any) -> str:
    """The annotator's name as the view sends it: a string (empty = nobody)."""
    if not isinstance(value, str):
        raise TypeError(f"annotator: expected a name (a string), got {value!r}")
    return value


def check_cluster_index(value: Any) -> int | None:
    """A cluster index from a message or a call: an integer, or None (the one on screen)."""
    if value is None:
        return None
    if not _integral(value):
        raise TypeError(f"cluster: expected a cluster index, got {value!r}")
    return int(value)


class Clusters(Panel):
    """The clusters view and label recording (js/clusters.ts)."""

    name = "clusters"
    traits = {
        "clusters_atlas": t.Bytes(b"").tag(sync=True),
        "clusters_meta": t.Dict().tag(sync=True),
        "labels": t.List(t.Dict()).tag(sync=True),
        "annotations": t.List(t.Dict()).tag(sync=True),
        "annotator": t.Unicode("").tag(sync=True),
    }
    writable = {"annotator": check_annotator}
    actions = {"label": "on_label"}

    def __init__(self, widget: Any, store: Any = None, **options: Any) -> None:
        super().__init__(widget)
        self.store = MemoryLabels() if store is None else store
        self._sent: tuple | None = None

    # ---- Python API (the widget's methods call these) -----------------------------------------
    def clusters(self, layer: str | None = None, target: int | None = None, seed: int | None = None) -> list:
        """The INV clusters of ``layer`` (default: the current one) for the current target."""
        s = self.widget.selection
        with self.widget.worker.using_session() as session:
            return session.clusters(layer or s.layer, target=s.target if target is None else target,
                                    seed=s.seed if seed is None else seed)

    def cluster(self, layer: str, index: Any = None) -> Any:
        """One cluster of ``layer`` by index (default: the one on screen)."""
        s = self.widget.selection
        if index is None:
            index = s.params.get("cluster", 0) if s.method == "inv" else 0
        i = check_cluster_index(index)
        found = self.clusters(layer)
        if i is None or not 0 <= i < len(found):
            raise ValueError(f"cluster: {index} does not exist; {layer} has {len(found)} cluster(s)")
        return found[i]

    def label(self, text: Any, cluster: Any = None) -> Annotation:
        """Record ``text`` for ``cluster`` of the current layer; raises when refused."""
        layer = self.widget.selection.layer
        chosen = self.cluster(layer, cluster)
        a = self.store.annotate(self.widget.session, layer=layer, cluster=chosen, text=text, target=chosen.target,
                                annotator=self.widget.annotator or None, layer_depth=self.depth(layer))
        self.refresh_labels()
        self.widget.publish(error="", status=f"label recorded for cluster {chosen.index} of {layer}")
        return a

    def depth(self, layer: str) -> int | None:
        try:
            return int(self.widget.session.layer_info(layer).depth)
        except Exception:  # noqa: BLE001 - the depth is optional
            return None

    def refresh_labels(self, layer: str | None = None, target: int | None = None) -> None:
        """Recompute ``labels`` (the layer's labels with scores) and ``annotations``."""
        sel = self.widget.selection
        layer = layer or sel.layer
        target = sel.target if target is None else target
        s = self.widget.session
        try:
            scores = cluster_scores(self.store, s, layer, target=target, group_synonyms=False)
            every = self.store.annotations(image_fingerprint=s.image_fingerprint, model_fingerprint=s.model_fingerprint)
            index = {c.id: c.index for c in self.clusters(layer, target)}
        except REFUSED as exc:
            log.warning("camwidget: could not read labels: %s", exc)
            self.widget.publish(error=f"could not read labels: {exc}")
            return
        rows = [
            {"cluster_id": cid, "cluster": index.get(cid, -1), "label": sc.label, "score": round(float(sc.score), 4),
             "annotations": int(sc.annotations), "correct": bool(sc.correct)}
            for cid, found in scores.items()
            for sc in found
        ]
        rows.sort(key=lambda r: (r["cluster"] if r["cluster"] >= 0 else 1 << 20, -r["score"], r["label"]))
        self.widget.publish(labels=rows, annotations=[annotation_dict(a) for a in every])

    # ---- browser -------------------------------------------------------------------------------
    def on_label(self, message: dict[str, Any]) -> None:
        """``{"kind": "label", "cluster": index, "text": str}`` (action thread)."""
        text = message.get("text")
        if not isinstance(text, str):
            raise TypeError(f"text: expected the label's text (a string), got {text!r}")
        self.label(text, check_cluster_index(message.get("cluster")))

    # ---- worker --------------------------------------------------------------------------------
    def on_answer(self, answer: Answer, job: Job) -> None:
        """With the INV method on screen, send the layer's clusters (once per layer, target, seed)."""
        s = answer.request.selection
        if s.method != "inv":
            return
        key = (s.layer, s.target, s.seed)
        if key == self._sent:
            return
        with job.session() as session:
            found = session.clusters(s.layer, target=s.target, seed=s.seed)
        from . import wire

        data, tile = wire.pack_clusters([c.map for c in found])
        meta = {
            "layer": s.layer,
            "target": s.target_json,
            "seed": s.seed,
            "tile": tile,
            "clusters": [
                {"index": c.index, "id": c.id, "weight": round(float(c.weight), 3), "channels": len(c.channels)}
                for c in found
            ],
        }
        if job.superseded():
            return
        self.widget.publish(clusters_atlas=data, clusters_meta=meta)
        self._sent = key
        self.refresh_labels(s.layer, s.target)
