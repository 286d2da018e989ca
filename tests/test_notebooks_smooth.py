"""notebooks/smooth-gradcampp.ipynb runs clean: no error, nothing on stderr, every figure drawn."""
from __future__ import annotations

import pytest

from notebook_runner import run_notebook


@pytest.mark.slow
def test_smooth_gradcampp_notebook_runs_clean(monkeypatch):
    run = run_notebook("smooth-gradcampp.ipynb", monkeypatch, timeout=300)
    assert not run.problems, "\n".join(run.problems)
    assert run.figures >= 5, f"expected a figure per section, got {run.figures}"
    print(f"executed in {run.seconds:.1f} s")
