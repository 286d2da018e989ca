"""``explore``: the explorer on a model and an image in one call (model, image → Session → CamWidget)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine import Session
from . import CamWidget


def explore(
    model: Any = None,
    image: Any = "chelsea",
    *,
    preprocess: Any = None,
    classes: Any = None,
    layers: Any = None,
    **widget_options: Any,
) -> CamWidget:
    """Open the explorer on ``model`` and ``image`` in one call.

    ``model=None`` takes the embedded default (EfficientNet-Lite0, ImageNet) with its preprocessing
    and class names; ``image`` may be anything ``Session`` takes or the name of a sample image
    (``"chelsea"``). Other keywords (``layer``, ``method``, ``target``, ``channels``, ``region``,
    ``params``, ``opacity``, ``colormap``, ``outline``, ``hide_rest``, ``store``, ``annotator``) go
    to :class:`CamWidget`.
    """
    from .. import models, samples

    if model is None:
        model, default_preprocess, default_classes = models.default()
        preprocess = default_preprocess if preprocess is None else preprocess
        classes = default_classes if classes is None else classes
    if isinstance(image, str) and not Path(image).exists():
        image = samples.load(image)
    session = Session(model, image, preprocess=preprocess, classes=classes, layers=layers)
    return CamWidget(session, **widget_options)
