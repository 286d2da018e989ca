"""notebooks/inv-labels.ipynb runs clean: clusters, reveal, labelling session, scores and the
global explanation, with no error and nothing on stderr."""
from __future__ import annotations

import pytest

from notebook_runner import run_notebook


@pytest.mark.slow
def test_inv_labels_notebook_runs_clean(monkeypatch):
    run = run_notebook("inv-labels.ipynb", monkeypatch, timeout=300)
    assert not run.problems, "\n".join(run.problems)
    # images, one cluster grid per image (3), the reveal strip, the global explanation's plot
    assert run.figures == 6, run.figures
    text = "".join(o.get("text", "") for c in run.notebook.cells for o in c.get("outputs", []))
    assert "nothing was written" in text  # refused labels
    assert "correct guess" in text  # the cluster-score tables
    assert "global explanation of Egyptian cat" in text and "trend (score per layer step)" in text
    print(f"executed in {run.seconds:.1f} s")
