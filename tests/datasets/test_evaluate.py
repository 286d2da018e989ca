"""evaluate_dataset: per-item metric rows equal session.evaluate, the summary equals a hand
computation of the mean and the bootstrap interval, the CSV files."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_factory

import camwidget as cw
from camwidget.datasets.evaluate import bootstrap_interval, summarise


def test_summary_against_a_hand_computation():
    values = {"gradcam": [0.1, 0.4, 0.35, np.nan, 0.8], "cam": [1.0, 2.0, 4.0, 8.0, 16.0]}
    table = pd.DataFrame([{"id": str(i), "method": m, "metric": "deletion", "value": v}
                          for m, vs in values.items() for i, v in enumerate(vs)])
    summary = summarise(table, confidence=0.9, resamples=500, seed=7).set_index("method")
    for method, vs in values.items():
        finite = np.array([v for v in vs if np.isfinite(v)])
        rng = np.random.default_rng(7)
        means = [finite[rng.integers(0, len(finite), size=len(finite))].mean() for _ in range(500)]
        assert summary.loc[method, "n"] == len(finite)
        assert summary.loc[method, "mean"] == pytest.approx(finite.mean())
        assert summary.loc[method, "ci_low"] == pytest.approx(np.quantile(means, 0.05))
        assert summary.loc[method, "ci_high"] == pytest.approx(np.quantile(means, 0.95))
    assert np.isnan(bootstrap_interval(np.array([np.nan]))[0])


def test_evaluate_dataset_rows_equal_session_evaluate(tmp_path):
    pytest.importorskip("camwidget.engine.metrics")
    data = cw.samples.dataset("objects", n=3, seed=2)
    metrics = ["deletion", "insertion", "avg-drop", "pointing-game", "energy-pointing-game"]
    options = {"deletion": {"steps": 8}, "insertion": {"steps": 8}}
    evaluation = cw.evaluate_dataset(tiny_factory, data, methods=["gradcam++", "cam"], metrics=metrics,
                                     metric_params=options, batch_size=2, progress=False, out=tmp_path / "r.csv")
    table = evaluation.table
    assert len(table) == 3 * 2 * len(metrics) and (table["error"] == "").all()
    model, preprocess, classes = tiny_factory()
    for i in range(3):
        item = data[i]
        session = cw.Session(model, item.image, preprocess=preprocess, classes=classes)
        for method in ("gradcam++", "cam"):
            e = session.explain(method)
            found = session.evaluate(e, metrics, params={**options, "pointing-game": {"box": item.box},
                                                         "energy-pointing-game": {"box": item.box}})
            rows = table[(table.id == item.id) & (table.method == method)].set_index("metric")
            for metric in metrics:
                expected = found[metric].value
                got = rows.loc[metric, "value"]
                # (batches of other sizes; a large job's passes run through the compiled copy,
                # engine.compiled, whose float32 rounding differs by ~1e-6 relative)
                assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, rel=2e-5, abs=1e-7)
    on_disk = pd.read_csv(tmp_path / "r.csv")
    assert len(on_disk) == len(table)
    summary = pd.read_csv(tmp_path / "r-summary.csv")
    assert set(summary.method) == {"gradcam++", "cam"} and set(summary.metric) == set(metrics)
    with pytest.raises(ValueError, match="out: .* must end in .csv or .parquet"):
        cw.evaluate_dataset(tiny_factory, data, out=tmp_path / "r.txt", progress=False)


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    data = cw.samples.dataset("objects", n=2, seed=3)
    evaluation = cw.evaluate_dataset(tiny_factory, data, methods=["gradcam", "cam"], metrics=["pointing-game", "avg-drop"],
                                     batch_size=2, progress=False, out=tmp_path / "r.parquet")
    assert len(evaluation.table) == 2 * 2 * 2
    # every column, its dtype and every value (NaN included) come back as written
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), evaluation.table.reset_index(drop=True))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r-summary.parquet"),
                                  evaluation.summary.reset_index(drop=True))
