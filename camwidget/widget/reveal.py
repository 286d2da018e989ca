"""The reveal game ("Deep Reveal", INV's way of collecting labels) in the widget.

A round shows the image only through one cluster's top 2 % of pixels (its map upsampled to the
image, as ``Cluster.upsampled()``), then 4.5, 8, 13, 20, 30 % as the player asks for more (steps
0–5, ``wire.REVEAL_PERCENT``). The player guesses the class and writes what they see; a correct
guess wins, a wrong one loses, or they give up — each recorded with ``store.annotate(...,
guess=..., reveal_step=..., outcome=...)`` in the widget's store, so a team sharing one store URL
plays into one database. The map travels once per round (``reveal_map``, uint8 at display size);
the browser thresholds it per step, exactly as :func:`camwidget.widget.wire.reveal_threshold`.

The game's state lives in the kernel only: ``game``, ``reveal_step`` and ``reveal_map`` are
written by the kernel; the browser sends moves (``{"kind": "game", "action": ...}``), which run on
the action thread. Python: ``w.start_game(cluster)``, ``w.reveal_more()`` (or ``w.reveal_step =
k``), ``w.guess(class_, text)``, ``w.give_up(text)``, ``w.reveal_mask()``.
"""
from __future__ import annotations

import threading
from typing import Any, cast

import numpy as np
import traitlets as t

from ..engine import targets as _targets
from ..labels.store import Annotation
from . import wire
from .clusters import Clusters, check_cluster_index
from .panel import Panel
from .reveal_round import STEPS, RevealStep, check_guess, check_move, check_step, reveal_mask, round_state

__all__ = ["STEPS", "RevealGame", "check_step"]


class RevealGame(Panel):
    """One reveal round at a time (js/reveal.ts)."""

    name = "reveal"
    traits = {
        "game": t.Dict().tag(sync=True),
        "reveal_step": t.Int(0).tag(sync=True),
        "reveal_map": t.Bytes(b"").tag(sync=True),
    }
    actions = {"game": "on_game"}

    def __init__(self, widget: Any, **options: Any) -> None:
        super().__init__(widget)
        self._lock = threading.RLock()  # moves come from cells and from the action thread
        self._step: RevealStep | None = None

    def start(self) -> None:
        self._step = RevealStep(self.widget, self._need_round, self.widget.publish)

    @property
    def _clusters(self) -> Clusters:
        return cast(Clusters, self.widget.panels["clusters"])

    # ---- Python API ------------------------------------------------------------------------------
    def start_game(self, cluster: int | None = None, layer: str | None = None) -> dict:
        """Start a round on ``cluster`` (an index; default: the one on screen) of ``layer``."""
        w = self.widget
        with self._lock:
            layer = layer or w.selection.layer
            if _targets.class_index(w.selection.target) is None:
                raise ValueError(f"game: the target on screen ({w.session.class_name(w.selection.target)}) scores no "
                                 "class, so there is no class to guess; pick a class to play")
            chosen = self._clusters.cluster(layer, check_cluster_index(cluster))
            values = wire.to_uint8(chosen.upsampled(tuple(w.image_shape)))
            top = sorted({name for _, name, _ in w.session.top(5)})  # alphabetical: the order gives nothing away
            self._steps.set(0)
            game = round_state(values, layer=layer, cluster=chosen.index, cluster_id=chosen.id,
                               weight=chosen.weight, choices=top)
            w.publish(reveal_map=values.tobytes(), game=game, error="",
                      status=f"reveal game: cluster #{chosen.index} of {layer} — which class is it?")
            return dict(game)

    def reveal_more(self) -> int:
        """Show the next step's share of pixels; returns the step (stays at 5)."""
        with self._lock:
            return self._steps.more()

    def guess(self, guess: int | str, text: str) -> Annotation:
        """Guess the class (index or name) and say what you see: win or loss, recorded."""
        with self._lock:
            self._need_round()
            return self._end_round(text, guess=check_guess(guess))

    def give_up(self, text: str) -> Annotation:
        """End the round without a guess; what you saw is still recorded (outcome ``give-up``)."""
        with self._lock:
            self._need_round()
            return self._end_round(text, guess=None, outcome="give-up")

    def reveal_mask(self, step: int | None = None) -> np.ndarray:
        """The boolean display-size mask of the pixels shown at ``step`` (default: the current one)."""
        self._need_round(finished_ok=True)
        w = self.widget
        return reveal_mask(w.reveal_map, w.game["shape"], w.reveal_step if step is None else step)

    def end_game(self) -> None:
        """Close the round (the view goes back to the explanation)."""
        with self._lock:
            self.widget.publish(game={}, reveal_map=b"")

    # ---- browser ---------------------------------------------------------------------------------
    def on_game(self, message: dict[str, Any]) -> None:
        """``{"kind": "game", "action": "start" | "more" | "guess" | "give-up" | "end", ...}``."""
        if message.get("action") == "start":
            self.start_game(check_cluster_index(message.get("cluster")))
            return
        action, text = check_move(message, ("start", "more", "guess", "give-up", "end"))
        if action == "more":
            self.reveal_more()
        elif action == "give-up":
            self.give_up(text)
        elif action == "guess":
            self.guess(check_guess(message.get("guess")), text)
        else:
            self.end_game()

    # ---- internals ---------------------------------------------------------------------------------
    @property
    def _steps(self) -> RevealStep:
        if self._step is None:  # start() runs once the widget is set up; a panel made by hand may not have
            self.start()
        return self._step  # type: ignore[return-value]

    def _need_round(self, finished_ok: bool = False) -> None:
        g = self.widget.game
        if not g.get("active"):
            raise ValueError("no reveal round is running; start one (choose a cluster, then “Play”)")
        if g.get("outcome") and not finished_ok:
            raise ValueError(f"this round is over ({g['outcome']}); start a new one")

    def _end_round(self, text: str, guess: Any, outcome: str | None = None) -> Annotation:
        w = self.widget
        g = w.game
        layer = g["layer"]
        clusters = self._clusters
        chosen = clusters.cluster(layer, g["cluster"])
        a = clusters.store.annotate(w.session, layer=layer, cluster=chosen, text=text, target=chosen.target,
                                    guess=guess, reveal_step=int(w.reveal_step), outcome=outcome,
                                    annotator=w.annotator or None, layer_depth=clusters.depth(layer))
        index = _targets.class_index(chosen.target)
        answer = w.session.class_name(index if index is not None else chosen.target)  # the class, not "cow in box …"
        w.publish(game={**g, "outcome": a.outcome, "answer": answer, "guess": a.guess_name or a.guess}, error="",
                  status=f"reveal game: {a.outcome} at step {a.reveal_step} — it was {answer}")
        clusters.refresh_labels(layer, chosen.target)
        return a
