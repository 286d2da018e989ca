"""The notebooks committed with their outputs (notebooks/refresh.py) are not stale and show no error.

A reader browsing the repository sees these outputs, so they must be what the notebook does
today: the test runs each again and compares every printed line and every output's kinds.
"""
from __future__ import annotations

import importlib.util

import pytest

from notebook_runner import NOTEBOOKS, run_notebook

spec = importlib.util.spec_from_file_location("refresh", NOTEBOOKS / "refresh.py")
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)


def _outputs(nb) -> list[list[tuple]]:
    """Per code cell: (output type, stream text or the sorted mime types) of each output."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        rows = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                rows.append(("stream", out.name, out.text))
            elif out.output_type == "error":
                rows.append(("error", out.ename, out.evalue))
            else:
                rows.append((out.output_type, tuple(sorted(out.get("data", {})))))
        cells.append(rows)
    return cells


@pytest.mark.slow
@pytest.mark.parametrize("name", refresh.EXECUTED)
def test_committed_outputs_are_current(name, monkeypatch):
    import nbformat

    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    shown = _outputs(committed)
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name}: not every cell was run; run notebooks/refresh.py {name}"
    flat = [row for rows in shown for row in rows]
    assert not [r for r in flat if r[0] == "error" or r[:2] == ("stream", "stderr")], flat
    assert any("image/png" in r[1] for r in flat if r[0] == "display_data"), "no figure committed"

    run = run_notebook(name, monkeypatch)
    assert run.problems == []
    assert _outputs(run.notebook) == shown, f"{name}: committed outputs are stale; run notebooks/refresh.py {name}"


def test_quickstart_ends_on_a_map_that_is_not_blank():
    import nbformat

    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "not blank" in printed and "blank map" not in printed
    assert "plot(image=" in "".join(c.source for c in nb.cells)
