"""The Faithfulness panel and layer fusion in JupyterLab, in headless Chromium, driven like a person
would, then checked against the Python side (``w.faithfulness``, ``w.compare_table``,
``w.fuse_layers``). One notebook serves both tests (starting JupyterLab is the slow part).

Skipped only when no chromium is installed and we are not in CI (CI=true fails instead).
"""
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

CELLS = [
    # Fewer steps and three compare methods keep the test short; the code paths are the real ones.
    "import json\nimport camwidget as cw\nfrom camwidget.widget import faithfulness\n"
    "faithfulness.STEPS = 20\nfaithfulness.COMPARE_METHODS = ('gradcam', 'layercam', 'eigencam')\n"
    "w = cw.explore(method='gradcam', layer='blocks.5')\nw",
    "w.wait(60)\nprint(json.dumps({k: getattr(w, k) for k in "
    "('layer', 'fuse_layers', 'method', 'error', 'status')}))",
    "print(json.dumps({'method': w.method, 'layer': w.explanation.layer, "
    "'metrics': {k: r.value for k, r in w.faithfulness.items()}, 'table': w.compare_table}))",
]


def _json(nb: lab.Notebook, cell: int) -> dict:
    out = nb.run(cell).strip().splitlines()
    assert out, f"cell {cell} printed nothing"
    return json.loads(out[-1])


def _wait_painted(page, layer: str, timeout: float = 60_000) -> None:
    page.wait_for_function("(layer) => document.querySelector('.cw-root')?.dataset.paintedLayer === layer",
                           arg=layer, timeout=timeout)


def _wait_metrics(page, method: str, timeout: float = 60_000) -> None:
    """The panel shows the finished metrics of ``method``'s map."""
    page.wait_for_function(
        """(method) => {
        const t = document.querySelector('.cw-faithfulness-title')?.textContent ?? '';
        return t.startsWith('faithfulness · ' + method + ' ·')
          && document.querySelectorAll('[data-testid=faithfulness-numbers] .cw-metric').length === 4;
    }""", arg=method, timeout=timeout)


@pytest.fixture(scope="module")
def opened(chromium_executable):
    with lab.opened_notebook(chromium_executable, "faithfulness.ipynb", CELLS) as (server, page, nb, errors):
        page.wait_for_selector("[data-testid=heatmap-canvas]", timeout=60_000)
        _wait_painted(page, "blocks.5")
        yield page, nb, errors
        assert nb.error_outputs() == []
        assert errors == []


def test_the_faithfulness_panel_draws_what_python_computed_and_the_compare_table_drives_the_method(opened):
    page, nb, _ = opened
    _wait_metrics(page, "gradcam")
    panel = page.locator("[data-testid=faithfulness]")
    panel.scroll_into_view_if_needed()

    # 1. The curves are drawn: a path with one point per step for deletion and insertion.
    for name in ("deletion", "insertion"):
        d = page.locator(f"[data-testid=curve-{name}]").get_attribute("d") or ""
        assert d.count("L") == 20, (name, d[:80])  # 21 points: M + 20 L
    # 2. The numbers shown are Python's.
    py = _json(nb, 2)
    assert py["method"] == "gradcam" and py["layer"] == "blocks.5"
    shown = {s.get_attribute("data-metric"): s.inner_text()
             for s in page.locator("[data-testid=faithfulness-numbers] .cw-metric").all()}
    assert set(shown) == set(py["metrics"]) == {"deletion", "insertion", "avg-drop", "avg-increase"}
    for name, value in py["metrics"].items():
        text = f"{value:.1f}%" if name.startswith("avg-") else f"{value:.3f}"
        assert shown[name].endswith(text), (name, shown[name], value)

    # 3. The compare table fills in, one row per method.
    page.click("[data-testid=compare-button]")
    table = page.locator("[data-testid=compare-table]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=compare-table] tr[data-method]').length === 3"
        " && !document.querySelector('[data-testid=compare-table]').textContent.includes('computing')",
        timeout=60_000)
    rows = {r["method"]: r for r in _json(nb, 2)["table"]["rows"]}
    assert set(rows) == {"gradcam", "layercam", "eigencam"}
    for tr in table.locator("tr[data-method]").all():
        method = tr.get_attribute("data-method")
        cells = [td.inner_text() for td in tr.locator("td").all()]
        assert cells[1] == f"{rows[method]['deletion']:.3f}", (method, cells)

    # 4. Sorting by deletion (lower is better): best first; a second click reverses.
    def order() -> list[str]:
        return [tr.get_attribute("data-method") for tr in table.locator("tr[data-method]").all()]

    table.locator("th[data-column=deletion]").click()
    by_deletion = sorted(rows, key=lambda m: rows[m]["deletion"])
    assert order() == by_deletion
    table.locator("th[data-column=deletion]").click()
    assert order() == by_deletion[::-1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "faithfulness.png"))

    # 5. A click on a row shows that method; the panel scores it.
    table.locator("tr[data-method=layercam]").click()
    _wait_metrics(page, "layercam")
    state = _json(nb, 1)
    assert state["method"] == "layercam" and state["error"] == ""
    assert table.locator("tr.cw-compare-current").get_attribute("data-method") == "layercam"


def test_shift_click_fuses_layers_and_a_plain_click_returns_to_one(opened):
    page, nb, _ = opened
    strip = page.locator("[data-testid=layer-strip]")
    strip.scroll_into_view_if_needed()
    current = strip.get_attribute("data-layer")
    index = int(strip.locator(".cw-stop.cw-active").get_attribute("data-index"))
    picked = [strip.locator(".cw-stop").nth(index - k) for k in (3, 6)]
    names = [p.get_attribute("data-layer") for p in picked]
    for stop in picked:
        stop.click(modifiers=["Shift"])
    fused_names = sorted([current, *names], key=lambda n: int(strip.locator(f".cw-stop[data-layer='{n}']").get_attribute("data-index")))
    fused = " + ".join(fused_names)
    _wait_painted(page, fused)
    assert [s.get_attribute("data-layer") for s in strip.locator(".cw-stop.cw-fused").all()] == fused_names
    assert page.locator("[data-testid=layer-caption]").inner_text() == f"Fused 3 layers: {fused}"
    page.wait_for_function("(t) => document.querySelector('[data-testid=status]').textContent.includes(t)",
                           arg=f"fused 3 layers: {fused}", timeout=30_000)
    state = _json(nb, 1)
    assert state["fuse_layers"] == fused_names and state["layer"] == current and state["error"] == ""
    assert f"fused 3 layers: {fused}" in state["status"]
    page.locator(".cw-root").screenshot(path=str(SCREENSHOTS / "fused.png"))

    # Shift-click one of them again: two left, still fused.
    picked[0].click(modifiers=["Shift"])
    two = " + ".join(n for n in fused_names if n != names[0])
    _wait_painted(page, two)
    assert strip.locator(".cw-stop.cw-fused").count() == 2
    # A plain click on a stop: one layer again, in the view and in Python.
    picked[1].click()
    _wait_painted(page, names[1])
    assert strip.locator(".cw-stop.cw-fused").count() == 0
    state = _json(nb, 1)
    assert state["fuse_layers"] == [] and state["layer"] == names[1]
