"""The Dask path on a real LocalCluster of two processes equals the in-process run, for
explain_dataset, evaluate_dataset and a campaign's precomputation."""
from __future__ import annotations

import cloudpickle
import conftest
import nets
import numpy as np
import pytest

import camwidget as cw
from camwidget.datasets import explain_dataset

distributed = pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(nets)  # the workers import camwidget, not the tests' modules
cloudpickle.register_pickle_by_value(conftest)


@pytest.mark.slow
def test_dask_runs_equal_in_process_runs(tmp_path):
    data = cw.samples.dataset("objects", n=7, seed=3)
    kwargs = {"methods": ["gradcam", "gradcam++", "cam"], "targets": "top", "batch_size": 2, "progress": False}
    local = explain_dataset(conftest.tiny_factory, data, out=tmp_path / "local.zarr", **kwargs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask = explain_dataset(conftest.tiny_factory, data, out=tmp_path / "dask.zarr", client=client, **kwargs)
        assert dask.spec == local.spec
        assert dask.table.equals(local.table)
        for method in local.methods:
            for layer in local.layers_of(method):
                np.testing.assert_array_equal(dask.maps(method, layer)[:], local.maps(method, layer)[:])

        small = cw.samples.dataset("objects", n=4, seed=3)  # the slower calls on fewer items
        if pytest.importorskip("camwidget.engine.metrics"):
            options = {"metrics": ["deletion", "avg-drop", "pointing-game"], "methods": ["gradcam++"],
                       "metric_params": {"deletion": {"steps": 4}}, "batch_size": 3, "progress": False}
            on_dask = cw.evaluate_dataset(conftest.tiny_factory, small, client=client, **options)
            here = cw.evaluate_dataset(conftest.tiny_factory, small, **options)
            assert on_dask.table.equals(here.table) and on_dask.summary.equals(here.summary)

        from camwidget.datasets.campaign import Campaign

        spread = Campaign(tmp_path / "a.sqlite", conftest.tiny_factory, small, targets="top", progress=False,
                          batch_size=3, client=client)
        alone = Campaign(tmp_path / "b.sqlite", conftest.tiny_factory, small, targets="top", progress=False, batch_size=3)
        keys = ("item_id", "layer", "cluster_index", "cluster_id", "cluster_weight", "position", "image_fingerprint")
        assert [tuple(r[k] for k in keys) for r in spread.book.rows()] == [tuple(r[k] for k in keys)
                                                                            for r in alone.book.rows()]
        import zarr

        for layer in alone.layers:
            np.testing.assert_array_equal(zarr.open_group(spread.out, mode="r")[f"clusters/{layer}"][:],
                                          zarr.open_group(alone.out, mode="r")[f"clusters/{layer}"][:])
