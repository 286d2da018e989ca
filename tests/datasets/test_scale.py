"""The Dask path on a real LocalCluster of two processes equals the in-process run."""
from __future__ import annotations

import cloudpickle
import conftest
import nets
import numpy as np
import pytest

import camwidget as cw
from camwidget.datasets import explain_dataset

pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(nets)  # the workers import camwidget, not the tests' modules
cloudpickle.register_pickle_by_value(conftest)


@pytest.mark.slow
def test_dask_run_equals_in_process_run(tmp_path):
    data = cw.samples.dataset("objects", n=7, seed=3)
    kwargs = {"methods": ["gradcam", "gradcam++", "cam"], "targets": "top", "batch_size": 2, "progress": False}
    local = explain_dataset(conftest.tiny_factory, data, out=tmp_path / "local.zarr", **kwargs)
    dask = explain_dataset(conftest.tiny_factory, data, out=tmp_path / "dask.zarr", workers=2, **kwargs)
    assert dask.spec == local.spec
    assert dask.table.equals(local.table)
    for method in local.methods:
        for layer in local.layers_of(method):
            np.testing.assert_array_equal(dask.maps(method, layer)[:], local.maps(method, layer)[:])
