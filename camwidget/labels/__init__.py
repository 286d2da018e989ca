"""Human labels of INV clusters: the label store, label text processing, global explanations.

    store = LabelStore()                       # SQLite in the user's data dir; or a path / URL
    store.annotate(session, layer="blocks.5", cluster=cluster, text="pointy ears", guess=285)
    global_explanation(store, 285).plot()
"""

from .global_ import GlobalExplanation, global_explanation
from .store import Annotation, LabelStore, LabelStoreError, LabelValidationError

__all__ = [
    "Annotation",
    "GlobalExplanation",
    "LabelStore",
    "LabelStoreError",
    "LabelValidationError",
    "global_explanation",
]
