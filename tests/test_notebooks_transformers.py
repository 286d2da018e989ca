"""notebooks/transformers-and-segmentation.ipynb runs clean: no error, nothing on stderr, every figure drawn."""
from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_transformers_and_segmentation_notebook_runs_clean(monkeypatch):
    run = run_notebook("transformers-and-segmentation.ipynb", monkeypatch, timeout=300)
    assert not run.problems, "\n".join(run.problems)
    assert run.figures >= 3, f"expected a figure per section, got {run.figures}"
    print(f"executed in {run.seconds:.1f} s")
