"""CampaignWidget: a labelling campaign's reveal game, served round after round.

``campaign.widget(annotator="ana")`` shows the next round the campaign hands to ana: the image
only through the cluster's top 2 % of pixels, then 4.5, 8, 13, 20, 30 % as she asks for more
(the reveal game's steps, thresholded in the browser exactly as
:func:`camwidget.widget.wire.reveal_threshold`); she guesses the class and writes what she sees,
gives up, skips, or undoes her last label. The clusters were precomputed with the campaign, so a
round never waits on t-SNE and the kernel needs no model. Every move is also a method:
``w.reveal_more()``, ``w.guess(class_, text)``, ``w.give_up(text)``, ``w.skip()``, ``w.undo()``;
``w.round`` is the round on screen and ``w.progress`` the line "round 12 of 270 …".
"""
from __future__ import annotations

import threading
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from . import wire

_ESM = r"""
function threshold(values, percent) {
  const counts = new Array(256).fill(0);
  for (const v of values) counts[v] += 1;
  const want = Math.max(1, Math.ceil(values.length * percent / 100));
  let seen = 0;
  for (let level = 255; level >= 0; level--) { seen += counts[level]; if (seen >= want) return level; }
  return 0;
}
function bytes(view) { return new Uint8Array(view.buffer, view.byteOffset, view.byteLength); }
export default {
  render({ model, el }) {
    el.innerHTML = `<div style="font:13px sans-serif;display:flex;gap:12px">
      <canvas></canvas><div style="display:flex;flex-direction:column;gap:6px;min-width:220px">
      <b class="progress"></b><span class="status"></span><span class="error" style="color:#b00"></span>
      <button class="more">Reveal more</button><select class="choices"></select>
      <input class="text" placeholder="what do you see?"/>
      <button class="guess">Guess</button><button class="giveup">Give up</button>
      <button class="skip">Skip</button><button class="undo">Undo last</button></div></div>`;
    const q = (s) => el.querySelector(s);
    const canvas = q("canvas");
    const draw = () => {
      const [h, w] = model.get("image_shape");
      const r = model.get("round") || {};
      q(".progress").textContent = model.get("progress");
      q(".status").textContent = model.get("status");
      q(".error").textContent = model.get("error");
      const select = q(".choices");
      select.innerHTML = "";
      for (const c of model.get("choices")) { const o = document.createElement("option"); o.value = o.textContent = c; select.appendChild(o); }
      if (!h || !w) return;
      canvas.width = w; canvas.height = h;
      const rgb = bytes(model.get("image")), map = bytes(model.get("reveal_map"));
      const percent = model.get("percent")[model.get("reveal_step")];
      const level = map.length ? threshold(map, percent) : 256;
      const out = new ImageData(w, h);
      for (let i = 0; i < w * h; i++) {
        const shown = r.outcome || map[i] >= level;
        out.data[4 * i] = shown ? rgb[3 * i] : 40; out.data[4 * i + 1] = shown ? rgb[3 * i + 1] : 40;
        out.data[4 * i + 2] = shown ? rgb[3 * i + 2] : 40; out.data[4 * i + 3] = 255;
      }
      canvas.getContext("2d").putImageData(out, 0, 0);
    };
    const send = (action, extra = {}) => model.send({ action, ...extra });
    q(".more").onclick = () => send("more");
    q(".guess").onclick = () => send("guess", { guess: q(".choices").value, text: q(".text").value });
    q(".giveup").onclick = () => send("give-up", { text: q(".text").value });
    q(".skip").onclick = () => send("skip");
    q(".undo").onclick = () => send("undo");
    for (const name of ["image", "reveal_map", "reveal_step", "round", "progress", "status", "error", "choices"])
      model.on(`change:${name}`, draw);
    draw();
  },
};
"""


class CampaignWidget(anywidget.AnyWidget):
    """The reveal game of one annotator in one campaign (see the module docstring)."""

    _esm = t.Unicode(_ESM).tag(sync=True)
    image = t.Bytes(b"").tag(sync=True)
    image_shape = t.List(t.Int(), default_value=[0, 0]).tag(sync=True)
    reveal_map = t.Bytes(b"").tag(sync=True)
    reveal_step = t.Int(0).tag(sync=True)
    percent = t.List(t.Float(), default_value=list(wire.REVEAL_PERCENT)).tag(sync=True)
    choices = t.List(t.Unicode()).tag(sync=True)
    round = t.Dict().tag(sync=True)
    progress = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, campaign: Any, annotator: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign, self.annotator = campaign, annotator
        self.current = None
        self.annotations: list = []
        self._lock = threading.RLock()
        self._kernel_step = False
        self.observe(self._on_step, names=["reveal_step"])
        self.on_msg(self._on_msg)
        self._show(campaign.next_round(annotator))

    # ---- moves --------------------------------------------------------------------------------
    def reveal_more(self) -> int:
        with self._lock:
            self._need_round()
            self._set_step(min(self.reveal_step + 1, len(wire.REVEAL_PERCENT) - 1))
            return self.reveal_step

    def guess(self, guess: int | str, text: str):
        """Guess the class and say what you see; the next round follows."""
        with self._lock:
            self._need_round()
            if guess is None or (isinstance(guess, str) and not guess.strip()):
                raise ValueError("guess: pick a class (or give up)")
            return self._finish(guess, text, None)

    def give_up(self, text: str):
        with self._lock:
            self._need_round()
            return self._finish(None, text, "give-up")

    def skip(self) -> None:
        """Pass this round on (to somebody else); the next one follows."""
        with self._lock:
            self._need_round()
            self.campaign.skip(self.current)
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
        return self.current.reveal_mask(self.reveal_step)

    def close(self) -> None:
        self.campaign.release(self.annotator)
        super().close()

    # ---- internals ------------------------------------------------------------------------------
    def _finish(self, guess, text, outcome):
        r = self.current
        a = self.campaign.answer(r, guess=guess, text=text, reveal_step=int(self.reveal_step), outcome=outcome)
        self.annotations.append(a)
        self._show(self.campaign.next_round(self.annotator),
                   f"{a.outcome} at step {a.reveal_step} — it was {r.target_name}")
        return a

    def _show(self, r, note: str = "") -> None:
        self.current = r
        with self.hold_sync():
            self._set_step(0)
            self.error = ""
            if r is None:
                self.round, self.reveal_map, self.image, self.image_shape = {}, b"", b"", [0, 0]
                p = self.campaign.progress(self.annotator)
                self.progress = p.line.replace(f"round {p.played + 1} of", f"{p.played} rounds of")
                self.status = (note + " · " if note else "") + "no round left for you: thank you!"
                return
            self.image = np.ascontiguousarray(r.image, dtype=np.uint8).tobytes()
            self.image_shape = list(r.image.shape[:2])
            self.reveal_map = wire.to_uint8(r.map).tobytes()
            self.choices = list(r.choices)
            self.round = {"active": True, "item": r.item_id, "layer": r.layer, "cluster": r.cluster_index,
                          "weight": round(r.weight, 3), "outcome": None}
            self.progress = r.progress.line if r.progress else ""
            self.status = (note + " · " if note else "") + f"cluster #{r.cluster_index} of {r.layer}: which class is it?"

    def _need_round(self) -> None:
        if self.current is None:
            raise ValueError("no round: this campaign has nothing left for you")

    def _set_step(self, step: int) -> None:
        self._kernel_step = True
        try:
            self.reveal_step = step
        finally:
            self._kernel_step = False

    def _on_step(self, change: dict) -> None:
        if self._kernel_step:
            return
        if self.current is None or not 0 <= int(change["new"]) < len(wire.REVEAL_PERCENT):
            self._set_step(change["old"])
            self.error = f"reveal_step: expected 0 … {len(wire.REVEAL_PERCENT) - 1} during a round"

    def _on_msg(self, _widget, content: Any, _buffers) -> None:
        try:
            if not isinstance(content, dict):
                raise TypeError("message: expected an object with an 'action'")
            action = content.get("action")
            text = content.get("text", "")
            if action in ("guess", "give-up") and not isinstance(text, str):
                raise TypeError(f"text: expected what you see (a string), got {text!r}")
            if action == "more":
                self.reveal_more()
            elif action == "guess":
                self.guess(content.get("guess"), text)
            elif action == "give-up":
                self.give_up(text)
            elif action == "skip":
                self.skip()
            elif action == "undo":
                self.undo()
            else:
                raise ValueError(f"action: {action!r} is not a move; valid: more, guess, give-up, skip, undo")
        except Exception as error:  # noqa: BLE001 - every refusal is shown in the view, never only logged
            self.error = str(error)
