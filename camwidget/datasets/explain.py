"""``explain_dataset``: maps of many images, batched, into a resumable Zarr store."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from ..engine import allocator
from . import targets as targets_
from .explainer import BatchExplainer
from .items import ItemError, ItemSource, as_items
from .results import Results
from .store import ResultsStore, create_or_resume

ON_ERROR = ("raise", "skip")
#: Items per stored chunk (rounded up to a multiple of batch_size). Each array's chunk
#: write has a fixed cost in Zarr (~1.2 ms; Grad-CAM at every layer of the default model writes
#: 134 arrays), so fewer, larger chunks cost less: measured 0.62 (16), 0.69 (32), 0.65 (64) × the
#: floor over 64 images. The same on Dask (one task a unit), so either resumes the other's store.
CHUNK_ITEMS = 32


def resolve_model(model: Any, preprocess=None, classes=None) -> tuple[nn.Module, Any, list[str] | None]:
    """``(model, preprocess, classes)`` from a module (with the given preprocess / classes) or a
    factory returning that triple (e.g. ``cw.models.default``)."""
    if isinstance(model, nn.Module):
        from ..models import Preprocess

        return model, preprocess if preprocess is not None else Preprocess(), classes
    if callable(model):
        built = model()
        if not (isinstance(built, tuple) and len(built) == 3 and isinstance(built[0], nn.Module)):
            raise TypeError("model: a factory must return (model, preprocess, classes), like cw.models.default")
        return built[0], preprocess if preprocess is not None else built[1], classes if classes is not None else built[2]
    raise TypeError(f"model: expected a torch.nn.Module or a factory like cw.models.default, got {type(model).__name__}")


def check_common(methods, batch_size, on_error, client, workers, model) -> list[str]:
    from ..engine import methods as methods_

    if isinstance(methods, str):
        methods = [methods]
    methods = [methods_.get(m).name for m in methods]
    if not methods:
        raise ValueError("methods: give at least one method name")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error: {on_error!r} is not one of {', '.join(ON_ERROR)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers: expected a positive number of processes, got {workers!r}")
    if client is not None and workers is not None:
        raise ValueError("workers: give client= or workers=, not both")
    if (client is not None or workers is not None) and (isinstance(model, nn.Module) or not callable(model)):
        raise TypeError(
            "model: on Dask give a picklable factory returning (model, preprocess, classes), such as "
            "cw.models.default, so every worker builds the model once"
        )
    return methods


def first_readable(source: ItemSource, on_error: str):
    """The first item whose image loads (its image, for the probe); errors per ``on_error``."""
    for index in range(len(source)):
        try:
            return source.item(index).image
        except ItemError:
            if on_error == "raise":
                raise
    raise ValueError("dataset: no item could be read")


def progress_bar(total: int, enabled: bool, description: str):
    if not enabled:
        return None
    from tqdm.std import (
        tqdm,  # the plain text bar: the engine imports no notebook widget
    )

    return tqdm(total=total, desc=description, unit="img")


def explain_dataset(
    model: nn.Module | Callable[[], tuple],
    dataset: Any,
    methods: Sequence[str] | str = ("gradcam",),
    layers: Sequence[str] | None = None,
    targets: Any = "top",
    out: str | os.PathLike = "maps.zarr",
    *,
    params: dict[str, dict] | None = None,
    batch_size: int = 16,
    preprocess=None,
    classes: Sequence[str] | None = None,
    on_error: str = "raise",
    overwrite: bool = False,
    progress: bool = True,
    client: Any = None,
    workers: int | None = None,
) -> Results:
    """Explain every item of ``dataset`` with ``methods`` at ``layers`` (None: every selectable
    layer) for ``targets`` (see :mod:`camwidget.datasets.targets`), into the Zarr store ``out``.

    ``batch_size`` items run through one forward and one backward. A second call with the same
    arguments skips the items already written (a killed run resumes). ``on_error="skip"`` records
    an unreadable image or a failing target in the table and goes on; ``"raise"`` stops with an
    error naming the item. ``client=`` (a ``dask.distributed.Client``) or ``workers=N`` (a local
    cluster of N processes) run the batches on Dask; ``model`` must then be a factory.
    ``params``: ``{method: {parameter: value}}``. Returns :class:`Results` (``open_results``).
    """
    methods = check_common(methods, batch_size, on_error, client, workers, model)
    source = as_items(dataset)
    targets_.check(targets, len(source))
    if layers is not None and (isinstance(layers, str) or not len(layers)):
        raise ValueError("layers: give a non-empty list of layer names, or None for every layer")
    config = {"methods": methods, "layers": None if layers is None else list(layers), "params": params or {},
              "targets": targets, "on_error": on_error, "preprocess": preprocess,
              "classes": None if classes is None else list(classes)}
    spec = {"methods": methods, "layers": config["layers"], "params": _jsonable(params or {}),
            "targets": targets_.describe(targets), "classes": None}
    if client is not None or workers is not None:
        from .scale import explain_on_dask

        return explain_on_dask(model, source, config, spec, out, batch_size, overwrite, progress, client, workers)
    net, prep, names = resolve_model(model, preprocess, classes)
    explainer = BatchExplainer(net, prep, names, source, methods, config["layers"], params, targets, on_error)
    probe = explainer.probe(first_readable(source, on_error))
    spec["classes"] = None if names is None else list(names)
    chunk = chunk_items(batch_size)
    store = create_or_resume(out, "explain_dataset", spec, source.ids, probe, chunk, overwrite)
    with allocator.heap_only(keep_all=True):  # batches reuse their freed blocks (engine/allocator.py)
        run_units(store, batches_of(explainer.run, batch_size), progress)
    return Results(store.path)


def chunk_items(batch_size: int) -> int:
    """Items per stored chunk (in-process and on Dask): the smallest multiple of ``batch_size``
    that is at least ``CHUNK_ITEMS`` (each array's chunk write has a fixed cost; see there)."""
    return batch_size * max(1, -(-CHUNK_ITEMS // batch_size))


def batches_of(run: Callable, batch_size: int) -> Callable:
    """``run`` over a unit in batches of ``batch_size`` items, the results in order. (Reading the
    next batch's images in a thread while one computes was slower on 2 cores: 0.61 against 0.70
    × the floor.)"""
    def unit(indices):
        return [r for s in range(0, len(indices), batch_size) for r in run(indices[s:s + batch_size])]
    return unit


def run_units(store: ResultsStore, run: Callable, progress: bool) -> None:
    """Run and write every pending unit. A writer thread stores unit k (Zarr's encoding and file
    writes) while unit k + 1 computes; at most one unit waits to be written, and a write's error
    is raised here, by the next unit or at the end. The last unit is written here, its chunks
    encoded on every core (nothing else runs then; during the run one writer thread leaves the
    cores to torch)."""
    from concurrent.futures import ThreadPoolExecutor

    units = store.pending_units()
    bar = progress_bar(sum(map(len, units)), progress, "explain_dataset")
    writing, written = None, 0

    def finish() -> None:  # the previous unit's write, and its items on the bar
        if writing is not None:
            writing.result()
        if bar is not None and written:
            bar.update(written)

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="camwidget-zarr") as writer:
            for k, unit in enumerate(units):
                results = run(unit)
                finish()
                if k < len(units) - 1:
                    writing = writer.submit(store.write, results)
                else:  # nothing computes any more: the last unit written here, encoded on every core
                    writing = None
                    store.write(results, threads=os.cpu_count() or 1)
                written = len(unit)
            finish()
    finally:
        if bar is not None:
            bar.close()


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=repr))
