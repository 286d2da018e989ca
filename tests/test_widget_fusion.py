"""Fusing layers in the widget (shift-click stops on the layer strip): the ``fuse_layers`` and
``fuse_gamma`` traits through the real comm handler and from Python, validated like every value."""
from __future__ import annotations

import numpy as np
import pytest

from camwidget.widget import CamWidget, faithfulness

LAYER = "features.3"


def update(w: CamWidget, **state) -> None:
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})
    assert w.wait(30)


@pytest.fixture
def widget(tiny_session, monkeypatch):
    monkeypatch.setattr("camwidget.widget.maps.ATLAS_AFTER_S", 0.0)
    w = CamWidget(tiny_session, method="layercam", layer=LAYER)
    assert w.wait(30) and w.error == "" and w.fuse_layers == []
    yield w
    w.close()


def test_shift_clicked_stops_show_the_engine_fusion_and_the_status_names_them(widget, tiny_session):
    w = widget
    update(w, fuse_layers=["features.3", "features.0"], request=5)  # what the strip sends
    assert w.answered == 5 and w.error == ""
    assert w.fuse_layers == ["features.0", "features.3"] and w.layer == LAYER  # depth order; layer kept
    expected = tiny_session.explain("layercam", layer=["features.0", "features.3"])
    np.testing.assert_allclose(w.explanation.map, expected.map, rtol=1e-6)
    assert w.heatmap_meta["layer"] == "features.0 + features.3"
    assert "fused 2 layers: features.0 + features.3" in w.status
    assert w.atlas_meta["layer"] == LAYER and w.atlas_meta["weight_kind"] == "weight"  # the one layer's maps
    # The current layer left out of the set: the deepest fused layer becomes current.
    update(w, fuse_layers=["features.0", "features.2"], request=6)
    assert w.layer == "features.2" and w.explanation.layer == "features.0 + features.2"
    # LayerCAM's scaling, from Python.
    w.fuse_gamma = 2
    assert w.wait(30) and w.fuse_gamma == 2.0
    scaled = tiny_session.explain("layercam", layer=["features.0", "features.2"], gamma=2.0)
    np.testing.assert_allclose(w.explanation.map, scaled.map, rtol=1e-6)
    assert "(tanh γ=2)" in w.status


def test_a_plain_step_a_subset_or_a_method_that_cannot_fuse_returns_to_one_layer(widget):
    w = widget
    w.fuse_layers = ["features.0", "features.3"]  # Python → view
    assert w.wait(30) and w.fuse_layers == ["features.0", "features.3"]
    update(w, layer=LAYER, fuse_layers=[], region=None, channels=None, request=10)  # a click on the current stop
    assert w.fuse_layers == [] and w.explanation.layer == LAYER
    update(w, fuse_layers=["features.0", "features.3"], request=11)
    update(w, layer="features.2", region=None, channels=None, request=12)  # a key step
    assert w.fuse_layers == [] and w.explanation.layer == "features.2"
    update(w, fuse_layers=["features.0", "features.2"], request=13)
    update(w, channels=[1, 2], request=14)  # a feature-map subset belongs to one layer
    assert w.fuse_layers == [] and w.explanation.channels == [1, 2] and w.explanation.layer == "features.2"
    update(w, fuse_layers=["features.0", "features.2"], request=15)
    assert w.channels is None  # fusing cleared the subset
    w.method = "inv"
    assert w.wait(60) and w.fuse_layers == [] and w.selection.fuse_layers == ()
    assert w.explanation.method == "inv" and w.explanation.layer == "features.2"


@pytest.mark.parametrize("value, words", [
    (["features.3"], "fusing needs two or more layers"),
    (["features.0", "features.0"], "'features.0' is given twice"),
    (["features.0", "no.such"], "'no.such'"),
    ("features.0", "expected a list of layer names"),
    ([1, 2], "expected layer names"),
    ({"a": 1}, "expected a list"),
])
def test_bad_fused_sets_are_refused_with_a_message_and_the_view_answers_on(widget, value, words):
    w = widget
    update(w, fuse_layers=value, request=20)
    assert w.error.startswith("fuse_layers: ") and words in w.error, w.error
    assert w.fuse_layers == [] and w.answered == 20 and w.explanation.layer == LAYER
    w.fuse_layers = value  # the same from Python: refused, no exception in the cell
    assert w.wait(30) and w.error.startswith("fuse_layers: ") and w.fuse_layers == []
    update(w, fuse_layers=["features.0", "features.3"], request=30)
    assert w.error == "" and w.explanation.layer == "features.0 + features.3"


def test_methods_that_cannot_fuse_and_bad_gammas_are_refused(widget):
    w = widget
    w.method = "lime"
    assert w.wait(60)
    update(w, fuse_layers=["features.0", "features.3"], request=40)
    assert w.error.startswith("fuse_layers: 'lime' cannot fuse several layers") and w.fuse_layers == []
    for bad in (0, -1.0, "2", True, float("nan")):
        update(w, fuse_gamma=bad, request=41)
        assert w.error.startswith("fuse_gamma: "), (bad, w.error)
        assert w.fuse_gamma is None


def test_the_compare_table_fuses_the_same_layers(widget, monkeypatch):
    monkeypatch.setattr(faithfulness, "STEPS", 4)
    monkeypatch.setattr(faithfulness, "STILL_S", 0.0)
    w = widget
    update(w, fuse_layers=["features.0", "features.3"], request=50)
    rows = w.compare(methods=["gradcam", "lime"], metrics=["deletion"])
    assert [r["layer"] for r in rows] == ["features.0 + features.3"] * 2
    assert 0 <= rows[0]["deletion"] <= 1
    assert rows[1]["error"].startswith("layer: 'lime' cannot fuse")
    assert w.compare_table["layer"] == "features.0 + features.3"
