"""End to end: the widget in JupyterLab, in headless Chromium, driven like a person would.

Skipped only when no chromium is installed and we are not in CI (CI=true fails instead).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "screenshots"

CELLS = [
    "import json\nimport camwidget as cw\n\nw = cw.explore()  # the default model on chelsea\nw",
    "w.wait(60)\nprint(json.dumps({k: getattr(w, k) for k in "
    "('layer', 'region', 'channels', 'target', 'method', 'error', 'request', 'answered')}))",
    'w.layer = "blocks.3"',
    "w.region = (0, 0, 99, 99)  # outside the grid: refused in the widget, the kernel carries on",
]


@pytest.fixture(scope="module")
def chromium():
    path = lab.chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (apt-get install chromium); CI must run the browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def _state(nb: lab.Notebook) -> dict:
    out = nb.run(1).strip().splitlines()
    assert out, "the state cell printed nothing"
    return json.loads(out[-1])


def _canvas_digest(page) -> str:
    return page.evaluate(
        """() => {
        const c = document.querySelector('[data-testid=heatmap-canvas]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) | 0;
        return c.width + 'x' + c.height + ':' + h;
    }"""
    )


def _wait_painted(page, layer: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "(layer) => document.querySelector('.cw-root')?.dataset.paintedLayer === layer",
        arg=layer,
        timeout=timeout,
    )


def test_widget_in_jupyterlab(chromium):
    with lab.opened_notebook(chromium, "e2e.ipynb", CELLS) as (server, page, nb, console_errors):
        assert nb.error_outputs() == []
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=60_000)
        for testid in ("layer-strip", "class-select", "method-select", "region-selector", "channel-grid", "status"):
            assert page.locator(f"[data-testid={testid}]").count() == 1, testid
        state = _state(nb)
        assert state["layer"] == "bn2" and state["method"] == "gradcam++" and state["error"] == ""
        _wait_painted(page, "bn2")
        before = _canvas_digest(page)

        # 1. Drag the layer strip four stops to the left.
        strip = page.locator("[data-testid=layer-strip]")
        active = strip.locator(".cw-stop.cw-active")
        index = int(active.get_attribute("data-index"))
        goal = strip.locator(".cw-stop").nth(index - 4)
        goal_layer = goal.get_attribute("data-layer")
        a, b = active.bounding_box(), goal.bounding_box()
        page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
        page.mouse.down()
        page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
        page.mouse.up()
        _wait_painted(page, goal_layer)
        assert _canvas_digest(page) != before, "the heatmap did not change after the layer drag"
        state = _state(nb)
        assert state["layer"] == goal_layer, state
        assert strip.get_attribute("data-layer") == goal_layer

        # 2. Drag a region on the image; it snaps to the layer's grid.
        shape = [int(v) for v in goal.locator(".cw-stop-shape").inner_text().split("×")]
        h, w = shape[1], shape[2]
        box = page.locator("[data-testid=region-selector]").bounding_box()
        (fx0, fy0), (fx1, fy1) = (0.27, 0.23), (0.63, 0.71)
        page.mouse.move(box["x"] + fx0 * box["width"], box["y"] + fy0 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + fx1 * box["width"], box["y"] + fy1 * box["height"], steps=10)
        page.mouse.up()
        expected = [int(fy0 * h), int(fx0 * w), int(fy1 * h) + 1, int(fx1 * w) + 1]
        state = _state(nb)
        assert state["region"] == expected, (state, expected)
        page.wait_for_function("() => document.querySelector('[data-testid=status]').textContent.includes('region')")

        # 3. Click a feature-map thumbnail.
        page.wait_for_function(
            "(layer) => document.querySelector('[data-testid=channel-grid]').dataset.layer === layer",
            arg=goal_layer,
        )
        tile = page.locator("[data-testid=channel-grid] .cw-tile").nth(0)
        channel = int(tile.get_attribute("data-channel"))
        tile.click()
        state = _state(nb)
        assert state["channels"] == [channel], state
        assert state["region"] == expected and state["error"] == ""
        page.wait_for_function("() => !document.querySelector('[data-testid=status]').classList.contains('cw-busy')")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "widget.png"))

        # 4. Colormap and opacity repaint in the browser only: no request reaches the kernel.
        before = _canvas_digest(page)
        page.select_option("[data-testid=colormap-select]", "viridis")
        assert _canvas_digest(page) != before, "the colormap did not repaint"
        view_state = _state(nb)
        assert view_state["request"] == state["request"] and view_state["answered"] == state["answered"]

        # 5. Class and method pickers.
        page.select_option("[data-testid=class-select]", "282")  # tiger cat, in the top 5
        page.select_option("[data-testid=method-select]", "gradcam")
        state = _state(nb)
        assert state["target"] == 282 and state["method"] == "gradcam" and state["error"] == ""

        # 6. Python sets the layer; the strip (and the map) follow.
        nb.run(2)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=layer-strip]').dataset.layer === 'blocks.3'",
            timeout=30_000,
        )
        _wait_painted(page, "blocks.3")
        assert strip.locator(".cw-stop.cw-active").get_attribute("data-layer") == "blocks.3"
        state = _state(nb)
        assert state["layer"] == "blocks.3" and state["region"] is None and state["channels"] is None

        # 7. A bad value from Python shows in the widget's error area; the widget stays usable.
        nb.run(3)
        error = page.locator("[data-testid=error]")
        error.wait_for(state="visible", timeout=30_000)
        assert "region" in error.inner_text() and "grid" in error.inner_text()
        assert _state(nb)["region"] is None
        error.locator("button").click()
        assert error.is_hidden()
        strip.focus()
        page.keyboard.press("ArrowRight")
        next_layer = strip.get_attribute("data-layer")
        assert next_layer != "blocks.3"
        _wait_painted(page, next_layer)
        assert _state(nb)["layer"] == next_layer

        # Nothing went wrong anywhere.
        assert nb.error_outputs() == []
        assert page.locator("[data-testid=error]").is_hidden()
        assert console_errors == []
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "widget-final.png"))


INV_CELLS = [
    "import json\nimport camwidget as cw\n\nstore = cw.LabelStore('labels.sqlite')\n"
    "w = cw.explore(layer='conv_head', store=store)\nw",
    "w.wait(60)\nprint(json.dumps({'method': w.method, 'params': w.params, 'error': w.error, "
    "'reveal_step': w.reveal_step, 'outcome': w.game.get('outcome'), "
    "'stored': [[a.text, a.cluster_id, a.reveal_step, a.outcome, a.guess_name] for a in store.annotations()]}))",
]


def test_clusters_view_and_reveal_game_in_jupyterlab(chromium):
    with lab.opened_notebook(chromium, "inv.ipynb", INV_CELLS) as (server, page, nb, console_errors):
        assert nb.error_outputs() == []
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=60_000)
        _wait_painted(page, "conv_head")

        # 1. The Clusters tab switches to INV; the clusters of conv_head arrive as thumbnails.
        page.click("[data-testid=tab-clusters]")
        view = page.locator("[data-testid=clusters-view]")
        view.wait_for(state="visible", timeout=30_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=cluster-tile]').length > 0", timeout=120_000
        )
        assert view.get_attribute("data-layer") == "conv_head"
        assert page.locator(".cw-root").get_attribute("data-view") == "clusters"
        state = _state(nb)
        assert state["method"] == "inv" and state["error"] == "", state
        tiles = page.locator("[data-testid=cluster-tile]")
        assert "%" in tiles.nth(0).inner_text()

        # 2. Click a cluster: its INV map is overlaid.
        pick = min(1, tiles.count() - 1)
        before = _canvas_digest(page)
        tiles.nth(pick).click()
        state = _state(nb)
        assert state["params"]["cluster"] == pick and state["error"] == "", state
        if pick:
            page.wait_for_function(
                "(d) => { const c = document.querySelector('[data-testid=heatmap-canvas]');"
                " const x = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;"
                " for (let i = 0; i < x.length; i += 7) h = (h * 31 + x[i]) | 0;"
                " return c.width + 'x' + c.height + ':' + h !== d; }",
                arg=before,
                timeout=30_000,
            )
        page.wait_for_function("() => !document.querySelector('[data-testid=status]').classList.contains('cw-busy')")

        # 3. Write a label: it lands in the store and in the list, as text.
        label = "pointy ears <b>not bold</b>"
        page.fill("[data-testid=label-input]", label)
        page.click("[data-testid=label-submit]")
        listed = page.locator("[data-testid=label-list] .cw-label-text")
        listed.first.wait_for(timeout=30_000)
        assert page.locator("[data-testid=label-list] b").count() == 0, "label text was parsed as HTML"
        # The list shows the scored labels: the text's phrases, lower-cased (docs/labels.md).
        assert any("pointy ears" in t for t in listed.all_inner_texts()), listed.all_inner_texts()
        stored = _state(nb)["stored"]
        assert len(stored) == 1 and stored[0][0] == label and stored[0][2] == 0 and stored[0][3] is None, stored
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "clusters.png"))

        # 4. Play one reveal step, then guess.
        page.click("[data-testid=play-reveal]")
        game = page.locator("[data-testid=reveal-game]")
        game.wait_for(state="visible", timeout=30_000)
        assert game.get_attribute("data-step") == "0"
        page.click("[data-testid=reveal-more]")
        page.wait_for_function("() => document.querySelector('[data-testid=reveal-game]').dataset.step === '1'")
        assert _state(nb)["reveal_step"] == 1
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "reveal-game.png"))
        page.select_option("[data-testid=reveal-guess-select]", "Egyptian cat")
        page.fill("[data-testid=reveal-text]", "ears and whiskers")
        page.click("[data-testid=reveal-guess]")
        page.wait_for_function("() => document.querySelector('[data-testid=reveal-game]').dataset.outcome !== ''")
        assert "It was" in page.locator("[data-testid=reveal-result]").inner_text()
        state = _state(nb)
        assert state["outcome"] == "win" and state["error"] == "", state
        assert state["stored"][-1][1:] == [stored[0][1], 1, "win", "Egyptian cat"], state["stored"]
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "reveal-game-over.png"))

        assert nb.error_outputs() == []
        assert console_errors == []


SECAM_CELLS = [
    "import json\nimport camwidget as cw\n\nw = cw.explore()  # the default model on chelsea\nw",
    "w.wait(60)\nprint(json.dumps({k: getattr(w, k) for k in "
    "('method', 'params', 'outline', 'hide_rest', 'error', 'request', 'answered')}))",
]


def _wait_painted_request(page, after: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "(r) => Number(document.querySelector('.cw-root')?.dataset.paintedRequest) > r", arg=after, timeout=timeout
    )


def test_secam_outline_and_hide_rest_in_jupyterlab(chromium):
    with lab.opened_notebook(chromium, "secam.ipynb", SECAM_CELLS) as (server, page, nb, console_errors):
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=60_000)
        _wait_painted(page, "bn2")
        outline = page.locator("[data-testid=outline-toggle]")
        hide_rest = page.locator("[data-testid=hide-rest-toggle]")
        assert outline.is_hidden() and hide_rest.is_hidden(), "Grad-CAM++ has no segments to outline"

        # 1. Switch to SeCAM: its map, mask and segment controls arrive.
        page.select_option("[data-testid=method-select]", "secam")
        page.wait_for_function(
            "() => document.querySelector('.cw-root')?.dataset.paintedMethod === 'secam'", timeout=120_000
        )
        outline.wait_for(state="visible", timeout=30_000)
        assert hide_rest.is_visible() and outline.is_checked() and hide_rest.is_checked()
        assert page.locator("select[data-param=segmenter]").input_value() == "slic"
        assert page.locator("input[data-param=n_segments]").count() == 1
        assert page.locator("input[data-param=k]").input_value() == "5"
        state = _state(nb)
        assert state["method"] == "secam" and state["error"] == "", state
        page.wait_for_function("() => !document.querySelector('[data-testid=status]').classList.contains('cw-busy')")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "secam.png"))

        # 2. The switches repaint in the browser only: no request reaches the kernel.
        before = _canvas_digest(page)
        outline.uncheck()
        no_outline = _canvas_digest(page)
        assert no_outline != before, "toggling the outline did not repaint"
        hide_rest.uncheck()
        assert _canvas_digest(page) not in (before, no_outline), "toggling hide-rest did not repaint"
        page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "secam-plain.png"))
        view = _state(nb)
        assert (view["outline"], view["hide_rest"]) == (False, False), view
        assert view["request"] == state["request"] and view["answered"] == state["answered"], (view, state)
        outline.check()
        hide_rest.check()
        assert _canvas_digest(page) == before

        # 3. k recomputes; a k larger than the number of segments shows an error, the widget carries on.
        k = page.locator("input[data-param=k]")
        k.fill("2")
        k.dispatch_event("change")
        _wait_painted_request(page, state["request"])
        state = _state(nb)
        assert state["params"]["k"] == 2 and state["error"] == "", state
        assert _canvas_digest(page) != before
        k.fill("9999")
        k.dispatch_event("change")
        error = page.locator("[data-testid=error]")
        error.wait_for(state="visible", timeout=60_000)
        assert "k: 9999" in error.inner_text(), error.inner_text()
        k.fill("3")
        k.dispatch_event("change")
        error.wait_for(state="hidden", timeout=60_000)
        state = _state(nb)
        assert state["params"]["k"] == 3 and state["error"] == "", state

        assert nb.error_outputs() == []
        assert console_errors == []
