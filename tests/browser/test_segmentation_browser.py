"""A segmentation model in the widget, in JupyterLab and headless Chromium: drag a box of the
output map and the target becomes the class's score summed over that box.

torchvision fcn_resnet50 with random weights (no offline segmentation weights) on a 96 × 96 input,
so the test is fast; the class names are torchvision's VOC categories (metadata, no download).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

CELLS = [
    "import json, numpy as np, torch, torchvision\nimport camwidget as cw\nfrom camwidget.models import Preprocess\n\n"
    "torch.manual_seed(0)\n"
    "seg = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None).eval()\n"
    "voc = torchvision.models.segmentation.FCN_ResNet50_Weights.DEFAULT.meta['categories']\n"
    "session = cw.Session(seg, cw.samples.load('chelsea'), preprocess=Preprocess(size=(96, 96)), classes=voc)\n"
    "w = cw.CamWidget(session, method='gradcam')\nw.wait(120)\nbefore = w.explanation.map.copy()\nw",
    "w.wait(120)\ne = w.explanation\nprint(json.dumps({'target_box': w.target_box, 'error': w.error, 'status': w.status,\n"
    "    'layer': w.layer, 'box': list(getattr(w.selection.target, 'box', None) or []), 'index': e.target,\n"
    "    'changed': bool(not np.allclose(before, e.map)), 'output_shape': w.output_shape}))",
]


def _state(nb) -> dict:
    return json.loads(nb.run(1).strip().splitlines()[-1])


def test_dragging_a_box_of_the_output_explains_the_class_in_that_box(chromium_executable):
    with lab.opened_notebook(chromium_executable, "segmentation.ipynb", CELLS) as (_server, page, nb, page_errors):
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=120_000)
        state = _state(nb)
        assert state["target_box"] is None and state["error"] == "" and state["output_shape"] == [96, 96], state
        assert state["layer"] == "backbone.layer4"
        assert page.locator("[data-testid=drag-mode]").is_visible()
        assert page.locator("[data-testid=drag-output]").is_checked()
        kind = page.locator("[data-testid=score-kind]").inner_text()
        assert kind == "(share of output pixels)", kind
        selector = page.locator("[data-testid=output-box-selector]")
        selector.scroll_into_view_if_needed()
        box = selector.bounding_box()
        (fx0, fy0), (fx1, fy1) = (0.10, 0.20), (0.55, 0.70)
        page.mouse.move(box["x"] + fx0 * box["width"], box["y"] + fy0 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + fx1 * box["width"], box["y"] + fy1 * box["height"], steps=10)
        page.mouse.up()
        expected = [int(fy0 * 96), int(fx0 * 96), int(fy1 * 96) + 1, int(fx1 * 96) + 1]
        page.wait_for_function(
            "() => document.querySelector('[data-testid=status]').textContent.includes('in box')", timeout=60_000)
        state = _state(nb)
        assert state["error"] == "", state
        got = state["target_box"]
        assert got == state["box"] and all(abs(a - b) <= 1 for a, b in zip(got, expected)), (got, expected)
        assert state["changed"], "the map did not change with the box"
        assert f"in box {tuple(got)}" in state["status"]
        page.wait_for_function("() => !document.querySelector('[data-testid=status]').classList.contains('cw-busy')")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "widget-segmentation.png"))
        # the other drag target: the neurons of the layer (region), the box stays
        page.locator("[data-testid=drag-neurons]").check()
        assert page.locator("[data-testid=region-selector]").get_attribute("data-active") == "true"
        assert nb.error_outputs() == [] and page_errors == []
