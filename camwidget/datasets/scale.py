"""The Dask path: the same batches on a ``dask.distributed`` cluster.

Imported only when ``client=`` or ``workers=`` is given. The model comes from a picklable
factory; each worker process builds it once (cached here, per factory and configuration) and
writes its own units of the Zarr store; the driver creates the store, hands out the units that
are not written yet, and gets back only each unit's small table rows.

``workers=N`` starts a ``LocalCluster`` of N single-threaded processes on 127.0.0.1 and closes
it afterwards; ``client=Client("tcp://scheduler:8786")`` runs on an existing cluster unchanged
(the store path must then be one every worker can write: a shared file system or an object-store
URL that zarr understands).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..engine import allocator

_WORKER_CACHE: dict[str, Any] = {}


def dask_modules():
    try:
        import distributed
    except ImportError as error:  # pragma: no cover - the datasets extra is installed in CI
        raise ImportError("client= / workers= need Dask: pip install 'camwidget[datasets]'") from error
    return distributed


@contextmanager
def cluster_client(client: Any, workers: int | None) -> Iterator[Any]:
    """The user's client, or a LocalCluster of ``workers`` single-threaded processes (closed after)."""
    if client is not None:
        yield client
        return
    distributed = dask_modules()
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None, silence_logs=40)
    local = distributed.Client(cluster)
    try:
        yield local
    finally:
        local.close()
        cluster.close()


def cache_key(*parts: Any) -> str:
    """A key for the worker-side cache: the hash of the pickled factory and configuration."""
    import cloudpickle

    return hashlib.blake2b(cloudpickle.dumps(parts), digest_size=16).hexdigest()


def worker_state(key: str, build: Callable[[], Any]) -> Any:
    """Built once per worker process and key (the model, the explainer)."""
    if key not in _WORKER_CACHE:
        if len(_WORKER_CACHE) > 4:  # a long-lived worker serving many runs keeps the latest few
            _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
        _WORKER_CACHE[key] = build()
    return _WORKER_CACHE[key]


def _explainer(key: str, factory, source, config):
    from .explain import resolve_model
    from .explainer import BatchExplainer

    def build():
        model, preprocess, classes = resolve_model(factory, config["preprocess"], config["classes"])
        return BatchExplainer(model, preprocess, classes, source, config["methods"], config["layers"],
                              config["params"], config["targets"], config["on_error"])

    return worker_state(key, build)


def _probe_task(key: str, factory, source, config) -> tuple[dict, list[str] | None]:
    from .explain import first_readable

    explainer = _explainer(key, factory, source, config)
    probe = explainer.probe(first_readable(source, config["on_error"]))
    return probe, None if explainer.classes is None else list(explainer.classes)


def _unit_task(unit: list[int], key: str, factory, source, config, path: str, batch_size: int) -> list[dict]:
    from .explain import batches_of
    from .store import ResultsStore

    explainer = _explainer(key, factory, source, config)
    if not explainer.layers_of:  # a worker that did not run the probe: the same probe, locally
        _probe_task(key, factory, source, config)
    with allocator.heap_only(keep_all=True):  # batches reuse their freed blocks (engine/allocator.py)
        results = batches_of(explainer.run, batch_size)(unit)
    ResultsStore(path).write(results)
    return [r.row() for r in results]


def explain_on_dask(factory, source, config, spec, out, batch_size, overwrite, progress, client, workers):
    """``explain_dataset`` on Dask (see the module docstring)."""
    from .explain import chunk_items, progress_bar
    from .results import Results
    from .store import create_or_resume

    key = cache_key(factory, config)
    with cluster_client(client, workers) as dask_client:
        distributed = dask_modules()
        [shared] = dask_client.scatter([source], broadcast=True)
        probe, classes = dask_client.submit(_probe_task, key, factory, shared, config, pure=False).result()
        spec = {**spec, "classes": classes}
        # the in-process chunking, so one store resumes either way
        store = create_or_resume(out, "explain_dataset", spec, source.ids, probe, chunk_items(batch_size), overwrite)
        units = store.pending_units()
        bar = progress_bar(sum(map(len, units)), progress, "explain_dataset (dask)")
        futures = [dask_client.submit(_unit_task, unit, key, factory, shared, config, store.path, batch_size,
                                     pure=False)
                   for unit in units]
        try:
            for future in distributed.as_completed(futures):
                rows = future.result()  # raises the worker's error, naming the item
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
            for future in futures:
                future.cancel()
    return Results(store.path)


def threads_note() -> str:
    """How many threads torch uses here (workers of ``workers=N`` use one each)."""
    import torch

    return f"torch threads: {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
