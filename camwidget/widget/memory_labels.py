"""A label store that lives only as long as the widget (what ``CamWidget`` uses without ``store=``)."""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from ..labels.store import Annotation
from ..labels.validation import validated_row


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
