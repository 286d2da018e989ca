"""A labelling campaign's widget in JupyterLab, in headless Chromium, played like a person would:
reveal more, type what you see, guess; skip a round; undo the skip. The progress line on the page
and the campaign's label store in the kernel must agree after every move."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "screenshots"
TESTS = REPO / "tests"

CELLS = [
    f"import json, sys\nsys.path.insert(0, {str(TESTS)!r})\nimport torch, nets\n"
    "import camwidget as cw\nfrom camwidget.datasets.campaign import Campaign\n\n"
    "def factory():\n    torch.manual_seed(0)\n"
    "    return nets.TinyCNN().eval(), nets.tiny_preprocess, ['cat', 'cup', 'rocket', 'motorcycle']\n\n"
    "campaign = Campaign('labels.sqlite', factory, cw.samples.dataset('objects', n=2, seed=1), targets='top',\n"
    "                    rounds_per_cluster=1, progress=False)\n"
    "w = campaign.widget(annotator='ana')\nw",
    "a = list(campaign.store.annotations())\n"
    "print(json.dumps({'progress': campaign.progress('ana').line, 'labels': [[x.text, x.reveal_step, x.guess_name]\n"
    "                  for x in a], 'cluster': w.current.cluster if w.current else None, 'error': w.error}))",
]


def _state(nb: lab.Notebook) -> dict:
    out = nb.run(1).strip().splitlines()
    assert out, "the state cell printed nothing"
    return json.loads(out[-1])


def _progress_is(page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('[data-testid=campaign-progress]')?.textContent === text",
        arg=text, timeout=30_000,
    )


def _canvas_digest(page) -> str:
    return page.evaluate(
        """() => {
        const c = document.querySelector('[data-testid=reveal-canvas]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 3) h = (h * 31 + d[i]) | 0;
        return c.width + 'x' + c.height + ':' + h;
    }"""
    )


def test_campaign_widget_in_jupyterlab(chromium_executable):
    with lab.opened_notebook(chromium_executable, "campaign.ipynb", CELLS) as (server, page, nb, page_errors):
        assert nb.error_outputs() == []
        page.wait_for_selector("[data-testid=campaign] [data-testid=reveal-canvas]", timeout=60_000)
        start = _state(nb)
        assert start["progress"].startswith("round 1 of ") and start["labels"] == [] and start["error"] == ""
        _progress_is(page, start["progress"])
        game = page.locator("[data-testid=reveal-game]")
        assert game.get_attribute("data-step") == "0"
        assert page.locator("[data-testid=reveal-close]").count() == 0  # a campaign serves rounds, no "close"
        first_cluster = start["cluster"]

        # 1. Reveal more: the browser shows a larger share of the image.
        before = _canvas_digest(page)
        page.click("[data-testid=reveal-more]")
        page.wait_for_function("() => document.querySelector('[data-testid=reveal-game]').dataset.step === '1'")
        assert _canvas_digest(page) != before, "revealing more did not repaint"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("[data-testid=campaign]").screenshot(path=str(SCREENSHOTS / "campaign.png"))

        # 2. Say what you see and guess: recorded at step 1, and the next round follows.
        choice = page.locator("[data-testid=reveal-guess-select] option").first.get_attribute("value")
        page.fill("[data-testid=reveal-text]", "striped fur")
        page.select_option("[data-testid=reveal-guess-select]", choice)
        page.click("[data-testid=reveal-guess]")
        page.wait_for_function("() => document.querySelector('[data-testid=campaign-progress]').textContent.startsWith('round 2 of')")
        played = _state(nb)
        assert played["labels"] == [["striped fur", 1, choice]], played
        assert played["cluster"] != first_cluster and played["error"] == ""
        _progress_is(page, played["progress"])
        assert game.get_attribute("data-step") == "0" and page.input_value("[data-testid=reveal-text]") == ""

        # 3. Skip: no label, the round after follows.
        page.click("[data-testid=campaign-skip]")
        page.wait_for_function("() => document.querySelector('[data-testid=campaign-progress]').textContent.startsWith('round 3 of')")
        skipped = _state(nb)
        assert len(skipped["labels"]) == 1 and skipped["cluster"] != played["cluster"]
        _progress_is(page, skipped["progress"])

        # 4. Undo the skip: the skipped round is back, the label of round 1 stays.
        page.click("[data-testid=campaign-undo]")
        page.wait_for_function("() => document.querySelector('[data-testid=campaign-progress]').textContent.startsWith('round 2 of')")
        undone = _state(nb)
        assert undone["cluster"] == played["cluster"] and len(undone["labels"]) == 1 and undone["error"] == ""
        _progress_is(page, undone["progress"])
        assert "undone" in page.locator("[data-testid=status]").inner_text()
        assert page.locator("[data-testid=error]").is_hidden()
        assert page_errors == []
