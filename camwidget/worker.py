"""The widget's worker: one thread per widget that always computes the newest selection.

Observers in :mod:`camwidget.widget` only validate and mark the state dirty (``_submit``); the
thread takes the newest state, asks the session for the explanation (reporting progress and
cancelled between batches when a newer state arrives), keeps the last ``RECENT`` explanations for
instant revisits, and sends the answer and, once the selection is still, the feature-map atlas.
See docs/widget-protocol.md, "Latest wins".
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from . import _wire
from .engine import Explanation, Session
from .engine import methods as _methods
from .engine import progress as _progress

log = logging.getLogger("camwidget.widget")

#: How long a computation runs before the widget shows that it is working.
BUSY_AFTER_S = 0.2
#: The feature-map thumbnails follow once the selection has been still this long (a drag
#: along the layer strip gets its maps first and the thumbnails when it stops).
ATLAS_AFTER_S = 0.15
#: Recent explanations kept for instant revisits (dragging back and forth along the strip).
RECENT = 32
#: Progress (and partial maps) are sent at most this often.
PROGRESS_EVERY_S = 0.2


class LatestWins:
    """Mixin for :class:`~camwidget.widget.CamWidget`: the worker thread and its cache.

    The host provides the synced traits (``heatmap``, ``status``, …), ``session``, ``_batch()``
    and the selection traits read by ``_state()``.
    """

    def _start_worker(self) -> None:
        self._session_lock = threading.RLock()
        self._cond = threading.Condition()
        self._dirty = False
        self._computing = False
        self._closed = False
        self._error_request = -1
        self._explanation: Explanation | None = None
        self._shown_key: str | None = None
        self._atlas_key: str | None = None
        self._last_progress = 0.0
        self._recent: OrderedDict[str, Explanation] = OrderedDict()
        # The last selection the method refused with a ValueError (k larger than the number of
        # segments, …) and that error: asking again (a request bump) re-reports it, no recompute.
        self._failed: tuple[str, ValueError] | None = None

    def _launch(self) -> None:
        self._worker = threading.Thread(target=self._run, name="camwidget-worker", daemon=True)
        self._worker.start()
        self._submit()

    def _submit(self) -> None:
        with self._cond:
            self._submitted = time.perf_counter()
            self._dirty = True
            self._cond.notify_all()

    def _superseded(self) -> bool:
        return self._dirty or self._closed

    def _state(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "method": self.method,
            "target": self.target,
            "channels": None if self.channels is None else list(self.channels),
            "region": None if self.region is None else list(self.region),
            "params": dict(self.params),
            "request": int(self.request),
            "submitted": getattr(self, "_submitted", time.perf_counter()),
        }

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._dirty or self._closed)
                if self._closed:
                    return
                self._dirty = False
                self._computing = True
                state = self._state()
                self._current = state
            try:
                self._answer(state)
                if not self._superseded():
                    self._after_answer(state)
                if not self._superseded():
                    with self._cond:
                        self._cond.wait_for(self._superseded, ATLAS_AFTER_S)
                    if not self._superseded():
                        self._send_atlas(state)
            except _progress.Cancelled:
                pass
            except ValueError as exc:  # a parameter the method refused: the user's to fix
                self._failed = (_key(state), exc)
                if not self._superseded():
                    log.info("camwidget: %s refused its parameters: %s", state["method"], exc)
                    self._publish_error(state, exc)
            except Exception as exc:  # a failing method must not take the widget down
                if not self._superseded():
                    log.warning("camwidget: %s failed", state["method"], exc_info=True)
                    self._publish_error(state, exc)
            finally:
                with self._cond:
                    self._computing = False
                    self._cond.notify_all()

    def _after_answer(self, state: dict[str, Any]) -> None:
        """Hook run on the worker after each answer (the clusters view sends its thumbnails)."""

    def _answer(self, state: dict[str, Any]) -> None:
        key = _key(state)
        if key == self._shown_key:
            self._finish(state)
            return
        if self._failed is not None and self._failed[0] == key:
            raise self._failed[1]  # the same selection, refused a moment ago: not computed again
        label = _label(state["method"])
        e = self._recent.get(key)
        started = time.perf_counter()
        if e is not None:
            self._recent.move_to_end(key)
        else:
            timer = threading.Timer(BUSY_AFTER_S, self._show_busy, args=(label,))
            timer.daemon = True
            timer.start()
            try:
                with self._session_lock, _progress.reporting(self._on_progress, cancelled=self._superseded):
                    e = self.session.explain(
                        state["method"],
                        layer=state["layer"],
                        target=state["target"],
                        channels=state["channels"],
                        region=None if state["region"] is None else tuple(state["region"]),
                        **state["params"],
                    )
            finally:
                timer.cancel()
            if e.map.nbytes <= 1 << 20:  # image-sized maps of segment methods are not kept
                self._recent[key] = e
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        display = self.image_shape
        heatmap, shape = _wire.pack_map(e.map, display)
        mask, mask_shape = _wire.pack_mask(e.mask, e.segments, display)
        self._explanation = e
        self._shown_key = key
        with self._batch():
            self.heatmap = heatmap
            self.mask = mask
            self.heatmap_meta = {
                "shape": shape,
                "mask_shape": mask_shape,
                "request": state["request"],
                "layer": e.layer,
                "method": e.method,
                "target": e.target,
                "target_name": e.class_name,
                "blank": bool(e.blank),
                "min": float(e.map.min()), "max": float(e.map.max()),  # the raw range, for the colour bar
                "compute_ms": round((time.perf_counter() - started) * 1000, 2),
                # From the browser's message reaching the kernel to this answer leaving it.
                "kernel_ms": round((time.perf_counter() - state["submitted"]) * 1000, 2),
            }
            self.status = _describe(e, label, self.session)
            self._finish(state)

    def _finish(self, state: dict[str, Any]) -> None:
        with self._batch():
            if state["request"] > self._error_request:
                self.error = ""
            self.busy = False
            self.progress = -1.0
            self.answered = state["request"]

    def _send_atlas(self, state: dict[str, Any]) -> None:
        key = _as_json([state["layer"], state["method"], state["target"], state["params"]])
        if key == self._atlas_key:
            return
        e = self._explanation
        with self._session_lock:
            # a channel subset leaves the weights as they are; a region changes them
            if e is None or e.region is not None:
                e = self.session.explain(state["method"], layer=state["layer"], target=state["target"], **state["params"])
            acts = self.session.activations(state["layer"])
        data, meta = _wire.pack_atlas(acts, e.weights)
        meta["layer"] = state["layer"]
        if self._superseded():
            return  # the user moved on while they were packed: do not send stale thumbnails
        with self._batch():
            self.channels_atlas = data
            self.atlas_meta = meta
        self._atlas_key = key

    def _publish_error(self, state: dict[str, Any], exc: Exception) -> None:
        # A value refused by the observers in this same request already says what is wrong.
        refused_now = state["request"] == self._error_request and bool(self.error)
        self._error_request = state["request"]
        with self._batch():
            if not refused_now:
                self.error = f"{_label(state['method'])} failed: {exc}"
            self.busy = False
            self.progress = -1.0
            self.answered = state["request"]

    def _show_busy(self, label: str) -> None:
        if self._computing and not self._closed:
            with self._batch():
                self.busy = True
                self.status = f"computing {label}…"

    def _on_progress(self, done: int, total: int, partial: Any = None) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S and done < total:
            return
        self._last_progress = now
        state = getattr(self, "_current", None)
        shown = self._paint_partial(state, partial, done, total) if state is not None else False
        with self._batch():
            self.busy = True
            self.progress = float(done) / float(total) if total else -1.0
            self.status = f"computing {_label(self.method)}… {done}/{total}" + (" (refining)" if shown else "")

    def _paint_partial(self, state: dict[str, Any], partial: Any, done: int, total: int) -> bool:
        """Send a method's partial result (Smooth Grad-CAM++ after each batch) as the heatmap."""
        values = getattr(partial, "map", None)
        if values is None or done >= total or self._superseded():
            return False
        if hasattr(values, "detach"):
            values = values.detach().float().cpu().numpy()
        heatmap, shape = _wire.pack_map(np.asarray(values, dtype=np.float32), self.image_shape)
        with self._batch():
            self.heatmap = heatmap
            self.mask = b""
            self.heatmap_meta = {
                "shape": shape,
                "mask_shape": [],
                "request": state["request"],
                "layer": state["layer"],
                "method": state["method"],
                "target": state["target"],
                "blank": False,
                "partial": True,
                "done": int(done),
                "total": int(total),
            }
        self._shown_key = None  # what is on screen is not a finished answer
        return True


def _label(method: str) -> str:
    try:
        return _methods.get(method).label
    except ValueError:
        return method


def _describe(e: Explanation, label: str, session: Session) -> str:
    info = session.layer_info(e.layer) if e.layer else None
    parts = [label]
    if info is not None:
        parts.append(f"{info.name} {'×'.join(map(str, info.shape))}")
    parts.append(f"{e.class_name} (#{e.target})")
    if e.channels is not None and info is not None:
        parts.append(f"{len(e.channels)} of {info.shape[0]} feature maps")
    if e.region is not None:
        r0, c0, r1, c1 = e.region
        parts.append(f"region rows {r0}–{r1 - 1}, cols {c0}–{c1 - 1}")
    if e.blank:
        parts.append("blank map (nothing positive)")
    return " · ".join(parts)


def _key(state: dict[str, Any]) -> str:
    """What identifies an answer: the selection without its request id and timing."""
    return _as_json({k: v for k, v in state.items() if k not in ("request", "submitted")})


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
