"""Faithfulness metrics of the explanation's own target: a multi-label class (sigmoid), a
segmentation target (mean softmax over its pixels) and a score callable (the score itself)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from nets import TinyCNN, tiny_preprocess
from torch import nn

import camwidget as cw
from camwidget.engine.targets import SegmentationTarget

LAYER = "features.3"
STEPS = 4


class TinySegmenter(nn.Module):
    """conv → conv → 3-class 1×1 conv, upsampled to the input: {"out": B × 3 × H × W}."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        return {"out": self.classifier(self.backbone(x))}


def _net() -> nn.Module:
    torch.manual_seed(0)
    return TinyCNN().eval()


def _masked(session, e) -> torch.Tensor:
    """x ⊙ M, M the map upsampled to the model input and normalised (what Average Drop feeds)."""
    m = torch.from_numpy(np.ascontiguousarray(e.upsampled(tuple(session.input.shape[-2:]))))
    return session.input * m[None, None]


def test_multilabel_metrics_follow_the_sigmoid_of_the_class(tiny_image):
    s = cw.Session(_net(), tiny_image, preprocess=tiny_preprocess, task="multilabel")
    e = s.explain("gradcam", layer=LAYER, target=1)
    assert e.target == 1 and e.resolved_target is not None
    r = s.evaluate(e, ["deletion", "avg-drop", "avg-increase"], steps=STEPS)
    y = float(torch.sigmoid(s.logits[1]))
    curve = r["deletion"].curve
    assert curve.y_label == "sigmoid p(target)" and curve.y[0] == pytest.approx(y, rel=1e-6)
    zeros = float(torch.sigmoid(s.predict(torch.zeros_like(s.input))[0, 1]))
    assert curve.y[-1] == pytest.approx(zeros, rel=1e-5)  # everything deleted: the zero baseline
    o = float(torch.sigmoid(s.predict(_masked(s, e))[0, 1]))
    assert r["avg-drop"].value == pytest.approx(100 * max(0.0, y - o) / y, abs=1e-3)
    assert r["avg-increase"].value == (100.0 if o > y else 0.0)
    # A softmax over the labels would be another number (the bug this guards against).
    softmax = float(torch.softmax(s.logits, 0)[1])
    assert abs(softmax - y) > 1e-3


def test_segmentation_metrics_score_the_mean_class_probability_over_the_target_pixels(tiny_image):
    s = cw.Session(TinySegmenter().eval(), tiny_image, preprocess=tiny_preprocess)
    target = SegmentationTarget(1, box=(2, 3, 10, 12))
    e = s.explain("gradcam", layer="backbone.2", target=target)
    r = s.evaluate(e, ["insertion"], steps=STEPS, baseline="zero")
    p = torch.softmax(s.predict(s.input)[0], dim=0)[1]
    curve = r["insertion"].curve
    assert curve.y_label == "mean p(category) over the target's pixels"
    assert curve.y[-1] == pytest.approx(float(p[2:10, 3:12].mean()), rel=1e-6)  # all inserted: the image
    assert 0 <= r["insertion"].value <= 1


def test_a_score_callable_is_scored_by_itself_and_avg_drop_needs_it_positive(tiny_image):
    s = cw.Session(_net(), tiny_image, preprocess=tiny_preprocess)
    logits = s.logits
    hi, lo = int(logits.argmax()), int(logits.argmin())
    margin = lambda out: out[hi] - out[lo]  # noqa: E731 - a pytorch-grad-cam style target
    e = s.explain("gradcam", layer=LAYER, target=margin)
    assert e.target is None and e.resolved_target is not None
    r = s.evaluate(e, ["deletion", "avg-drop"], steps=STEPS)
    y = float(logits[hi] - logits[lo])
    assert r["deletion"].curve.y_label == "score" and r["deletion"].curve.y[0] == pytest.approx(y, rel=1e-6)
    out = s.predict(_masked(s, e))[0]
    o = float(out[hi] - out[lo])
    assert r["avg-drop"].value == pytest.approx(100 * max(0.0, y - o) / y, abs=1e-3)
    negative = s.explain("gradcam", layer=LAYER, target=lambda out: out[lo] - out[hi])
    with pytest.raises(ValueError, match=r"^metrics: avg-drop divides by the target's score .*\(not > 0\)"):
        s.evaluate(negative, ["avg-drop"])
    assert s.evaluate(negative, ["deletion"], steps=STEPS)["deletion"].curve.y[0] == pytest.approx(-y, rel=1e-6)
    # The sanity check re-explains the same callable on the randomised models.
    sanity = s.evaluate(e, ["sanity"], stages=2)["sanity"]
    assert len(sanity.curve.y) == 2 and -1 <= sanity.value <= 1
