"""A segmentation model in the widget: the output box (``target_box``) is a selection trait —
set from the browser or from Python, validated, refused with a message — and it makes the target
a SegmentationTarget over that box of the class on screen."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.widget import CamWidget
from test_outputs_targets import TinySegmenter, Wrapped
from test_widget_targets import from_frontend

from nets import tiny_preprocess


def json_safe(w: CamWidget) -> None:
    """Every synced trait can travel: JSON, or bytes (a Target object in a dict would not)."""
    def binary(value):
        if isinstance(value, (bytes, memoryview)):
            return None
        raise TypeError(f"{type(value).__name__} in the widget's state cannot travel as JSON")

    json.dumps(w.get_state(), default=binary)


@pytest.fixture
def widget(tiny_image):
    session = cw.Session(TinySegmenter(), tiny_image, preprocess=tiny_preprocess)
    w = CamWidget(session, method="gradcam")
    assert w.wait(30)
    yield w
    w.close()


def test_the_output_shape_and_the_score_kind_travel(widget):
    h, w = widget.session.input.shape[-2:]
    assert widget.output_shape == [h, w]
    assert {c["score_kind"] for c in widget.top} == {"share of output pixels"}
    assert sum(c["score"] for c in widget.top) == pytest.approx(1.0)
    assert widget.target_box is None and "predicted pixels" in widget.status


def test_a_box_from_the_browser_becomes_a_segmentation_target_of_the_class_on_screen(widget):
    cls = widget.explanation.target
    before = widget.explanation.map.copy()
    from_frontend(widget, target_box=[0, 0, 6, 8])
    assert widget.wait(30)
    target = widget.selection.target
    assert isinstance(target, cw.targets.SegmentationTarget) and target.box == (0, 0, 6, 8) and target.index == cls
    assert widget.target_box == [0, 0, 6, 8] and widget.error == ""
    expected = widget.session.explain("gradcam", layer=widget.layer, target=cw.targets.SegmentationTarget(cls, box=(0, 0, 6, 8)))
    np.testing.assert_allclose(widget.explanation.map, expected.map, rtol=1e-5, atol=1e-7)
    assert not np.allclose(widget.explanation.map, before)
    assert "in box (0, 0, 6, 8)" in widget.status
    json_safe(widget)
    # another class keeps the box; a click (None) goes back to the class's predicted pixels
    other = next(c["index"] for c in widget.top if c["index"] != cls) if len(widget.top) > 1 else (cls + 1) % 3
    from_frontend(widget, target=other)
    assert widget.wait(30)
    assert widget.selection.target == cw.targets.SegmentationTarget(other, box=(0, 0, 6, 8)).resolved(widget.session)
    assert widget.get_state(["target"])["target"] == other and widget.target_box == [0, 0, 6, 8]
    from_frontend(widget, target_box=None)
    assert widget.wait(30)
    assert widget.target_box is None and widget.selection.target == cw.targets.SegmentationTarget(other).resolved(widget.session)
    assert "in box" not in widget.status


BAD_BOXES = [
    ([0, 0, 99, 4], "outside or empty"),
    ([3, 3, 3, 5], "outside or empty"),
    ([0, 0, 2], "expected (row0, col0, row1, col1)"),
    ("0,0,2,2", "expected (row0, col0, row1, col1)"),
    ([0, 0, 2.5, 2], "expected (row0, col0, row1, col1)"),
]


def test_bad_boxes_are_refused_in_error_and_the_trait_keeps_its_value(widget):
    from_frontend(widget, target_box=[1, 1, 4, 4])
    assert widget.wait(30)
    shown = widget.explanation
    for box, message in BAD_BOXES:
        from_frontend(widget, target_box=box)
        assert widget.wait(30)
        assert widget.error.startswith("target_box:") and message in widget.error, (box, widget.error)
        assert widget.target_box == [1, 1, 4, 4] and widget.explanation is shown
        widget.error = ""
        widget.target_box = box  # from Python: the same refusal
        assert widget.error.startswith("target_box:") and message in widget.error and widget.target_box == [1, 1, 4, 4]


def test_python_sets_the_box_or_a_box_target_and_the_other_trait_follows(widget):
    widget.target_box = (2, 3, 9, 12)
    assert widget.wait(30)
    assert widget.selection.target.box == (2, 3, 9, 12) and widget.error == ""
    widget.target = cw.targets.SegmentationTarget(2, box=(1, 1, 5, 5))
    assert widget.wait(30)
    assert widget.target_box == [1, 1, 5, 5] and json.loads(json.dumps(widget.get_state(["target"])))["target"] == 2

    def edge_score(output):
        return output[0, :, :4].sum()

    widget.target = edge_score
    assert widget.wait(30)
    assert widget.target_box is None
    widget.target_box = (0, 0, 2, 2)  # a custom score has no class to put in a box
    assert "scores no class" in widget.error and widget.target_box is None


def test_a_classifier_refuses_an_output_box(tiny_session):
    w = CamWidget(tiny_session, method="gradcam")
    try:
        assert w.wait(30)
        assert w.output_shape == [] and {c["score_kind"] for c in w.top} == {"softmax probability"}
        from_frontend(w, target_box=[0, 0, 2, 2])
        assert w.wait(30)
        assert w.error.startswith("target_box: only a segmentation model") and w.target_box is None
    finally:
        w.close()


def test_multilabel_scores_are_labelled_sigmoid(tiny_image):
    session = cw.Session(Wrapped(lambda t: t), tiny_image, preprocess=tiny_preprocess, task="multilabel")
    w = CamWidget(session, method="gradcam")
    try:
        assert w.wait(30)
        assert {c["score_kind"] for c in w.top} == {"sigmoid probability"}
        np.testing.assert_allclose([c["score"] for c in w.top], torch.sigmoid(session.logits).sort(descending=True).values[:len(w.top)].numpy(), rtol=1e-6)
    finally:
        w.close()
