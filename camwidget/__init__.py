"""camwidget: explore why a CNN image classifier decided what it did, live in a notebook."""
from . import images, models, samples
from .engine import Explanation, LayerInfo, Session, methods, targets

__all__ = ["Explanation", "LayerInfo", "Session", "images", "methods", "models", "samples", "targets"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The widget and the label store load on first use, so the engine imports without them.
    if name in ("CamWidget", "explore"):
        from . import widget

        return getattr(widget, name)
    if name in ("LabelStore", "global_explanation"):
        from . import labels

        return getattr(labels, name)
    raise AttributeError(f"module 'camwidget' has no attribute {name!r}")
