"""notebooks/secam-vs-lime.ipynb runs clean: no error, nothing on stderr, its figures and table drawn."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "secam-vs-lime.ipynb"


@pytest.mark.slow
def test_secam_vs_lime_notebook_runs_clean(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    problems, figures, tables = [], 0, 0
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index}: stderr: {output.text[:300]}")
            elif output.output_type == "display_data":
                figures += "image/png" in output.get("data", {})
                tables += "text/markdown" in output.get("data", {})
    assert not problems, "\n".join(problems)
    assert figures == 2 and tables == 1, (figures, tables)
    print(f"executed in {seconds:.1f} s")
