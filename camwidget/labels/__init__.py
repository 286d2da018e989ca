"""Human labels of INV clusters: the label store, label text processing, global explanations.

    store = LabelStore()                       # SQLite in the user's data dir; or a path / URL
    store.annotate(session, layer="blocks.5", cluster=cluster, text="pointy ears", guess=285)
    global_explanation(store, 285).plot()
"""

from .cluster_scores import cluster_scores
from .global_explanation import GlobalExplanation, Row, global_explanation
from .scores import LabelScore, merge_clusters, merge_maps
from .store import Annotation, ClassSummary, LabelStore, LabelStoreError, LabelValidationError

__all__ = [
    "Annotation",
    "ClassSummary",
    "GlobalExplanation",
    "LabelScore",
    "LabelStore",
    "LabelStoreError",
    "LabelValidationError",
    "Row",
    "cluster_scores",
    "global_explanation",
    "merge_clusters",
    "merge_maps",
]
