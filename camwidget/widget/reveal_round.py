"""One round of the reveal game, the part every game shares: the ``game`` state the browser draws
(js/reveal.ts, ``RevealGame``), the moves it sends, and the ``reveal_step`` trait.

Two games use it: the widget's reveal panel (:mod:`.reveal`, rounds on the clusters of the image
on screen) and a labelling campaign's widget (:mod:`.campaign`, rounds handed out by the
campaign). They differ only in where a round comes from and where its label goes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import wire

STEPS = len(wire.REVEAL_PERCENT)
#: The moves of a round (a game may add its own, such as a campaign's skip and undo).
MOVES = ("more", "guess", "give-up")


def check_step(step: Any) -> int:
    """A reveal step 0 … 5, or a ValueError naming ``reveal_step``."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= int(step) < STEPS:
        raise ValueError(f"reveal_step: expected 0 … {STEPS - 1}, got {step!r}")
    return int(step)


def round_state(values: np.ndarray, *, layer: str, cluster: int, cluster_id: str, weight: float,
                choices: list[str], **extra: Any) -> dict[str, Any]:
    """The ``game`` trait of a new round whose map, as sent, is ``values`` (uint8, display size)."""
    return {"active": True, "layer": layer, "cluster": int(cluster), "cluster_id": cluster_id,
            "weight": round(float(weight), 3), "shape": list(values.shape), "percent": list(wire.REVEAL_PERCENT),
            "choices": list(choices), "outcome": None, "answer": None, **extra}


def check_guess(guess: Any) -> int | str:
    """A guess as the label store takes it: a class index, or a name (digits become an index)."""
    if guess is None or (isinstance(guess, str) and not guess.strip()):
        raise ValueError("guess: pick a class (or give up)")
    if isinstance(guess, str) and guess.strip().isdigit():
        return int(guess.strip())
    if not isinstance(guess, str) and not _is_index(guess):
        raise TypeError(f"guess: expected a class name or index, got {guess!r}")
    return guess


def check_move(message: Any, moves: tuple[str, ...] = MOVES) -> tuple[str, str]:
    """``(action, text)`` of a browser message ``{"action": ..., "text": ...}``; ``text`` is
    checked for the moves that record one."""
    if not isinstance(message, dict):
        raise TypeError("message: expected an object with an 'action'")
    action = message.get("action")
    if action not in moves:
        raise ValueError(f"action: {action!r} is not a reveal game move; valid: {', '.join(moves)}")
    text = message.get("text", "")
    if action in ("guess", "give-up") and not isinstance(text, str):
        raise TypeError(f"text: expected what you see (a string), got {text!r}")
    return action, text


def reveal_mask(reveal_map: bytes, shape: list[int], step: int) -> np.ndarray:
    """The boolean display-size mask of the pixels shown at ``step``, as the browser draws it."""
    h, w = shape
    values = np.frombuffer(reveal_map, dtype=np.uint8).reshape(h, w)
    return values >= wire.reveal_threshold(values, wire.REVEAL_PERCENT[check_step(step)])


class RevealStep:
    """The ``reveal_step`` trait of a game: the kernel sets it (:meth:`set`, unchecked); a write
    from a cell or the browser is allowed only while ``playing()`` passes and within 0 … 5, else
    it is put back and the refusal shown with ``publish(error=...)``."""

    def __init__(self, widget: Any, playing: Callable[[], object], publish: Callable[..., None]) -> None:
        self.widget, self.playing, self.publish = widget, playing, publish
        self._quiet = False
        widget.observe(self._changed, names=["reveal_step"])

    def set(self, step: int) -> None:
        self._quiet = True
        try:
            self.publish(reveal_step=step)
        finally:
            self._quiet = False

    def more(self) -> int:
        """The next step (stays at the last); returns it."""
        self.playing()
        self.set(min(int(self.widget.reveal_step) + 1, STEPS - 1))
        return int(self.widget.reveal_step)

    def _changed(self, change: dict) -> None:
        if self._quiet:
            return
        try:
            self.playing()
            check_step(change["new"])
        except (ValueError, TypeError) as exc:
            self.set(change["old"])
            self.publish(error=str(exc))


def _is_index(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
