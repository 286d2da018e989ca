"""Global explanation of a class: which labels matter at which layer, and how that changes.

From the store's annotations of one class (INV, Bianchi, De Santis et al. 2024; docs/inv.md):
1. every annotation's characteristics are normalised (class name removed) and grouped into
   synonym groups, each named by one lemmatised word (:mod:`.text`);
2. each label is scored on each cluster, and clusters of one image and layer that share a best
   label merge (:mod:`.scores`);
3. per layer, each label's score on an image is its best score over that image's (merged)
   clusters; the layer's score is the mean over the class's images annotated at that layer
   (an image that did not name the label counts as 0);
4. each label's trend is the least-squares slope of its score against the layer's position in
   the layer order (layers without annotations are left out of the fit).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from .scores import cluster_labels, merge_same_best_label
from .text import DEFAULT_THRESHOLD, name_labels, phrases


class Row(NamedTuple):
    layer: str
    label: str
    score: float


@dataclass
class GlobalExplanation:
    """A class's labels per layer. ``rows``: (layer, label, score), layers in order, best first;
    ``trends``: label → slope of its score across layers (per layer step); ``layers``: the order;
    ``images``: layer → how many of the class's images were annotated there; ``synonyms``:
    label → the normalised phrases grouped under it."""

    target: int | str
    target_name: str | None
    layers: list[str]
    rows: list[Row]
    trends: dict[str, float]
    images: dict[str, int] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Every label, rising most first."""
        return sorted(self.trends, key=lambda label: (-self.trends[label], label))

    def scores(self) -> tuple[list[str], list[str], np.ndarray]:
        """(labels, layers, matrix) with matrix[i, j] the score of label i at layer j (NaN: no
        annotated image at that layer)."""
        labels = sorted(self.trends)
        matrix = np.full((len(labels), len(self.layers)), np.nan)
        have = [j for j, layer in enumerate(self.layers) if self.images.get(layer)]
        matrix[:, have] = 0.0
        row_of = {label: i for i, label in enumerate(labels)}
        col_of = {layer: j for j, layer in enumerate(self.layers)}
        for layer, label, score in self.rows:
            matrix[row_of[label], col_of[layer]] = score
        return labels, list(self.layers), matrix

    def rising(self, k: int = 5) -> list[str]:
        """The k labels whose score rises most across layers (positive slopes only)."""
        return [l for l in self.labels if self.trends[l] > 0][:k]

    def falling(self, k: int = 5) -> list[str]:
        """The k labels whose score falls most across layers (negative slopes only)."""
        return [l for l in reversed(self.labels) if self.trends[l] < 0][:k]

    def plot(self, k: int = 5, ax=None):
        """Matplotlib figure: score per layer of the k labels that rise most (solid) and the k
        that fall most (dashed). Label text is drawn as plain text (no mathtext)."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(self.layers) + 3), 4.0))
        else:
            fig = ax.figure
        labels, layers, matrix = self.scores()
        x = np.arange(len(layers))
        row_of = {label: i for i, label in enumerate(labels)}
        for style, chosen in (("-", self.rising(k)), ("--", self.falling(k))):
            for label in chosen:
                y = matrix[row_of[label]]
                have = ~np.isnan(y)
                ax.plot(x[have], y[have], style, marker="o",
                        label=f"{_plain(label)} ({self.trends[label]:+.3f}/layer)")
        ax.set_xticks(x, [_plain(l) for l in layers], rotation=45, ha="right")
        ax.set_ylabel("mean label score")
        name = self.target_name if self.target_name is not None else self.target
        ax.set_title(_plain(f"labels of {name} across layers: rising (solid), falling (dashed)"))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="best")
        else:
            ax.text(0.5, 0.5, "no label rises or falls", ha="center", va="center",
                    transform=ax.transAxes)
        fig.tight_layout()
        return fig

    def __str__(self) -> str:
        lines = [f"global explanation of {self.target_name or self.target}"]
        for layer in self.layers:
            best = [f"{r.label} {r.score:.2f}" for r in self.rows if r.layer == layer][:5]
            lines.append(f"  {layer} ({self.images.get(layer, 0)} images): {', '.join(best)}")
        return "\n".join(lines)


def _plain(text: str) -> str:
    """Matplotlib would read $...$ as mathtext; labels are data, shown as written."""
    return str(text).replace("$", r"\$")


def global_explanation(
    store,
    target: int | str,
    *,
    model_fingerprint: str | None = None,
    embedder: Any = None,
    layers: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> GlobalExplanation:
    """The global explanation of class ``target`` (index or name) from ``store``'s annotations
    (a :class:`LabelStore`, or a path or URL to open one).

    ``embedder``: a sentence-transformers model name or path, a loaded model, or None for the
    packaged all-MiniLM-L6-v2. ``layers``: the layer order (default: the store's, by depth then
    name); store layers not in it are left out. Annotations of several models must be told
    apart with ``model_fingerprint``.
    """
    if not hasattr(store, "annotations"):  # a path or URL
        from .store import LabelStore

        with LabelStore(store) as opened:
            return global_explanation(opened, target, model_fingerprint=model_fingerprint,
                                      embedder=embedder, layers=layers, threshold=threshold)
    annotations = store.annotations(target=target, model_fingerprint=model_fingerprint)
    if not annotations:
        raise ValueError(f"the label store has no annotations of class {target!r}"
                         + (f" for model {model_fingerprint}" if model_fingerprint else ""))
    models = {a.model_fingerprint for a in annotations}
    if len(models) > 1:
        raise ValueError(
            f"annotations of class {target!r} come from {len(models)} models; choose one with "
            f"model_fingerprint= (one of {', '.join(sorted(models))})"
        )
    if layers is None:
        layers = store.layers(target=target, model_fingerprint=model_fingerprint)
    layers = list(dict.fromkeys(layers))
    order = {layer: j for j, layer in enumerate(layers)}
    annotations = [a for a in annotations if a.layer in order]

    class_names = sorted({a.target_name for a in annotations if a.target_name})
    phrases_of = {a.id: phrases(a.text, class_names) for a in annotations}
    names = name_labels([p for a in annotations for p in phrases_of[a.id]], embedder,
                        threshold=threshold)
    synonyms: dict[str, list[str]] = defaultdict(list)
    for phrase, name in names.items():
        synonyms[name].append(phrase)

    clusters = merge_same_best_label(
        cluster_labels(annotations, lambda a: {names[p] for p in phrases_of[a.id]})
    )
    best: dict[tuple[str, str, str], float] = {}  # (layer, image, label) → best cluster score
    images: dict[str, set[str]] = defaultdict(set)
    for cluster in clusters:
        images[cluster.layer].add(cluster.image_fingerprint)
        for label, s in cluster.scores.items():
            key = (cluster.layer, cluster.image_fingerprint, label)
            best[key] = max(best.get(key, 0.0), s.score)

    totals: dict[tuple[str, str], float] = defaultdict(float)
    for (layer, _image, label), score in best.items():
        totals[layer, label] += score
    rows = [Row(layer, label, total / len(images[layer])) for (layer, label), total in totals.items()]
    rows.sort(key=lambda r: (order[r.layer], -r.score, r.label))

    trends = {}
    observed = [layer for layer in layers if images.get(layer)]
    x = np.array([order[layer] for layer in observed], dtype=np.float64)
    per_label: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        per_label[r.label][r.layer] = r.score
    for label, by_layer in per_label.items():
        y = np.array([by_layer.get(layer, 0.0) for layer in observed])
        trends[label] = least_squares_slope(x, y)

    target_name = class_names[0] if len(class_names) == 1 else (target if isinstance(target, str) else None)
    return GlobalExplanation(
        target=target,
        target_name=target_name,
        layers=layers,
        rows=rows,
        trends=trends,
        images={layer: len(images.get(layer, ())) for layer in layers},
        synonyms={name: sorted(p) for name, p in sorted(synonyms.items())},
    )


def least_squares_slope(x, y) -> float:
    """Slope of the least-squares line through (x, y); 0 for fewer than two distinct x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0:
        return 0.0
    dx = x - x.mean()
    return float(dx @ (y - y.mean()) / (dx @ dx))
