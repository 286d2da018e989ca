"""The reveal game ("Deep Reveal", INV's way of collecting labels) in the widget.

A round shows the image only through one cluster's top 2 % of pixels (its map upsampled to the
image, as ``Cluster.upsampled()``), then 4.5, 8, 13, 20, 30 % as the player asks for more (steps
0–5, ``_wire.REVEAL_PERCENT``). The player guesses the class and writes what they see; a correct
guess wins, a wrong one loses, or they give up — each recorded with ``store.annotate(...,
guess=..., reveal_step=..., outcome=...)`` in the widget's store, so a team sharing one store URL
plays into one database. The map travels once per round (``reveal_map``, uint8 at display size);
the browser thresholds it per step, exactly as :func:`camwidget._wire.reveal_threshold` does.

Python: ``w.start_game(cluster)``, ``w.reveal_more()`` (or ``w.reveal_step = k``),
``w.guess(class_, text)``, ``w.give_up(text)``, ``w.reveal_mask()``; ``w.game`` is the round's
state and ``w.annotations`` what was recorded.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from . import _wire
from .labels.store import Annotation

STEPS = len(_wire.REVEAL_PERCENT)


class RevealGame(t.HasTraits):
    """Mixin for :class:`~camwidget.widget.CamWidget`: one reveal round at a time."""

    game = t.Dict().tag(sync=True)
    reveal_step = t.Int(0).tag(sync=True)
    reveal_map = t.Bytes(b"").tag(sync=True)

    # ---- public -----------------------------------------------------------------------------
    def start_game(self, cluster: int | None = None, layer: str | None = None) -> dict:
        """Start a round on ``cluster`` (an index; default: the one on screen) of ``layer``."""
        layer = layer or self.layer
        chosen = self._cluster(layer, cluster)
        values = _wire.to_uint8(chosen.upsampled(tuple(self.image_shape)))
        top = sorted({name for _, name, _ in self.session.top(5)})  # alphabetical: the order gives nothing away
        with self._batch():
            self.reveal_map = values.tobytes()
            self._game_quiet = True
            try:
                self.reveal_step = 0
            finally:
                self._game_quiet = False
            self.game = {
                "active": True,
                "layer": layer,
                "cluster": chosen.index,
                "cluster_id": chosen.id,
                "weight": round(float(chosen.weight), 3),
                "target": int(chosen.target),
                "shape": list(values.shape),
                "percent": list(_wire.REVEAL_PERCENT),
                "choices": top,
                "outcome": None,
                "answer": None,
            }
            self.error = ""
            self.status = f"reveal game: cluster #{chosen.index} of {layer} — which class is it?"
        return dict(self.game)

    def reveal_more(self) -> int:
        """Show the next step's share of pixels; returns the step (stays at 5)."""
        self._need_round()
        self.reveal_step = min(self.reveal_step + 1, STEPS - 1)
        return self.reveal_step

    def guess(self, guess: int | str, text: str) -> Annotation:
        """Guess the class (index or name) and say what you see: win or loss, recorded."""
        self._need_round()
        if guess is None or (isinstance(guess, str) and not guess.strip()):
            raise ValueError("guess: pick a class (or give up)")
        if isinstance(guess, str) and guess.strip().isdigit():
            guess = int(guess.strip())
        return self._end_round(text, guess=guess)

    def give_up(self, text: str) -> Annotation:
        """End the round without a guess; what you saw is still recorded (outcome ``give-up``)."""
        self._need_round()
        return self._end_round(text, guess=None, outcome="give-up")

    def reveal_mask(self, step: int | None = None) -> np.ndarray:
        """The boolean display-size mask of the pixels shown at ``step`` (default: the current one)."""
        self._need_round(finished_ok=True)
        step = self.reveal_step if step is None else _check_step(step)
        h, w = self.game["shape"]
        values = np.frombuffer(self.reveal_map, dtype=np.uint8).reshape(h, w)
        return values >= _wire.reveal_threshold(values, _wire.REVEAL_PERCENT[step])

    def end_game(self) -> None:
        """Close the round (the view goes back to the explanation)."""
        with self._batch():
            self.game = {}
            self.reveal_map = b""

    # ---- internals ----------------------------------------------------------------------------
    def _start_game_state(self) -> None:
        self._game_quiet = False
        self.observe(self._on_reveal_step, names=["reveal_step"])

    def _need_round(self, finished_ok: bool = False) -> None:
        if not self.game.get("active"):
            raise ValueError("no reveal round is running; start one (choose a cluster, then “Play”)")
        if self.game.get("outcome") and not finished_ok:
            raise ValueError(f"this round is over ({self.game['outcome']}); start a new one")

    def _end_round(self, text: str, guess: Any, outcome: str | None = None) -> Annotation:
        g = self.game
        layer = g["layer"]
        chosen = self._cluster(layer, g["cluster"])
        a = self.store.annotate(self.session, layer=layer, cluster=chosen, text=text, target=chosen.target,
                                guess=guess, reveal_step=int(self.reveal_step), outcome=outcome,
                                annotator=self.annotator or None, layer_depth=self._depth(layer))
        answer = self.session.class_name(chosen.target)
        with self._batch():
            self.game = {**g, "outcome": a.outcome, "answer": answer, "guess": a.guess_name or a.guess}
            self.error = ""
            self.status = f"reveal game: {a.outcome} at step {a.reveal_step} — it was {answer}"
        self._refresh_labels(layer, chosen.target)
        return a

    def _game_action(self, content: dict) -> None:
        action = content.get("action")
        if action == "start":
            self.start_game(content.get("cluster"))
        elif action == "more":
            self.reveal_more()
        elif action == "guess":
            self.guess(content.get("guess"), content.get("text"))
        elif action == "give-up":
            self.give_up(content.get("text"))
        elif action == "end":
            self.end_game()
        else:
            raise ValueError(f"reveal game: unknown action {action!r}")

    def _on_reveal_step(self, change: dict) -> None:
        if self._game_quiet:
            return
        try:
            self._need_round()
            _check_step(change["new"])
        except (ValueError, TypeError) as exc:
            self._game_quiet = True
            try:
                self.reveal_step = change["old"]
            finally:
                self._game_quiet = False
            self.error = str(exc)


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= int(step) < STEPS:
        raise ValueError(f"reveal_step: expected 0 … {STEPS - 1}, got {step!r}")
    return int(step)
