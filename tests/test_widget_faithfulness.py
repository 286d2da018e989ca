"""The Faithfulness panel: the map on screen's metrics (``faithfulness_curves`` trait, ``w.faithfulness``)
and the compare table (``compare`` action, ``w.compare()``), through the widget's real comm handler."""
from __future__ import annotations

import pytest

from camwidget.widget import CamWidget, faithfulness

LAYER = "features.3"


def update(w: CamWidget, **state) -> None:
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def custom(w: CamWidget, content) -> None:
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    assert w.wait(60)


@pytest.fixture
def widget(tiny_session, monkeypatch):
    monkeypatch.setattr(faithfulness, "STEPS", 4)  # the 16 × 16 tiny input
    monkeypatch.setattr(faithfulness, "STILL_S", 0.0)
    w = CamWidget(tiny_session, method="gradcam", layer=LAYER)
    assert w.wait(60)
    yield w
    w.close()


def test_the_map_on_screen_is_scored_and_its_curves_sent_as_vectors(widget, tiny_session):
    results = widget.faithfulness
    assert set(results) == {"deletion", "insertion", "avg-drop", "avg-increase"}
    expected = tiny_session.evaluate(widget.explanation, list(results), steps=4)
    assert results["deletion"].value == pytest.approx(expected["deletion"].value)
    sent = widget.faithfulness_curves
    assert sent["state"] == "done" and sent["method"] == "gradcam" and sent["steps"] == 4
    deletion = sent["metrics"]["deletion"]
    assert len(deletion["x"]) == len(deletion["y"]) == 5 and deletion["higher_is_better"] is False
    update(widget, method="layercam", request=2)
    assert widget.wait(60)
    assert widget.faithfulness_curves["method"] == "layercam"
    assert widget.faithfulness["insertion"].value == pytest.approx(
        tiny_session.evaluate(widget.explanation, ["insertion"], steps=4)["insertion"].value)


def test_compare_fills_a_row_per_method_and_a_cam_error_is_a_row_message(widget):
    rows = widget.compare(methods=["gradcam", "layercam", "cam"], metrics=["deletion", "avg-drop"])
    assert [r["method"] for r in rows] == ["gradcam", "layercam", "cam"]
    assert all(0 <= r["deletion"] <= 1 for r in rows[:2])
    assert "error" in rows[2] and rows[2]["error"].startswith("layer: ")  # CAM is defined at its head layer only
    table = widget.compare_table
    assert table["state"] == "done" and table["higher_is_better"] == {"deletion": False, "avg-drop": False}
    assert len(table["rows"]) == 3


def test_the_compare_action_from_the_browser_and_its_refusals(widget):
    custom(widget, {"kind": "compare", "methods": ["gradcam", "eigencam"], "metrics": ["insertion"]})
    table = widget.compare_table
    assert [r["method"] for r in table["rows"]] == ["gradcam", "eigencam"]
    custom(widget, {"kind": "compare", "methods": ["nope"]})
    assert widget.error.startswith("methods: 'nope' is unknown")
    custom(widget, {"kind": "compare", "metrics": "deletion"})
    assert widget.error.startswith("metrics: expected a non-empty list")
