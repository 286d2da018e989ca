"""Scores of labels on clusters (the reveal game's formula) and merging of same-label clusters.

INV (docs/inv.md): a label l on cluster C scores

    freq(l, C) · (1 − 0.1 · mean reveal step), divided by 4 when no correct guess used it.

Choices where the paper is silent (see docs/labels.md):
- freq(l, C) is the *fraction* of C's annotations that name l (so scores lie in [0, 1] however
  many people annotated C); annotations naming nothing but the class still count in the total;
- the mean reveal step is over the annotations that name l;
- "a correct guess used it": at least one annotation naming l has a correct guess; labels written
  outside the game (no guess) are therefore divided by 4 unless a correct guess also named them.

Clusters of the same image and layer whose best label (highest score; ties: alphabetical) is
the same merge: their annotations pool (scores are recomputed on the pool), their weights add and
their maps average by weight (:func:`merge_maps`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

import numpy as np

#: Score lost per reveal step.
STEP_PENALTY = 0.1
#: Divisor for a label that no correct guess used.
NO_CORRECT_GUESS_DIVISOR = 4.0


class Entry(NamedTuple):
    """One annotation of a cluster, as scoring sees it."""

    labels: frozenset[str]
    reveal_step: int
    correct: bool | None


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float
    frequency: float
    mean_step: float
    correct: bool
    annotations: int


def label_scores(entries: Sequence[Entry]) -> dict[str, LabelScore]:
    """Each label's score on one cluster from that cluster's annotations."""
    total = len(entries)
    by_label: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        for label in entry.labels:
            by_label[label].append(entry)
    scores = {}
    for label, named in sorted(by_label.items()):
        frequency = len(named) / total
        mean_step = float(np.mean([e.reveal_step for e in named]))
        correct = any(e.correct is True for e in named)
        score = frequency * (1.0 - STEP_PENALTY * mean_step)
        if not correct:
            score /= NO_CORRECT_GUESS_DIVISOR
        scores[label] = LabelScore(label, score, frequency, mean_step, correct, len(named))
    return scores


def best_label(scores: dict[str, LabelScore]) -> str | None:
    """The highest-scoring label (ties: alphabetical); None when the cluster has no label."""
    if not scores:
        return None
    return min(scores.values(), key=lambda s: (-s.score, s.label)).label


@dataclass
class ClusterLabels:
    """The labels of one cluster (or of clusters merged because they share a best label)."""

    image_fingerprint: str
    layer: str
    cluster_ids: tuple[str, ...]
    weight: float | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, LabelScore]:
        return label_scores(self.entries)

    @property
    def best(self) -> str | None:
        return best_label(self.scores)


def cluster_labels(annotations: Iterable, labels_of) -> list[ClusterLabels]:
    """Group annotations by (image, layer, cluster); ``labels_of(annotation)`` gives the set of
    (grouped) labels an annotation names. The cluster weight is the last one recorded."""
    clusters: dict[tuple[str, str, str], ClusterLabels] = {}
    for a in annotations:
        key = (a.image_fingerprint, a.layer, a.cluster_id)
        cluster = clusters.get(key)
        if cluster is None:
            cluster = clusters[key] = ClusterLabels(a.image_fingerprint, a.layer, (a.cluster_id,), None)
        if a.cluster_weight is not None:
            cluster.weight = float(a.cluster_weight)
        cluster.entries.append(Entry(frozenset(labels_of(a)), int(a.reveal_step), a.correct))
    return list(clusters.values())


def merge_same_best_label(clusters: Sequence[ClusterLabels]) -> list[ClusterLabels]:
    """Merge the clusters of each (image, layer) that share a best label.

    Entries pool; weights add (unknown weights count as absent; all unknown stays unknown).
    Clusters without any label are kept as they are.
    """
    merged: dict[tuple, ClusterLabels] = {}
    for cluster in clusters:
        best = cluster.best
        key = (cluster.image_fingerprint, cluster.layer,
               best if best is not None else ("", *cluster.cluster_ids))
        into = merged.get(key)
        if into is None:
            merged[key] = ClusterLabels(cluster.image_fingerprint, cluster.layer, cluster.cluster_ids,
                                        cluster.weight, list(cluster.entries))
            continue
        into.cluster_ids = into.cluster_ids + cluster.cluster_ids
        if cluster.weight is not None:
            into.weight = cluster.weight + (into.weight or 0.0)
        into.entries.extend(cluster.entries)
    return list(merged.values())


def merge_maps(weights, maps) -> tuple[float, np.ndarray]:
    """Merge clusters: their weights add; their maps average by weight.

    ``weights``: (n,) non-negative; ``maps``: (n, ...) arrays of one shape. Returns
    (Σ w, Σ w_i · map_i / Σ w). With all weights zero the maps are averaged plainly.
    """
    w = np.asarray(weights, dtype=np.float64)
    m = np.asarray(maps)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    if m.shape[:1] != w.shape:
        raise ValueError(f"maps must have one map per weight: {len(w)} weights, maps of shape {m.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    dtype = m.dtype if m.dtype.kind == "f" else np.float64
    total = float(w.sum())
    share = w / total if total > 0 else np.full(len(w), 1.0 / len(w))
    return total, np.tensordot(share, m.astype(np.float64), axes=1).astype(dtype)


class MergedCluster(NamedTuple):
    label: str | None
    members: tuple[int, ...]
    weight: float
    map: np.ndarray | None


def merge_clusters(best_labels: Sequence[str | None], weights, maps=None) -> list[MergedCluster]:
    """Merge the clusters of one image and layer that share a best label.

    ``best_labels[i]``, ``weights[i]`` and (optionally) ``maps[i]`` describe cluster i; a cluster
    whose best label is None stays alone. Returns the merged clusters, in order of first member.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if len(best_labels) != len(weights) or (maps is not None and len(maps) != len(weights)):
        raise ValueError("best_labels, weights and maps must describe the same clusters")
    groups: dict[object, list[int]] = {}
    for i, label in enumerate(best_labels):
        groups.setdefault(label if label is not None else ("", i), []).append(i)
    result = []
    for members in groups.values():
        label = best_labels[members[0]]
        if maps is None:
            result.append(MergedCluster(label, tuple(members), float(weights[members].sum()), None))
        else:
            total, merged = merge_maps(weights[members], np.asarray(maps)[members])
            result.append(MergedCluster(label, tuple(members), total, merged))
    return result
