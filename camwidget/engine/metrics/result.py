"""What a faithfulness metric returns: the number, the curve behind it, the parameters used."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Curve:
    """A metric's curve: ``x`` (fractions, percentiles, stages) against ``y`` (scores)."""

    x: np.ndarray
    y: np.ndarray
    x_label: str
    y_label: str

    def as_lists(self) -> dict[str, Any]:
        """Plain lists (for JSON, the widget, a DataFrame)."""
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y],
                "x_label": self.x_label, "y_label": self.y_label}


@dataclass(frozen=True)
class MetricResult:
    """One metric of one explanation.

    ``value`` is the number (an AUC, a percentage, a correlation, a hit), ``curve`` the scores it
    summarises (None for single-pass metrics), ``params`` every parameter that produced it (the
    defaults filled in), ``details`` the extra numbers (the unperturbed probability, ...).
    ``higher_is_better`` says which way the number points.
    """

    metric: str
    value: float
    curve: Curve | None
    params: dict[str, Any]
    higher_is_better: bool
    details: dict[str, Any] = field(default_factory=dict)

    def plot(self, ax=None, **style: Any):
        """The curve with matplotlib (``ax`` or a new one); returns the Axes."""
        import matplotlib.pyplot as plt

        if self.curve is None:
            raise ValueError(f"metric: {self.metric!r} has no curve to plot (its value is {self.value:.4g})")
        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        ax.plot(self.curve.x, self.curve.y, label=f"{self.metric} {self.value:.3f}", **style)
        ax.set_xlabel(self.curve.x_label)
        ax.set_ylabel(self.curve.y_label)
        ax.legend(fontsize=8)
        return ax

    def __repr__(self) -> str:
        arrow = "↑" if self.higher_is_better else "↓"
        points = f", curve of {len(self.curve.x)}" if self.curve is not None else ""
        return f"MetricResult({self.metric} = {self.value:.4f} {arrow}{points})"
