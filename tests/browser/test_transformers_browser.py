"""A vision transformer in the widget, in JupyterLab and headless Chromium: step through its blocks.

Random weights (no offline ViT weights): the point is that every block renders as a 14 × 14 map and
the last block says why its map is blank.
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
    "import json, timm, torch\nimport camwidget as cw\n\ntorch.manual_seed(0)\n"
    "vit = timm.create_model('vit_tiny_patch16_224', pretrained=False).eval()\n"
    "w = cw.CamWidget(cw.Session(vit, cw.samples.load('chelsea')), method='gradcam')\nw",
    "w.wait(120)\nprint(json.dumps({k: getattr(w, k) for k in ('layer', 'error', 'status')}))",
]


def _state(nb) -> dict:
    return json.loads(nb.run(1).strip().splitlines()[-1])


def _painted(page, layer: str) -> None:
    page.wait_for_function("(layer) => document.querySelector('.cw-root')?.dataset.paintedLayer === layer",
                           arg=layer, timeout=120_000)


def test_the_widget_steps_through_vit_blocks(chromium_executable):
    with lab.opened_notebook(chromium_executable, "vit.ipynb", CELLS) as (_server, page, nb, page_errors):
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
