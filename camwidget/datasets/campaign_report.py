"""A campaign's report: every played class's global explanation, one table, one comparison plot."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..labels.global_ import GlobalExplanation


@dataclass
class CampaignReport:
    """``explanations``: class index → :class:`GlobalExplanation` (labels per layer, trends);
    ``table``: a pandas DataFrame (class, class_name, layer, label, score, trend, images);
    ``plot()``: the classes side by side, each with its most rising and falling labels."""

    campaign: str
    layers: list[str]
    explanations: dict[int, GlobalExplanation]

    @classmethod
    def of(cls, campaign, embedder: Any = None) -> CampaignReport:
        from ..labels.text import load_embedder

        played = campaign.store.classes(model_fingerprint=campaign.model_fingerprint)
        if not played:
            raise ValueError(f"campaign: {campaign.name!r} has no labels yet; play some rounds first")
        loaded = load_embedder(embedder)  # once for every class
        explanations = {c.target: campaign.global_explanation(c.target, embedder=loaded) for c in played}
        return cls(campaign.name, list(campaign.layers), explanations)

    @property
    def table(self):
        from .results import pandas_module

        rows = []
        for target, e in self.explanations.items():
            for layer, label, score in e.rows:
                rows.append({"class": target, "class_name": e.target_name, "layer": layer, "label": label,
                             "score": score, "trend": e.trends.get(label, 0.0), "images": e.images.get(layer, 0)})
        columns = ["class", "class_name", "layer", "label", "score", "trend", "images"]
        return pandas_module().DataFrame(rows, columns=columns)

    def trends(self):
        """Label × class matrix of trends (slope per layer step; NaN where a class lacks the label)."""
        table = self.table
        return table.drop_duplicates(["class_name", "label"]).pivot(index="label", columns="class_name", values="trend")

    def plot(self, k: int = 3):
        """One panel per class: the k labels rising most (solid) and falling most (dashed)."""
        import matplotlib.pyplot as plt

        count = len(self.explanations)
        fig, axes = plt.subplots(1, count, figsize=(max(5.0, 0.5 * len(self.layers) + 3) * count, 4.0), squeeze=False)
        for ax, e in zip(axes[0], self.explanations.values()):
            e.plot(k=k, ax=ax)
        fig.suptitle(f"campaign {self.campaign}: labels across layers, by class")
        fig.tight_layout()
        return fig

    def __str__(self) -> str:
        return "\n\n".join(str(e) for e in self.explanations.values())
