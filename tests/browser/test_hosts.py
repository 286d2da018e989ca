"""The widget in every notebook host we can run here, in headless Chromium at 1280 × 800.

One server per host (JupyterLab 4, Notebook 7, Voila, marimo), started on 127.0.0.1 by the test
and stopped by it. In each: the widget renders; a person drags and steps the layer strip, picks a
method and a class, drags a region, clicks a tile; Python changes the view; no page errors; the
host's dark theme is followed with readable text (WCAG AA); a screenshot per host and theme goes
to out/screenshots/. JupyterLab and marimo also check the laptop layout (image, colour bar, strip
and status on one screen; at most two toolbar rows for any method). The interactions in
JupyterLab are in test_e2e.py; here JupyterLab checks themes and layout.
"""
from __future__ import annotations

import json
import shutil
import time

import hosts
import lab
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP = (1280, 800)
EXPLORE = "import json\nimport camwidget as cw\n\nw = cw.explore()  # the default model on chelsea\nw"
STATE = ("w.wait(60)\nprint(json.dumps({k: getattr(w, k) for k in "
         "('layer', 'region', 'channels', 'target', 'method', 'error')}))")
TO_BLOCKS_3 = 'w.layer = "blocks.3"'
METHODS_WITH_PARAMS = ("secam", "lime", "smooth-gradcam++")


def _errors_of(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _dark_theme(page) -> None:
    """Switch JupyterLab / Notebook 7 to its dark theme, as Settings › Theme does."""
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    time.sleep(0.5)  # the theme's stylesheet is applied


def _state(nb: lab.Notebook, index: int) -> dict:
    return json.loads(nb.run(index).strip().splitlines()[-1])


def _toolbar_fits(page) -> dict:
    """Toolbar rows for the methods with the most parameters (and the default)."""
    rows = {"gradcam++": hosts.toolbar_rows(page)}
    for method in METHODS_WITH_PARAMS:
        page.select_option("[data-testid=method-select]", method)
        page.locator(".cw-param").first.wait_for(timeout=10_000)
        rows[method] = hosts.toolbar_rows(page)
    page.select_option("[data-testid=method-select]", "gradcam++")
    return rows


PARAMS = "w.wait(60)\nprint(json.dumps(w.params))"


def _every_method_fits(page) -> dict:
    """Each registered method, picked in the toolbar: its rows (≤ 2 wanted) with the secondary
    parameters folded, and whether "more…" shows exactly the folded ones when opened."""
    import camwidget as cw
    from camwidget.engine.methods.disclosure import primary_params

    seen = {}
    for spec in cw.methods.available():
        page.select_option("[data-testid=method-select]", spec.name)
        shown = primary_params(spec.name, spec.params)
        folded = [n for n in spec.params if n not in shown]
        for name in shown:
            page.locator(f".cw-params [data-param='{name}']").wait_for(timeout=10_000)
        seen[spec.name] = {"rows": hosts.toolbar_rows(page)}
        toggle = page.locator("[data-testid=params-more-toggle]")
        if not folded:
            seen[spec.name]["toggle"] = toggle.count()
            continue
        assert page.locator("[data-testid=params-more]").is_hidden(), spec.name
        toggle.click()
        panel = page.locator("[data-testid=params-more]")
        seen[spec.name]["opened"] = sorted(
            n for n in folded if panel.locator(f"[data-param='{n}']").is_visible())
        assert seen[spec.name]["opened"] == sorted(folded), (spec.name, seen[spec.name])
        toggle.click()
    return seen


@pytest.fixture()
def root():
    path = lab.new_root()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_jupyterlab_themes_and_laptop_layout(chromium_executable, root):
    lab.write_notebook(root / "lab.ipynb", [EXPLORE, STATE, PARAMS])
    with lab.jupyterlab(root) as server, lab.browser_page(chromium_executable, viewport=LAPTOP) as page:
        errors = _errors_of(page)
        nb = lab.Notebook(page, server, "lab.ipynb")
        nb.run(0, timeout=300)
        hosts.wait_painted(page, "bn2")
        hosts.wait_idle(page)
        # The filmstrip: every stop of the strip shows its layer's map.
        page.wait_for_function("() => document.querySelector('[data-testid=filmstrip]')?.dataset.drawn === '67'",
                               timeout=60_000)
        assert page.locator("[data-testid=layer-strip] canvas.cw-stop-thumb").count() == 67
        hosts.assert_on_one_screen(page)
        hosts.assert_readable(page, dark=False)
        hosts.shoot(page, "jupyterlab-light")
        # Every method's parameters in at most two rows; the rest behind "more…", which opens,
        # and a parameter changed there reaches Python.
        seen = _every_method_fits(page)
        assert all(v["rows"] <= 2 for v in seen.values()) and all(v.get("toggle", 0) == 0 for v in seen.values()), seen
        page.select_option("[data-testid=method-select]", "smooth-gradcam++")
        page.locator("[data-testid=params-more-toggle]").click()
        seed = page.locator("[data-testid=params-more] input[data-param=seed]")
        seed.fill("7")
        seed.press("Tab")
        hosts.wait_idle(page)
        hosts.shoot(page, "jupyterlab-more-open")
        assert json.loads(nb.run(2).strip().splitlines()[-1]) == {"seed": 7}
        page.select_option("[data-testid=method-select]", "gradcam++")
        hosts.wait_painted(page, "bn2")
        hosts.wait_idle(page)
        _dark_theme(page)
        hosts.assert_readable(page, dark=True)
        hosts.shoot(page, "jupyterlab-dark")
        page.screenshot(path=str(hosts.SCREENSHOTS / "jupyterlab-dark-page.png"))
        assert _state(nb, 1)["error"] == ""
        assert nb.error_outputs() == [] and errors == []


def test_notebook7(chromium_executable, root):
    lab.write_notebook(root / "nb7.ipynb", [EXPLORE, STATE, TO_BLOCKS_3])
    with lab.notebook7(root) as server, lab.browser_page(chromium_executable, viewport=LAPTOP) as page:
        errors = _errors_of(page)
        nb = lab.Notebook(page, server, "nb7.ipynb", path="notebooks")
        # Notebook 7.6 itself logs "Cannot read properties of undefined (reading 'schema')" while it
        # loads, before any cell runs: only what happens from the widget's cell on counts.
        errors.clear()
        nb.run(0, timeout=300)
        chosen = hosts.person_uses_the_widget(page)
        state = _state(nb, 1)
        assert {k: state[k] for k in chosen} == chosen, (state, chosen)
        hosts.shoot(page, "notebook7-light")

        # Escape leaves the strip (the notebook's own keys work again).
        page.locator("[data-testid=layer-strip]").focus()
        page.keyboard.press("Escape")
        assert page.evaluate("() => !document.activeElement?.closest('.cw-root')"), "Escape did not leave the widget"

        # Python sets the layer; the strip and the map follow.
        nb.run(2)
        hosts.wait_painted(page, "blocks.3")
        assert page.locator("[data-testid=layer-strip]").get_attribute("data-layer") == "blocks.3"
        _dark_theme(page)
        hosts.assert_readable(page, dark=True)
        hosts.shoot(page, "notebook7-dark")
        assert nb.error_outputs() == [] and errors == []


VOILA_CELLS = [
    EXPLORE,
    ("import ipywidgets as widgets\n\nbutton = widgets.Button(description='Python: blocks.3')\n"
     "button.on_click(lambda _: setattr(w, 'layer', 'blocks.3'))\nbutton"),
]


def test_voila(chromium_executable, root):
    lab.write_notebook(root / "voila.ipynb", VOILA_CELLS)
    with lab.voila(root, "voila.ipynb") as url:
        with lab.browser_page(chromium_executable, viewport=LAPTOP) as page:
            errors = _errors_of(page)
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            hosts.person_uses_the_widget(page)
            hosts.shoot(page, "voila-light")
            page.get_by_role("button", name="Python: blocks.3").click()
            hosts.wait_painted(page, "blocks.3")
            assert page.locator("[data-testid=layer-strip]").get_attribute("data-layer") == "blocks.3"
            assert errors == []
        with lab.browser_page(chromium_executable, viewport=LAPTOP) as page:
            errors = _errors_of(page)
            page.goto(url + "?theme=dark", wait_until="domcontentloaded", timeout=120_000)
            hosts.wait_painted(page, "bn2")
            hosts.wait_idle(page)
            hosts.assert_readable(page, dark=True)
            hosts.shoot(page, "voila-dark")
            assert errors == []


MARIMO_APP = '''import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import camwidget as cw

    w = cw.explore()  # the default model on chelsea
    view = mo.ui.anywidget(w)
    view
    return mo, w


@app.cell
def _(mo, w):
    def to_blocks_3(_):
        w.layer = "blocks.3"

    button = mo.ui.button(label="Python: blocks.3", on_click=to_blocks_3)
    button
    return


if __name__ == "__main__":
    app.run()
'''


def test_marimo(chromium_executable, root):
    (root / "app.py").write_text(MARIMO_APP)
    with lab.marimo(root, "app.py", theme="system") as url:
        with lab.browser_page(chromium_executable, viewport=LAPTOP) as page:
            errors = _errors_of(page)
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            hosts.person_uses_the_widget(page)
            hosts.shoot(page, "marimo-light")
            page.get_by_role("button", name="Python: blocks.3").click()
            hosts.wait_painted(page, "blocks.3")
            assert page.locator("[data-testid=layer-strip]").get_attribute("data-layer") == "blocks.3"
            assert errors == []
        with lab.browser_page(chromium_executable, viewport=LAPTOP, color_scheme="dark") as page:
            errors = _errors_of(page)
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            hosts.wait_painted(page, "bn2")
            hosts.wait_idle(page)
            hosts.assert_on_one_screen(page)
            hosts.assert_readable(page, dark=True)
            hosts.wait_complete(page)
            hosts.shoot(page, "marimo-dark")
            rows = _toolbar_fits(page)
            assert max(rows.values()) <= 2, rows
            assert errors == []
