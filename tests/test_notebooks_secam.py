"""notebooks/secam-vs-lime.ipynb runs clean: no error, nothing on stderr, its figures and table drawn."""
from __future__ import annotations

import pytest

from notebook_runner import run_notebook


@pytest.mark.slow
def test_secam_vs_lime_notebook_runs_clean(monkeypatch):
    run = run_notebook("secam-vs-lime.ipynb", monkeypatch, timeout=180)
    assert not run.problems, "\n".join(run.problems)
    assert run.figures == 2 and run.markdown == 1, (run.figures, run.markdown)
    print(f"executed in {run.seconds:.1f} s")
