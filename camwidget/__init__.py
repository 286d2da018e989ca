"""camwidget: explore why a CNN image classifier decided what it did, live in a notebook."""
from . import images, models, samples
from .engine import Explanation, LayerInfo, Session, methods, targets
from .engine import metrics

__all__ = ["Explanation", "LayerInfo", "Session", "images", "methods", "metrics", "models", "samples", "targets"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The widget and the label store load on first use, so the engine imports without them.
    if name in ("CamWidget", "explore"):
        from . import widget

        return getattr(widget, name)
    if name in ("LabelStore", "global_explanation"):
        from . import labels

        return getattr(labels, name)
    if name in ("explain_dataset", "evaluate_dataset", "open_results", "Campaign"):
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'camwidget' has no attribute {name!r}")
