"""The widget's clusters view: INV clusters of the current layer, and the labels people give them.

When the method is ``"inv"`` the worker (camwidget/worker.py) computes the layer's clusters — the
t-SNE is the slow part; it reports progress and is superseded like any method — and sends each
cluster's map as a packed uint8 thumbnail with its weight (``clusters_atlas`` / ``clusters_meta``).
Clicking a thumbnail sets ``params.cluster``, so the overlay is the "inv" explanation of that
cluster. A label typed in the view arrives as a custom message and is recorded with
``store.annotate`` — in the :class:`~camwidget.labels.LabelStore` given as ``store=``, or, without
one, in a :class:`MemoryLabels` kept on the widget. ``labels`` lists the current layer's labels
with their scores (``cluster_scores(..., group_synonyms=False)``); ``annotations`` every
annotation of this image and model.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

import traitlets as t

from . import _wire
from .labels import cluster_scores
from .labels.errors import LabelStoreError
from .labels.store import Annotation
from .labels.validation import validated_row

log = logging.getLogger("camwidget.widget")

#: Errors a label or a game move is refused with (shown in the widget's error area).
REFUSED = (LabelStoreError, ValueError, TypeError, KeyError)


class MemoryLabels:
    """A label store that lives only as long as the widget: same ``annotate`` / ``annotations``
    as :class:`~camwidget.labels.LabelStore` (and the same validation), nothing written to disk."""

    def __init__(self) -> None:
        self._rows: list[Annotation] = []
        self._lock = threading.Lock()

    def annotate(self, session: Any, *, layer: str, cluster: Any, text: str, target: Any = None, guess: Any = None,
                 reveal_step: int = 0, outcome: str | None = None, annotator: str | None = None,
                 cluster_weight: float | None = None, layer_depth: int | None = None) -> Annotation:
        row = validated_row(session, layer=layer, cluster=cluster, text=text, target=target, guess=guess,
                            reveal_step=reveal_step, outcome=outcome, annotator=annotator,
                            cluster_weight=cluster_weight, layer_depth=layer_depth)
        with self._lock:
            annotation = Annotation(id=len(self._rows) + 1, **row)
            self._rows.append(annotation)
        return annotation

    def annotations(self, **filters: Any) -> list[Annotation]:
        def keep(a: Annotation) -> bool:
            for name, value in filters.items():
                if value is None:
                    continue
                if name == "target" and isinstance(value, str):
                    if a.target_name != value:
                        return False
                elif getattr(a, name) != value:
                    return False
            return True

        with self._lock:
            return [a for a in self._rows if keep(a)]

    def __len__(self) -> int:
        return len(self._rows)


def annotation_dict(a: Annotation) -> dict[str, Any]:
    """An annotation as JSON-safe values (what the ``annotations`` trait lists)."""
    out = dict(a.__dict__)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out


class ClusterLabelling(t.HasTraits):
    """Mixin for :class:`~camwidget.widget.CamWidget`: the clusters view and label recording."""

    clusters_atlas = t.Bytes(b"").tag(sync=True)
    clusters_meta = t.Dict().tag(sync=True)
    labels = t.List(t.Dict()).tag(sync=True)
    annotations = t.List(t.Dict()).tag(sync=True)
    annotator = t.Unicode("").tag(sync=True)

    def _start_labelling(self, store: Any) -> None:
        self.store = MemoryLabels() if store is None else store
        self._clusters_cache: dict[tuple, list] = {}
        self._clusters_key: tuple | None = None
        self.on_msg(self._on_custom_msg)

    # ---- public -----------------------------------------------------------------------------
    def clusters(self, layer: str | None = None) -> list:
        """The INV clusters of ``layer`` (default: the current one) for the current target."""
        return self._clusters(layer or self.layer)

    def label(self, text: str, cluster: int | None = None) -> Annotation:
        """Record ``text`` for ``cluster`` (an index; default: the one on screen) of the current layer."""
        layer = self.layer
        chosen = self._cluster(layer, cluster)
        a = self.store.annotate(self.session, layer=layer, cluster=chosen, text=text, target=chosen.target,
                                annotator=self.annotator or None, layer_depth=self._depth(layer))
        self._refresh_labels()
        with self._batch():
            self.error = ""
            self.status = f"label recorded for cluster {chosen.index} of {layer}"
        return a

    # ---- internals ----------------------------------------------------------------------------
    def _seed(self) -> int:
        return int(self.params.get("seed", 0) or 0) if self.method == "inv" else 0

    def _clusters(self, layer: str, target: int | None = None, seed: int | None = None) -> list:
        key = (layer, self.target if target is None else target, self._seed() if seed is None else seed)
        found = self._clusters_cache.get(key)
        if found is None:
            with self._session_lock:
                found = self.session.clusters(key[0], target=key[1], seed=key[2])
            self._clusters_cache[key] = found
        return found

    def _cluster(self, layer: str, index: Any = None):
        if index is None:
            index = self.params.get("cluster", 0) if self.method == "inv" else 0
        if isinstance(index, bool) or not isinstance(index, (int, float)) or int(index) != index:
            raise TypeError(f"cluster: expected a cluster index, got {index!r}")
        found = self._clusters(layer)
        if not 0 <= int(index) < len(found):
            raise ValueError(f"cluster: {index} does not exist; {layer} has {len(found)} cluster(s)")
        return found[int(index)]

    def _depth(self, layer: str) -> int | None:
        try:
            return int(self.session.layer_info(layer).depth)
        except Exception:  # noqa: BLE001 - the depth is optional
            return None

    def _after_answer(self, state: dict[str, Any]) -> None:
        """Worker hook: with the INV method on screen, send the layer's clusters (once per key)."""
        if state["method"] != "inv":
            return
        seed = int(state["params"].get("seed", 0) or 0)
        key = (state["layer"], state["target"], seed)
        if key == self._clusters_key:
            return
        with self._session_lock:
            found = self.session.clusters(state["layer"], target=state["target"], seed=seed)
        self._clusters_cache[key] = found
        data, tile = _wire.pack_clusters([c.map for c in found])
        meta = {
            "layer": state["layer"],
            "target": state["target"],
            "seed": seed,
            "tile": tile,
            "clusters": [
                {"index": c.index, "id": c.id, "weight": round(float(c.weight), 3), "channels": len(c.channels)}
                for c in found
            ],
        }
        if self._superseded():
            return
        with self._batch():
            self.clusters_atlas = data
            self.clusters_meta = meta
        self._clusters_key = key
        self._refresh_labels(state["layer"], state["target"])

    def _refresh_labels(self, layer: str | None = None, target: int | None = None) -> None:
        """Recompute ``labels`` (the layer's labels with scores) and ``annotations``."""
        layer = layer or self.layer
        target = self.target if target is None else target
        s = self.session
        try:
            scores = cluster_scores(self.store, s, layer, target=target, group_synonyms=False)
            every = self.store.annotations(image_fingerprint=s.image_fingerprint, model_fingerprint=s.model_fingerprint)
        except REFUSED as exc:
            log.warning("camwidget: could not read labels: %s", exc)
            with self._batch():
                self.error = f"could not read labels: {exc}"
            return
        index = {c.id: c.index for c in self._clusters_cache.get((layer, target, self._seed()), [])}
        rows = [
            {"cluster_id": cid, "cluster": index.get(cid, -1), "label": sc.label, "score": round(float(sc.score), 4),
             "annotations": int(sc.annotations), "correct": bool(sc.correct)}
            for cid, found in scores.items()
            for sc in found
        ]
        rows.sort(key=lambda r: (r["cluster"] if r["cluster"] >= 0 else 1 << 20, -r["score"], r["label"]))
        with self._batch():
            self.labels = rows
            self.annotations = [annotation_dict(a) for a in every]

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        """Actions from the browser: ``{"kind": "label" | "game", ...}``; refusals go to ``error``."""
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        try:
            if kind == "label":
                self.label(content.get("text"), content.get("cluster"))
            elif kind == "game":
                self._game_action(content)
            else:
                raise ValueError(f"unknown action {kind!r}")
        except REFUSED as exc:
            log.info("camwidget refused %s: %s", kind, exc)
            with self._batch():
                self.error = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
