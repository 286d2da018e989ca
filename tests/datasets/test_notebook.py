"""notebooks/dataset-and-campaign.ipynb runs clean and draws its figures and tables."""
from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_dataset_and_campaign_notebook(monkeypatch):
    pytest.importorskip("camwidget.engine.metrics")  # the results table needs the faithfulness metrics
    run = run_notebook("dataset-and-campaign.ipynb", monkeypatch, timeout=400)
    assert not run.problems, run.problems
    assert run.figures >= 5
    texts = [o.get("data", {}).get("text/plain", "") for c in run.notebook.cells for o in c.get("outputs", [])]
    assert any("ci_low" in t and "deletion" in t for t in texts)  # the results table is printed
    assert any("global explanation of Egyptian cat" in str(o.get("text", "")) for c in run.notebook.cells
               for o in c.get("outputs", []))
