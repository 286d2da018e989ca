"""INV cluster: one cluster of a layer's feature maps shown like any other explanation."""
from __future__ import annotations

import numpy as np
import torch

from .. import clusters as clusters_
from . import MethodSpec, Result, register


def _inv(session, layer, target, channels, region, cluster: int = 0, seed: int = 0) -> Result:
    if region is not None:
        raise ValueError(
            "region: method 'inv' clusters the whole layer and takes no neuron region; "
            "clear the region (region=None) or use a Grad-CAM method for regional weights"
        )
    clustering = clusters_.cluster_layer(session, layer.name, target, seed)
    found = clustering.clusters
    if not 0 <= cluster < len(found):
        valid = f"0..{len(found) - 1}" if found else "none"
        reason = f" ({clustering.note})" if clustering.note else ""
        raise ValueError(
            f"cluster: {cluster} is not a cluster of layer {layer.name!r}; it has {len(found)} "
            f"cluster(s), valid: {valid}{reason}"
        )
    chosen = found[cluster]
    members = list(chosen.channels)
    weights = np.zeros(layer.channels, dtype=np.float32)
    weights[members] = clustering.weights[members]
    if channels is None:
        map_ = chosen.map
    else:
        shown = sorted(set(members) & set(channels.tolist()))
        activations = session.activations(layer.name).detach().float().cpu().numpy()
        map_ = clusters_.cluster_map(activations, clustering.weights, shown)
    params = {"cluster": cluster, "seed": seed, "cluster_id": chosen.id, "cluster_weight": chosen.weight,
              "clusters": len(found), "members": members}
    return Result(torch.from_numpy(np.ascontiguousarray(map_)), torch.from_numpy(weights), params=params)


register(MethodSpec(
    "inv", "INV cluster", _inv,
    params={
        "cluster": {"type": "int", "default": 0, "min": 0, "label": "cluster (0 = heaviest)"},
        "seed": {"type": "int", "default": 0, "min": 0, "max": 2**32 - 1, "label": "t-SNE seed"},
    },
    description=(
        "Bianchi, De Santis et al. 2024: feature maps clustered (PCA → t-SNE → Ward, 3–8 by "
        "silhouette) and merged by Grad-CAM-derived weights; one cluster's map."
    ),
))
