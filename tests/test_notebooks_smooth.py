"""notebooks/smooth-gradcampp.ipynb runs clean: no error, nothing on stderr, every figure drawn."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "smooth-gradcampp.ipynb"


@pytest.mark.slow
def test_smooth_gradcampp_notebook_runs_clean(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    problems, figures = [], 0
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index}: stderr: {output.text[:300]}")
            elif output.output_type == "display_data" and "image/png" in output.get("data", {}):
                figures += 1
    assert not problems, "\n".join(problems)
    assert figures >= 5, f"expected a figure per section, got {figures}"
    print(f"executed in {seconds:.1f} s")
