"""Datasets: explanations and metrics of many images, batched, into Zarr; Dask on request;
INV's labelling campaign over a dataset.

    results = explain_dataset(cw.models.default, "photos/", methods=["gradcam"], out="maps.zarr")
    results.table, results.maps("gradcam", "blocks.5")
    explain_dataset(cw.models.default, "photos/", out="maps.zarr", workers=4)   # on Dask

Nothing here imports Dask unless ``client=`` or ``workers=`` is given.
"""
from .evaluate import Evaluation, evaluate_dataset
from .explain import explain_dataset
from .items import Item, ItemError, ItemSource, as_items
from .results import Results, open_results

__all__ = ["Campaign", "Evaluation", "Item", "ItemError", "ItemSource", "Results", "as_items", "evaluate_dataset", "explain_dataset", "open_results"]


def __getattr__(name: str):
    # the campaign needs the label store (the labels extra); it loads on first use
    if name == "Campaign":
        from .campaign import Campaign

        return Campaign
    raise AttributeError(f"module 'camwidget.datasets' has no attribute {name!r}")
