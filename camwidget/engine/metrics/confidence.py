"""Average Drop and Increase in confidence (Chattopadhyay et al. 2018, the Grad-CAM++ paper).

Y = p(x), O = p(x ⊙ M) with M the map upsampled to the model input and normalised to [0, 1]
(multiplied into the model-input tensor, every channel):

    drop     = 100 · max(0, Y − O) / Y          (lower is better)
    increase = 100 · 1[O > Y]                  (higher is better)

per image, in percent; over a data set, the mean of either is the paper's number. torchcam's
``ClassificationMetric`` computes the same (as fractions, with 1e-7 added to Y); pytorch-grad-cam's
``DropInConfidence`` does not divide by Y, so it is not this metric. Both read one masked pass,
shared between them. Y and O are the explanation's own target's numbers (metrics/scores.py); a
custom score must be > 0 on the image for the drop (it is refused otherwise).
"""
from __future__ import annotations

from . import scores
from .passes import ORIGINAL, Context, Request
from .result import MetricResult

KEY = ("masked by the map",)


def requests(context: Context) -> list[Request]:
    return [Request(KEY, lambda: context.input * context.saliency.to(context.input)[None, None])]


def result(context: Context, kind: str, probabilities) -> MetricResult:
    y, o = probabilities[ORIGINAL], probabilities[KEY]
    scores.check_drop(context.target, y, kind)
    if kind == "avg-drop":
        value = 100.0 * max(0.0, y - o) / y if y > 0 else 0.0
    else:
        value = 100.0 * float(o > y)
    return MetricResult(kind, value, None, {}, higher_is_better=kind == "avg-increase",
                        details={"probability": y, "masked_probability": o})
