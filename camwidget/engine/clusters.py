"""INV (Bianchi, De Santis et al., IJCAI 2024): layer-wise clusters of feature maps.

For one image, one layer and one target, the INV pipeline of Bianchi, De Santis et al. (IJCAI 2024), steps 1–6 of docs/inv.md:

1. weight each feature map by its positive gradients where it is active,
   w_k = mean_ij[1(A > 0) · 1(g > 0) · g], and turn the weights into percent, ŵ = 100 · w / Σ w;
2. drop maps with ŵ_k ≤ d(K) (a threshold that shrinks with the layer's width K);
3. min-max scale each surviving map, PCA to ≤ 50 components, t-SNE to 2-D (seeded);
4. Ward clustering of the embedding for n = 3 … 8, keeping the n with the best silhouette
   (ties: the smaller n);
5. keep the clusters whose weight Σ ŵ_k reaches max(max w_C / 3, mean w_C / 2);
6. each cluster's map is the ŵ-weighted mean of its members' raw maps.

Everything runs on the session's cached activations and gradients (no extra model pass) and is
cached per (layer, target, seed). See docs/inv.md for the choices made where the paper is silent.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from . import progress
from .explanation import normalise, resize

MIN_MAPS = 4
"""Fewer surviving maps than this → no t-SNE / Ward; the survivors form one cluster (or none)."""

CLUSTER_COUNTS = range(3, 9)
"""The cluster counts Ward tries (the authors' 3 … 8)."""

PCA_COMPONENTS = 50
PERPLEXITY = 30.0

TSNE_BACKEND = "opentsne"
"""Which t-SNE runs: "opentsne" or "sklearn" (chosen by measurement, see docs/inv.md)."""

DEFAULT_LAYER_COUNT = 9
"""The authors explain the last nine convolutional layers."""


@dataclass(frozen=True)
class Cluster:
    """One cluster of a layer's feature maps.

    ``weight`` is the cluster's share (percent) of the layer's positive Grad-CAM-derived weight;
    ``map`` is the raw h × w weighted mean of the member maps (not normalised); ``upsampled()``
    resizes it bilinearly and normalises it to [0, 1]. ``id`` is stable for the same model, image,
    layer, target and seed. ``index`` is its position in the list (0 = the heaviest).
    """

    id: str
    index: int
    channels: tuple[int, ...]
    weight: float
    map: np.ndarray = field(repr=False, compare=False)
    layer: str = ""
    target: int = 0
    image_size: tuple[int, int] = (0, 0)

    def upsampled(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The map bilinearly resized to ``size`` (default: the image's H × W), normalised to [0, 1]."""
        return normalise(resize(self.map, (int(size[0]), int(size[1])) if size else self.image_size))


@dataclass(frozen=True)
class Clustering:
    """Everything one layer's clustering produced (``clusters`` is what ``session.clusters`` returns)."""

    layer: str
    target: int
    seed: int
    weights: np.ndarray = field(repr=False)
    """ŵ: one percent per channel of the layer (sums to 100, or all zeros when no weight is positive)."""
    survivors: tuple[int, ...] = field(repr=False)
    """Channels kept after pruning by d(K), in channel order."""
    embedding: np.ndarray | None = field(repr=False)
    """The 2-D t-SNE embedding of the survivors (None when too few maps survived)."""
    labels: np.ndarray | None = field(repr=False)
    """The Ward cluster of every survivor, before cluster pruning."""
    n_clusters: int
    silhouette: float | None
    clusters: tuple[Cluster, ...]
    note: str = ""
    """Why the result is degenerate (too few maps, no positive weight), empty otherwise."""


# ---- the steps ---------------------------------------------------------------------------
def map_weights(activations: torch.Tensor, gradients: torch.Tensor) -> np.ndarray:
    """Step 1: ŵ_k = 100 · w_k / Σ w with w_k = mean_ij[1(A > 0) · 1(g > 0) · g]; zeros if Σ w = 0."""
    a = activations.detach().double().cpu()
    g = gradients.detach().double().cpu()
    w = torch.where((a > 0) & (g > 0), g, torch.zeros_like(g)).mean(dim=(1, 2)).numpy()
    total = float(w.sum())
    if not np.isfinite(total) or total <= 0:
        return np.zeros_like(w)
    return 100.0 * w / total


def drop_threshold(count: int) -> float:
    """Step 2: d(K) in percent — 0.175 for K ≥ 512, 0.35 ≥ 256, 0.7 ≥ 128, 1.4 ≥ 64, else 76.8 / K."""
    for width, threshold in ((512, 0.175), (256, 0.35), (128, 0.7), (64, 1.4)):
        if count >= width:
            return threshold
    return 76.8 / count


def features(maps: np.ndarray, seed: int) -> np.ndarray:
    """Step 3a: min-max scale each flattened map, then PCA to min(50, maps, h·w) components."""
    from sklearn.decomposition import PCA

    flat = maps.reshape(len(maps), -1).astype(np.float64)
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    scaled = np.where(span > 0, (flat - lo) / np.where(span > 0, span, 1.0), 0.0)
    components = min(PCA_COMPONENTS, scaled.shape[0], scaled.shape[1])
    return PCA(n_components=components, svd_solver="full", random_state=seed).fit_transform(scaled)


def perplexity_for(count: int) -> float:
    """t-SNE's perplexity, 30 unless the points are few: clamped to (count − 1) / 3 (≥ 1).

    Both implementations need perplexity < count (openTSNE wants 3 · perplexity < count − 1 and
    would lower it with a warning), so small layers get the largest perplexity both accept.
    """
    return float(max(1.0, min(PERPLEXITY, (count - 1) / 3.0)))


def embed(points: np.ndarray, seed: int, backend: str | None = None) -> np.ndarray:
    """Step 3b: t-SNE to 2-D, seeded; 1,000 iterations of which 250 early exaggeration (both backends)."""
    backend = backend or TSNE_BACKEND
    perplexity = perplexity_for(len(points))
    if backend == "opentsne":
        import openTSNE

        result = openTSNE.TSNE(
            n_components=2, perplexity=perplexity, early_exaggeration_iter=250, n_iter=750,
            initialization="pca", random_state=seed, n_jobs=1, negative_gradient_method="bh",
            neighbors="exact" if len(points) < 1000 else "auto",
        ).fit(points)
        return np.asarray(result, dtype=np.float64)
    if backend == "sklearn":
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, perplexity=perplexity, max_iter=1000, init="pca", random_state=seed,
            method="barnes_hut",
        ).fit_transform(points).astype(np.float64)
    raise ValueError(f"backend: {backend!r} is not 'opentsne' or 'sklearn'")


def ward(embedding: np.ndarray) -> tuple[np.ndarray, int, float | None]:
    """Step 4: Ward for n = 3 … 8 (n < points), the best silhouette, ties → the smaller n.

    Returns (labels, n, silhouette); one cluster (silhouette None) when every point coincides.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    count = len(embedding)
    if np.ptp(embedding, axis=0).max() <= 0:
        return np.zeros(count, dtype=int), 1, None
    best: tuple[float, int, np.ndarray] | None = None
    for n in CLUSTER_COUNTS:
        if n >= count:
            break
        labels = AgglomerativeClustering(n_clusters=n, linkage="ward").fit_predict(embedding)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(embedding, labels))
        if best is None or score > best[0] + 1e-12:
            best = (score, n, labels)
    if best is None:
        return np.zeros(count, dtype=int), 1, None
    return best[2], best[1], best[0]


def keep_clusters(cluster_weights: Sequence[float]) -> list[bool]:
    """Step 5: keep clusters with w_C ≥ max(max w_C / 3, mean w_C / 2)."""
    w = np.asarray(cluster_weights, dtype=np.float64)
    if not len(w):
        return []
    bar = max(w.max() / 3.0, w.mean() / 2.0)
    return [bool(v >= bar - 1e-9) for v in w]


def cluster_map(activations: np.ndarray, weights: np.ndarray, channels: Sequence[int]) -> np.ndarray:
    """Step 6: A_C = Σ ŵ_k A_k / Σ ŵ_k over ``channels`` (raw maps; zeros if the weights sum to 0)."""
    index = np.asarray(list(channels), dtype=int)
    if not len(index):
        return np.zeros(activations.shape[1:], dtype=np.float32)
    w = weights[index].astype(np.float64)
    total = w.sum()
    if total <= 0:
        return np.zeros(activations.shape[1:], dtype=np.float32)
    return (np.tensordot(w, activations[index].astype(np.float64), axes=1) / total).astype(np.float32)


def cluster_id(session, layer: str, target: int, seed: int, channels: Sequence[int]) -> str:
    """A stable id: a hash of model, image, layer, target, seed and the member channels."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (session.model_fingerprint, session.image_fingerprint, layer, str(target), str(seed),
                 ",".join(map(str, sorted(channels)))):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


# ---- the pipeline -------------------------------------------------------------------------
def cluster_layer(session, layer: str | None = None, target: int | str | None = None, seed: int = 0,
                  stages: bool = True) -> Clustering:
    """The whole INV pipeline for one layer, cached per (layer, target, seed)."""
    info = session.layer_info(layer)
    target_index = session.resolve_target(target)
    seed = _check_seed(seed)
    key = ("inv", info.name, target_index, seed)
    return session.cached(key, lambda: _compute(session, info.name, target_index, seed, stages))


def _compute(session, layer: str, target: int, seed: int, stages: bool) -> Clustering:
    steps = 4
    tell = progress.report if stages else (lambda *a, **k: None)
    tell(0, steps)
    activations_t = session.activations(layer)
    weights = map_weights(activations_t, session.gradients(layer, target))
    activations = activations_t.detach().float().cpu().numpy()
    count = len(weights)
    survivors = tuple(int(k) for k in np.flatnonzero(weights > drop_threshold(count)))

    def finish(groups: list[tuple[int, ...]], embedding, labels, n, silhouette, note) -> Clustering:
        totals = [float(weights[list(g)].sum()) for g in groups]
        kept = [(t, g) for t, g, keep in zip(totals, groups, keep_clusters(totals)) if keep]
        kept.sort(key=lambda tg: (-tg[0], tg[1]))
        clusters = tuple(
            Cluster(
                id=cluster_id(session, layer, target, seed, g), index=i, channels=tuple(g), weight=t,
                map=cluster_map(activations, weights, g), layer=layer, target=target,
                image_size=tuple(session.image.shape[:2]),
            )
            for i, (t, g) in enumerate(kept)
        )
        tell(steps, steps)
        return Clustering(layer, target, seed, weights, survivors, embedding, labels, n, silhouette, clusters, note)

    if not survivors:
        note = "no feature map has a positive weight for this target" if not weights.any() else (
            "no feature map's weight exceeds the pruning threshold")
        return finish([], None, None, 0, None, note)
    if len(survivors) < MIN_MAPS:
        return finish([survivors], None, None, 1, None,
                      f"only {len(survivors)} feature map(s) survive pruning (< {MIN_MAPS}); they form one cluster")
    # small matrices: BLAS / OpenMP threads only add contention (2× slower on a busy 2-core machine)
    with threadpool_limits(limits=1):
        points = features(activations[list(survivors)], seed)
        tell(1, steps)
        embedding = embed(points, seed)
        tell(2, steps)
        labels, n, silhouette = ward(embedding)
        tell(3, steps)
    groups = [tuple(s for s, lab in zip(survivors, labels) if lab == c) for c in range(n)]
    groups = [g for g in groups if g]
    note = "" if n > 1 else "every surviving map embeds at the same point; they form one cluster"
    return finish(groups, embedding, labels, n, silhouette, note)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed: {int(seed)} is out of range; must be in [0, 2**32)")
    return int(seed)


def convolutional_layers(session, count: int | None = DEFAULT_LAYER_COUNT) -> list[str]:
    """The last ``count`` selectable layers that are ``Conv2d`` modules (all of them for None)."""
    modules = dict(session.model.named_modules())
    names = [
        info.name for info in session.layers
        if any(isinstance(modules.get(n), nn.Conv2d) for n in (info.name, *info.aliases))
    ]
    return names if count is None else names[-count:]


def clusters_for_layers(session, layers: Sequence[str] | None = None, target: int | str | None = None,
                        seed: int = 0) -> dict[str, list[Cluster]]:
    """Clusters of several layers (default: the authors' last nine convolutional layers).

    Reports progress once per layer (``progress.report(done, total, layer_name)``).
    """
    if layers is None:
        layers = convolutional_layers(session)
        if not layers:
            raise ValueError("layers: this session has no selectable Conv2d layer; name the layers to cluster")
    elif isinstance(layers, str):
        raise TypeError("layers: expected a list of layer names, got one string; wrap it in a list")
    names = [session.layer_info(n).name for n in layers]
    result: dict[str, list[Cluster]] = {}
    for i, name in enumerate(names):
        progress.report(i, len(names), name)
        result[name] = list(cluster_layer(session, name, target, seed, stages=False).clusters)
    progress.report(len(names), len(names), None)
    return result
