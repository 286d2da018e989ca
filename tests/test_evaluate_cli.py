"""``camwidget evaluate``: a table of methods × metrics, printed and written as CSV."""
from __future__ import annotations

import csv

from camwidget.cli import main


def test_evaluate_prints_the_table_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["evaluate", "chelsea", "--methods", "gradcam,layercam", "--metrics", "deletion,avg-drop",
                 "--steps", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "deletion" in printed.splitlines()[0] and "layercam" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["method"] for r in rows] == ["gradcam", "layercam"]
    assert all(0 <= float(r["deletion"]) <= 1 and 0 <= float(r["avg-drop"]) <= 100 for r in rows)
    assert rows[0]["class"] == "Egyptian cat"


def test_evaluate_reports_an_unknown_metric_as_a_message(capsys):
    assert main(["evaluate", "chelsea", "--metrics", "dele"]) == 2
    err = capsys.readouterr().err
    assert "metrics: 'dele' is unknown; valid: deletion, insertion" in err
