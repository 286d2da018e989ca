"""Targets that are not a class index, past the map: the faithfulness metrics, the guards'
messages, INV labels and the reveal game use the target's own score and name."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.engine.metrics.passes import original_probability
from camwidget.widget import CamWidget
from test_outputs_targets import TinySegmenter, Wrapped

from nets import tiny_preprocess


def corner_score(output):
    """A custom score of one image's logits: classes 0 and 1."""
    return output[0] + output[1]


def zero_score(output):
    return output.sum() * 0


@pytest.fixture
def multilabel(tiny_image):
    return cw.Session(Wrapped(lambda t: t), tiny_image, preprocess=tiny_preprocess, task="multilabel")


def test_metrics_score_the_targets_own_probability(multilabel, tiny_image):
    e = multilabel.explain("gradcam", target=2)
    assert isinstance(e.resolved_target, cw.targets.MultiLabelTarget)
    assert original_probability(multilabel, e.resolved_target) == pytest.approx(float(torch.sigmoid(multilabel.logits[2])))
    results = multilabel.evaluate(e, ["deletion", "avg-drop"], steps=8)
    assert 0 <= results["deletion"].value <= 1 and np.isfinite(results["avg-drop"].value)
    custom = multilabel.explain("gradcam", target=corner_score)
    assert custom.target is None and np.isfinite(multilabel.evaluate(custom, ["deletion"], steps=8)["deletion"].value)
    seg = cw.Session(TinySegmenter(), tiny_image, preprocess=tiny_preprocess)
    box = cw.targets.SegmentationTarget(1, box=(0, 0, 8, 8))
    s = seg.explain("gradcam", target=box)
    expected = torch.softmax(seg.logits, dim=0)[1, :8, :8].mean()
    assert original_probability(seg, s.resolved_target) == pytest.approx(float(expected), rel=1e-5)
    assert 0 <= seg.evaluate(s, ["insertion"], steps=8)["insertion"].value <= 1


def test_a_constant_score_is_named_by_its_own_name(multilabel, tiny_session):
    with pytest.raises(ValueError, match=r"^target: the score 'zero_score' does not depend on the image"):
        multilabel.explain("gradcam", target=zero_score)
    with pytest.raises(ValueError) as error:
        tiny_session.explain("gradcam", target=cw.targets.ScoreTarget(zero_score, name="nothing at all"))
    assert "'nothing at all'" in str(error.value) and "logit of class" not in str(error.value)


def test_the_widget_reports_a_constant_custom_score_and_evaluates_a_live_one(tiny_session):
    w = CamWidget(tiny_session, method="gradcam")
    try:
        assert w.wait(30)
        w.target = zero_score
        assert w.wait(30)
        assert "the score 'zero_score' does not depend on the image" in w.error
        w.target = corner_score
        assert w.wait(30)
        assert w.error == "" and "corner_score" in w.status
        assert np.isfinite(w.faithfulness["deletion"].value)
        w.method = "inv"
        assert w.wait(30)
        with pytest.raises(ValueError, match="scores no class"):
            w.start_game(0)
        with pytest.raises(Exception, match="scores no class"):
            w.label("a corner")
    finally:
        w.close()


def test_inv_labels_and_the_reveal_game_on_a_multilabel_target(multilabel):
    w = CamWidget(multilabel, method="inv", target=2)
    try:
        assert w.wait(30)
        a = w.label("stripes")
        assert a.target == 2 and w.error == ""
        assert [row["label"] for row in w.labels] == ["stripes"]
        w.start_game(0)
        won = w.guess(2, "stripes again")
        assert won.outcome == "win" and w.game["answer"] == "class 2"
    finally:
        w.close()


def test_the_reveal_game_on_a_segmentation_box_answers_with_the_class(tiny_image):
    session = cw.Session(TinySegmenter(), tiny_image, preprocess=tiny_preprocess)
    w = CamWidget(session, method="inv", target=cw.targets.SegmentationTarget(1, box=(0, 0, 8, 8)))
    try:
        assert w.wait(30)
        w.start_game(0)
        lost = w.guess(0, "edges")
        assert lost.outcome == "loss" and lost.target == 1 and w.game["answer"] == "class 1"
    finally:
        w.close()


def test_the_filmstrip_takes_a_segmentation_box_and_a_custom_score(tiny_image):
    from camwidget.engine.filmstrip import filmstrip

    session = cw.Session(TinySegmenter(), tiny_image, preprocess=tiny_preprocess)
    strip = filmstrip(session, "gradcam++", cw.targets.SegmentationTarget(2, box=(0, 0, 8, 8)))
    assert strip.target == 2 and strip.maps.shape[0] == len(session.layers)
    assert filmstrip(session, "gradcam", lambda out: out[1].sum()).target == -1
