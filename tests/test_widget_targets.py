"""The widget on transformers and on targets beyond a class (Python side, no browser)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.models import Preprocess
from camwidget.widget import CamWidget
from test_outputs_targets import TinySegmenter, Wrapped
from test_transformers import _tiny_vit

from nets import tiny_preprocess


def from_frontend(w: CamWidget, **state) -> None:
    """A browser update (it always carries the view's next request id)."""
    state.setdefault("request", w.request + 1)
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, size=(48, 56, 3), dtype=np.uint8)


def test_the_widget_steps_through_vit_blocks_and_says_why_the_last_is_blank(image):
    session = cw.Session(_tiny_vit(), image, preprocess=Preprocess(size=(64, 64)))
    w = CamWidget(session, method="gradcam")
    try:
        assert w.wait(60)
        assert w.layer == "blocks.1"  # the default: the last block's map would be blank
        assert [entry["shape"] for entry in w.layers if entry["name"].startswith("blocks")] == [[32, 8, 8]] * 3
        for name in ("blocks.0", "blocks.1", "blocks"):
            from_frontend(w, layer=name)
            assert w.wait(60)
            assert w.explanation.layer == name and w.explanation.map.shape == (8, 8)
        assert w.explanation.blank and "prefix (class) token" in w.status
    finally:
        w.close()


def test_multilabel_picker_shows_sigmoid_scores(tiny_image):
    session = cw.Session(Wrapped(lambda t: t), tiny_image, preprocess=tiny_preprocess, task="multilabel")
    w = CamWidget(session, method="gradcam")
    try:
        assert w.wait(30)
        expected = torch.sigmoid(session.logits).sort(descending=True)
        np.testing.assert_allclose([c["score"] for c in w.top], expected.values[:4].numpy(), rtol=1e-6)
        from_frontend(w, target=2)
        assert w.wait(30)
        assert w.explanation.target == 2 and w.get_state(["target"])["target"] == 2
    finally:
        w.close()


def test_segmentation_classes_present_a_box_target_and_a_named_custom_score(tiny_image):
    session = cw.Session(TinySegmenter(), tiny_image, preprocess=tiny_preprocess)
    w = CamWidget(session, method="gradcam")
    try:
        assert w.wait(30)
        assert [c["index"] for c in w.top] == [i for i, _, _ in session.top(5)]
        assert "predicted pixels" in w.status
        w.target = cw.targets.SegmentationTarget(1, box=(2, 2, 9, 9))
        assert w.wait(30)
        assert w.explanation.class_name == "class 1 in box (2, 2, 9, 9)" and "in box" in w.status
        assert json.loads(json.dumps(w.get_state(["target"])))["target"] == 1  # the browser sees the class

        def edge_score(output):
            return output[0, :, :4].sum()

        w.target = edge_score
        assert w.wait(30)
        assert w.explanation.target is None and "edge_score" in w.status and "#" not in w.status.split("·")[2]
    finally:
        w.close()
