"""Transformers and segmentation models in the widget, in JupyterLab and headless Chromium.

A vision transformer: step through its blocks (random weights — no offline ViT weights; the point
is that every block renders as a 14 × 14 map and the last block says why its map is blank). A
segmentation model: drag a box of the output map and the target becomes the class's score summed
over that box (torchvision LR-ASPP MobileNetV3, random weights, a 96 × 96 input so it is fast; the class
names are torchvision's VOC categories, metadata, no download). One JupyterLab serves both tests
(each notebook in a workspace of its own, in a page of its own).
"""
from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

CELLS = [
    "import json, timm, torch\nimport camwidget as cw\n\ntorch.manual_seed(0)\n"
    "vit = timm.create_model('vit_tiny_patch16_224', pretrained=False).eval()\n"
    "w = cw.CamWidget(cw.Session(vit, cw.samples.load('chelsea')), method='gradcam')\nw",
    "w.wait(120)\nprint(json.dumps({k: getattr(w, k) for k in ('layer', 'error', 'status')}))",
]


@pytest.fixture(scope="module")
def server():
    """One JupyterLab for this module's notebooks: ``(server, root)``."""
    root = lab.new_root()
    try:
        with lab.jupyterlab(root) as running:
            yield running, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def opened(chromium: str, server, name: str, cells: list[str]):
    """``(page, notebook, page_errors)``: ``name`` written into the shared root and open in a
    fresh page and JupyterLab workspace, its first cell run."""
    running, root = server
    lab.write_notebook(root / name, cells)
    with lab.browser_page(chromium) as page:
        page_errors: list[str] = []
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        notebook = lab.Notebook(page, running, name, path=f"lab/workspaces/{Path(name).stem}/tree")
        notebook.run(0, timeout=300)
        yield page, notebook, page_errors

SEGMENTATION_CELLS = [
    "import json, numpy as np, torch, torchvision\nimport camwidget as cw\nfrom camwidget.models import Preprocess\n\n"
    "torch.manual_seed(0)\n"
    "seg = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None).eval()\n"
    "voc = torchvision.models.segmentation.LRASPP_MobileNet_V3_Large_Weights.DEFAULT.meta['categories']\n"
    "session = cw.Session(seg, cw.samples.load('chelsea'), preprocess=Preprocess(size=(96, 96)), classes=voc)\n"
    "w = cw.CamWidget(session, method='gradcam')\nw.wait(120)\nbefore = w.explanation.map.copy()\nw",
    "w.wait(120)\ne = w.explanation\nprint(json.dumps({'target_box': w.target_box, 'error': w.error, 'status': w.status,\n"
    "    'layer': w.layer, 'box': list(getattr(w.selection.target, 'box', None) or []), 'index': e.target,\n"
    "    'changed': bool(not np.allclose(before, e.map)), 'output_shape': w.output_shape}))",
]


def _state(nb) -> dict:
    return json.loads(nb.run(1).strip().splitlines()[-1])


def _painted(page, layer: str) -> None:
    page.wait_for_function("(layer) => document.querySelector('.cw-root')?.dataset.paintedLayer === layer",
                           arg=layer, timeout=120_000)


def test_the_widget_steps_through_vit_blocks(chromium_executable, server):
    with opened(chromium_executable, server, "vit.ipynb", CELLS) as (page, nb, page_errors):
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=120_000)
        state = _state(nb)
        assert state["layer"] == "blocks.10" and state["error"] == "", state  # not the blank last block
        _painted(page, "blocks.10")
        strip = page.locator("[data-testid=layer-strip]")
        stops = strip.locator(".cw-stop")
        names = [stops.nth(i).get_attribute("data-layer") for i in range(stops.count())]
        assert [f"blocks.{i}" for i in range(11)] == [n for n in names if n.startswith("blocks.")]
        strip.focus()
        for expected in ("blocks.9", "blocks.8"):  # step down through the blocks with the keyboard
            page.keyboard.press("ArrowLeft")
            assert strip.get_attribute("data-layer") == expected
            _painted(page, expected)
        assert "14×14" in strip.locator(".cw-stop.cw-active").inner_text().replace(" ", "")
        for _ in range(3):  # up to blocks.11 (listed as its container, "blocks")
            page.keyboard.press("ArrowRight")
        _painted(page, "blocks")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=status]').textContent.includes('prefix (class) token')",
            timeout=60_000)
        assert nb.error_outputs() == [] and page_errors == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "widget-vit.png"))


def test_dragging_a_box_of_the_output_explains_the_class_in_that_box(chromium_executable, server):
    with opened(chromium_executable, server, "segmentation.ipynb", SEGMENTATION_CELLS) as (page, nb, page_errors):
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=120_000)
        state = _state(nb)
        assert state["target_box"] is None and state["error"] == "" and state["output_shape"] == [96, 96], state
        assert state["layer"] == "backbone.16"  # the backbone's last layer
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
