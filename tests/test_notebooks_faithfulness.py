"""notebooks/faithfulness.ipynb runs clean: no error, nothing on stderr, every figure and table drawn."""
from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_faithfulness_notebook_runs_clean(monkeypatch):
    run = run_notebook("faithfulness.ipynb", monkeypatch, timeout=300)
    assert not run.problems, "\n".join(run.problems)
    assert run.figures >= 6, f"expected a figure per section, got {run.figures}"
    assert run.markdown >= 4, f"expected the tables, got {run.markdown}"
    print(f"executed in {run.seconds:.1f} s")
