"""A campaign's precomputation: every item's INV clusters at the campaign's layers, batched.

Items run through the batched explainer (one forward and one backward per batch); each item's
:class:`ItemSession` then clusters its feature maps at every layer (PCA → t-SNE → Ward, seeded)
— exactly what ``session.clusters(layer, target, seed)`` gives for that image. The raw cluster
maps go to the campaign's Zarr store (``clusters/<layer>``: items × 8 × h × w, NaN where an item
has fewer clusters); one row per cluster goes to the label store's database. A unit is marked
done in Zarr only after its rows are in the database, so a killed precomputation resumes.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import clusters as clusters_
from .explainer import BatchExplainer, ItemResult
from .items import ItemSource

MAX_CLUSTERS = max(clusters_.CLUSTER_COUNTS)


def cluster_item(layers: Sequence[str], seed: int):
    """The per-item step: ``result.extra[layer] = [(index, id, weight, raw map), ...]``."""
    def step(session, result: ItemResult) -> None:
        result.extra["fingerprint"] = session.image_fingerprint
        for layer in layers:
            found = session.clusters(layer, result.target, seed)
            result.extra[layer] = [(c.index, c.id, float(c.weight), c.map) for c in found]
    return step


class ClusteringExplainer(BatchExplainer):
    """A batched explainer that clusters instead of explaining: the layers to cluster (None: the
    last nine convolutional layers, resolved at the probe) and the clustering's seed."""

    campaign_layers: list[str] | None = None
    seed: int = 0


def explainer(model, preprocess, classes, source: ItemSource, layers: Sequence[str] | None, targets: Any,
              seed: int, on_error: str) -> ClusteringExplainer:
    """A :class:`ClusteringExplainer` of no method (its ``per_item`` clusters, set at the probe)."""
    made = ClusteringExplainer(model, preprocess, classes, source, [], None, None, targets, on_error)
    made.campaign_layers = None if layers is None else list(layers)
    made.seed = seed
    return made


def probe(made: ClusteringExplainer, image: np.ndarray) -> dict[str, Any]:
    """The layers to cluster, their shapes and depths, the model fingerprint."""
    found = made.probe(image)
    session = made.template(image)
    names = made.campaign_layers or clusters_.convolutional_layers(session)
    if not names:
        raise ValueError("layers: the model has no selectable Conv2d layer; name the layers to cluster")
    infos = [session.layer_info(n) for n in names]
    made.per_item = cluster_item([i.name for i in infos], made.seed)
    found["cluster_layers"] = [[i.name, list(i.shape), i.depth] for i in infos]
    return found


def create_arrays(probe_: dict[str, Any], count: int, chunk: int):
    """The ``extra`` step of the store's creation: one cluster-map array per layer."""
    def extra(group) -> None:
        group.create_array("items/fingerprint", shape=(count,), chunks=(chunk,), dtype=str)
        for name, shape, _depth in probe_["cluster_layers"]:
            group.create_array(f"clusters/{name}", shape=(count, MAX_CLUSTERS, *shape[1:]),
                               chunks=(chunk, MAX_CLUSTERS, *shape[1:]), dtype="float32", fill_value=np.nan)
    return extra


def write_unit(group, probe_: dict[str, Any], results: list[ItemResult]) -> list[dict[str, Any]]:
    """Write a unit's cluster maps; return its cluster rows (for the database) — maps dropped."""
    start, stop = results[0].index, results[-1].index + 1
    rows = []
    for name, shape, depth in probe_["cluster_layers"]:
        block = np.full((len(results), MAX_CLUSTERS, *shape[1:]), np.nan, dtype=np.float32)
        for k, r in enumerate(results):
            for index, cluster_id, weight, map_ in r.extra.get(name, []):
                block[k, index] = map_
                rows.append({"position": 0, "item_id": r.id, "item_index": r.index,
                             "image_fingerprint": r.extra["fingerprint"], "target": r.target, "layer": name,
                             "layer_depth": depth, "cluster_index": index, "cluster_id": cluster_id,
                             "cluster_weight": weight})
        group[f"clusters/{name}"][start:stop] = block
    group["items/fingerprint"][start:stop] = np.asarray([r.extra.get("fingerprint", "") for r in results], dtype=str)
    order = {name: j for j, (name, _s, _d) in enumerate(probe_["cluster_layers"])}
    rows.sort(key=lambda row: (row["item_index"], order[row["layer"]], row["cluster_index"]))
    for row in rows:  # dataset order, then layer, then cluster: the order rounds are handed out
        row["position"] = (row["item_index"] * len(order) + order[row["layer"]]) * MAX_CLUSTERS + row["cluster_index"]
    for r in results:
        r.extra.clear()
    return rows


# ---- on Dask ------------------------------------------------------------------------------------
def _campaign_explainer(key, factory, source, config):
    from .explain import resolve_model
    from .scale import worker_state

    def build():
        model, preprocess, classes = resolve_model(factory, config["preprocess"], config["classes"])
        return explainer(model, preprocess, classes, source, config["layers"], config["targets"], config["seed"],
                         config["on_error"])

    return worker_state(key, build)


def probe_task(key, factory, source, config):
    from .explain import first_readable

    made = _campaign_explainer(key, factory, source, config)
    return probe(made, first_readable(source, config["on_error"])), made.classes


def unit_task(unit, key, factory, source, config, path):
    from .explain import first_readable
    from .store import ResultsStore

    made = _campaign_explainer(key, factory, source, config)
    if made.per_item is None:
        probe(made, first_readable(source, config["on_error"]))
    results = made.run(unit)
    return write_unit(ResultsStore(path).group, ResultsStore(path).probe, results), results
