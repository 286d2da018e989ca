"""CampaignWidget: a labelling campaign's reveal game, served round after round.

``campaign.widget(annotator="ana")`` shows the next round the campaign hands to ana: the image
only through the cluster's top 2 % of pixels, then 4.5, 8, 13, 20, 30 % as she asks for more;
she guesses the class and writes what she sees, gives up, skips, or undoes her last label. The
round itself is the widget's reveal game — the same ``game`` / ``reveal_map`` / ``reveal_step``
state and moves (:mod:`.reveal_round`) and the same view (js/reveal.ts, ``RevealGame``); the
campaign adds what is around it (js/campaign.ts): rounds handed out by the campaign, the
progress line, skip and undo. The clusters were precomputed with the campaign, so a round never
waits on t-SNE and the kernel needs no model. Every move is also a method: ``w.reveal_more()``,
``w.guess(class_, text)``, ``w.give_up(text)``, ``w.skip()``, ``w.undo()``; ``w.current`` is
the round on screen and ``w.progress`` the line "round 12 of 270 …".
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets as t

from . import _static, wire
from .reveal_round import MOVES, RevealStep, check_guess, check_move, reveal_mask, round_state

if TYPE_CHECKING:
    from ..datasets.campaign import Round

_NOT_BUILT = (
    "export default { render({ el }) { el.textContent = 'camwidget: the frontend is not built "
    "(camwidget/static/campaign.js is missing); run `npm run build` or `./dev setup`.'; } };"
)


class CampaignWidget(anywidget.AnyWidget):
    """The reveal game of one annotator in one campaign (see the module docstring)."""

    _esm = t.Unicode(_static("campaign.js", _NOT_BUILT)).tag(sync=True)
    _css = t.Unicode(_static("widget.css", "")).tag(sync=True)
    image = t.Bytes(b"").tag(sync=True)
    classes = t.List(t.Unicode(), allow_none=True, default_value=None).tag(sync=True)
    game = t.Dict().tag(sync=True)
    reveal_map = t.Bytes(b"").tag(sync=True)
    reveal_step = t.Int(0).tag(sync=True)
    progress = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, campaign: Any, annotator: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign, self.annotator = campaign, annotator
        self.current: Round | None = None
        self.annotations: list = []
        self._lock = threading.RLock()
        self._steps = RevealStep(self, self._need_round, self._publish)
        self.classes = None if campaign.class_names is None else list(campaign.class_names)  # type: ignore[assignment]  # (allow_none)
        self.on_msg(self._on_msg)
        self._show(campaign.next_round(annotator))

    # ---- moves --------------------------------------------------------------------------------
    def reveal_more(self) -> int:
        with self._lock:
            return self._steps.more()

    def guess(self, guess: int | str, text: str):
        """Guess the class and say what you see; the next round follows."""
        with self._lock:
            self._need_round()
            return self._finish(check_guess(guess), text, None)

    def give_up(self, text: str):
        with self._lock:
            self._need_round()
            return self._finish(None, text, "give-up")

    def skip(self) -> None:
        """Pass this round on (to somebody else); the next one follows."""
        with self._lock:
            self.campaign.skip(self._need_round())
            self._show(self.campaign.next_round(self.annotator), "skipped")

    def undo(self) -> None:
        """Take back the last label (or skip) and play that round again."""
        with self._lock:
            if self.current is not None:
                self.campaign.release(self.annotator)
            back = self.campaign.undo(self.annotator)
            if back is None:
                raise ValueError("undo: nothing to undo yet")
            if self.annotations and self.annotations[-1].cluster_id == back.cluster_id:
                self.annotations.pop()
            self._show(back, "undone: play this round again")

    def reveal_mask(self) -> np.ndarray:
        """The pixels shown now (as the browser draws them)."""
        self._need_round()
        return reveal_mask(self.reveal_map, self.game["shape"], self.reveal_step)

    def close(self) -> None:
        self.campaign.release(self.annotator)
        super().close()

    # ---- internals ------------------------------------------------------------------------------
    def _finish(self, guess, text, outcome):
        r = self._need_round()
        a = self.campaign.answer(r, guess=guess, text=text, reveal_step=int(self.reveal_step), outcome=outcome)
        self.annotations.append(a)
        self._show(self.campaign.next_round(self.annotator),
                   f"{a.outcome} at step {a.reveal_step} — it was {r.target_name}")
        return a

    def _show(self, r, note: str = "") -> None:
        self.current = r
        with self.hold_sync():
            self._steps.set(0)
            self.error = ""
            if r is None:
                self.game, self.reveal_map, self.image = {}, b"", b""
                p = self.campaign.progress(self.annotator)
                self.progress = p.line.replace(f"round {p.played + 1} of", f"{p.played} rounds of")
                self.status = (note + " · " if note else "") + "no round left for you: thank you!"
                return
            values = wire.to_uint8(r.map)
            self.image = np.ascontiguousarray(r.image, dtype=np.uint8).tobytes()
            self.reveal_map = values.tobytes()
            self.game = round_state(values, layer=r.layer, cluster=r.cluster_index, cluster_id=r.cluster_id,
                                    weight=r.weight, choices=r.choices, item=r.item_id)
            self.progress = r.progress.line if r.progress else ""
            self.status = (note + " · " if note else "") + f"cluster #{r.cluster_index} of {r.layer}: which class is it?"

    def _publish(self, **values: Any) -> None:
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    def _need_round(self) -> Round:
        """The round being played (a ValueError when there is none left)."""
        if self.current is None:
            raise ValueError("no round: this campaign has nothing left for you")
        return self.current

    def _on_msg(self, _widget, content: Any, _buffers) -> None:
        try:
            action, text = check_move(content, (*MOVES, "skip", "undo"))
            if action == "more":
                self.reveal_more()
            elif action == "guess":
                self.guess(content.get("guess"), text)
            elif action == "give-up":
                self.give_up(text)
            elif action == "skip":
                self.skip()
            else:
                self.undo()
        except Exception as error:  # noqa: BLE001 - every refusal is shown in the view, never only logged
            self.error = str(error)
