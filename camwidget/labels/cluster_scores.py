"""The labels already given to the clusters of one image and layer, with their scores.

What the widget's clusters view shows next to each cluster: the same text processing and score
as the global explanation (INV, Bianchi, De Santis et al. 2024; docs/inv.md), restricted to one image, model, class and layer,
without merging (each cluster is shown on its own).
"""

from __future__ import annotations

from typing import Any

from ..engine.targets import class_index
from .scores import LabelScore, cluster_labels
from .text import DEFAULT_THRESHOLD, name_labels, phrases


def cluster_scores(
    store,
    session: Any,
    layer: str,
    *,
    target: int | str | None = None,
    embedder: Any = None,
    group_synonyms: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, list[LabelScore]]:
    """cluster id → its labels, best first, for ``session``'s image and model at ``layer``.

    ``group_synonyms=False`` skips Sentence-BERT: each normalised phrase is its own label
    (instant; useful while the sentence model is not loaded yet).
    """
    target_index = class_index(session.resolve_target(target))  # a segmentation or multi-label target: its class
    if target_index is None:
        return {}  # a custom score: no class, so no labels were recorded for it
    annotations = store.annotations(image_fingerprint=session.image_fingerprint,
                                    model_fingerprint=session.model_fingerprint,
                                    target=target_index, layer=layer)
    class_names = sorted({a.target_name for a in annotations if a.target_name})
    phrases_of = {a.id: phrases(a.text, class_names) for a in annotations}
    every = [p for a in annotations for p in phrases_of[a.id]]
    if group_synonyms:
        names = name_labels(every, embedder, threshold=threshold)
    else:
        names = {p: p for p in every}
    clusters = cluster_labels(annotations, lambda a: {names[p] for p in phrases_of[a.id]})
    return {
        c.cluster_ids[0]: sorted(c.scores.values(), key=lambda s: (-s.score, s.label))
        for c in clusters
    }
