"""The widget's Python API onto its panels: each method hands over to the panel that owns it.

``CamWidget`` inherits these (docs/widget-protocol.md, "Actions"); what they do lives in the
panels (``faithfulness``, ``clusters``, ``reveal``), so adding a panel's API does not grow the
widget's own module.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .panel import Panel


class PanelAPI:
    """Python calls on the widget that go to one panel each."""

    panels: dict[str, Panel]

    if TYPE_CHECKING:
        def wait(self, timeout: float | None = 60) -> bool: ...  # CamWidget's

    @property
    def faithfulness(self) -> dict:
        """The metrics of the map on screen, ``{name: MetricResult}`` (waits for the computation)."""
        self.wait(60)
        return dict(self.panels["faithfulness"].results)  # type: ignore[attr-defined]

    def compare(self, methods: list[str] | None = None, metrics: list[str] | None = None) -> list[dict]:
        """Methods × metrics for the current image, target and layer, one dict per method (the panel's table)."""
        return self.panels["faithfulness"].compare(methods, metrics)  # type: ignore[attr-defined]

    def clusters(self, layer: str | None = None) -> list:
        """The INV clusters of ``layer`` (default: the current one) for the current target."""
        return self.panels["clusters"].clusters(layer)  # type: ignore[attr-defined]

    def label(self, text: str, cluster: int | None = None) -> Any:
        """Record ``text`` for ``cluster`` (an index; default: the one on screen) of the current layer."""
        return self.panels["clusters"].label(text, cluster)  # type: ignore[attr-defined]

    @property
    def store(self) -> Any:
        """Where labels and game results are recorded (``store=``, or a :class:`MemoryLabels`)."""
        return self.panels["clusters"].store  # type: ignore[attr-defined]

    def start_game(self, cluster: int | None = None, layer: str | None = None) -> dict:
        """Start a reveal round on ``cluster`` (default: the one on screen) of ``layer``."""
        return self.panels["reveal"].start_game(cluster, layer)  # type: ignore[attr-defined]

    def reveal_more(self) -> int:
        """Show the next step's share of pixels; returns the step (stays at 5)."""
        return self.panels["reveal"].reveal_more()  # type: ignore[attr-defined]

    def guess(self, guess: int | str, text: str) -> Any:
        """Guess the class (index or name) and say what you see: win or loss, recorded."""
        return self.panels["reveal"].guess(guess, text)  # type: ignore[attr-defined]

    def give_up(self, text: str) -> Any:
        """End the round without a guess; what you saw is still recorded."""
        return self.panels["reveal"].give_up(text)  # type: ignore[attr-defined]

    def reveal_mask(self, step: int | None = None) -> np.ndarray:
        """The boolean display-size mask of the pixels shown at ``step`` (default: the current one)."""
        return self.panels["reveal"].reveal_mask(step)  # type: ignore[attr-defined]

    def end_game(self) -> None:
        """Close the reveal round."""
        self.panels["reveal"].end_game()  # type: ignore[attr-defined]

    def _refresh_labels(self, layer: str | None = None, target: int | None = None) -> None:
        self.panels["clusters"].refresh_labels(layer, target)  # type: ignore[attr-defined]
