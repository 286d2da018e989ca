"""The widget's worker: one thread per widget that always computes the newest selection.

It knows no traits. The widget hands it validated :class:`~camwidget.widget.selection.Selection`
values (:meth:`Worker.submit`); the thread takes the newest, asks the session for the explanation
(progress reported and cancelled between batches when a newer one arrives), keeps the last
``RECENT`` explanations for instant revisits, and publishes what happened to its subscribers (the
panels): ``on_busy``, ``on_progress``, ``on_answer`` and ``on_error``, all on the worker thread.
A subscriber's ``on_answer`` may do more session work through the :class:`Job` it is given
(cancellable, cached, under the one session lock).

The thread holds the worker, the worker holds the session and only weak references to its
subscribers, so a widget dropped without ``close()`` is freed and its thread ends; at interpreter
exit every live worker is stopped and joined, so a script that exits mid-computation exits cleanly.
See docs/widget-protocol.md, "Latest wins".
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

from ..engine import Explanation, Session
from ..engine import gradients as _gradients
from ..engine import methods as _methods
from ..engine import progress as _progress
from ..engine.filmstrip import CACHED_METHODS
from .selection import Selection

log = logging.getLogger("camwidget.widget")

#: How long a computation runs before the widget shows that it is working.
BUSY_AFTER_S = 0.2
#: Recent explanations kept for instant revisits (dragging back and forth along the strip).
RECENT = 32
#: Progress (and partial maps) are published at most this often.
PROGRESS_EVERY_S = 0.2
#: Explanations larger than this (image-sized maps of segment methods) are not kept.
KEEP_AT_MOST_BYTES = 1 << 20
#: After an answer of a method that is arithmetic on the cache (``CACHED_METHODS``), the maps of
#: this many layers on either side of it are made in the idle time — the direction of the last
#: step first — so that a step along the strip is answered from the recent cache (0: off).
NEIGHBOURS = 1


@dataclass(frozen=True)
class Request:
    """One selection to answer: the selection, the view's request id, when it reached the kernel."""

    selection: Selection
    id: int
    submitted: float


@dataclass(frozen=True)
class Answer:
    """The explanation of a request; ``repeat`` when it is the one already on screen."""

    request: Request
    explanation: Explanation
    compute_ms: float
    repeat: bool = False


class Subscriber(Protocol):
    """What the worker publishes to (every method runs on the worker thread)."""

    def on_busy(self, request: Request) -> None: ...
    def on_progress(self, request: Request, done: int, total: int, partial: Any) -> None: ...
    def on_answer(self, answer: Answer, job: Job) -> None: ...
    def on_error(self, request: Request, exc: Exception) -> None: ...


class Job:
    """What a subscriber may do from ``on_answer``: check for a newer request, wait until the
    selection is still, and explain more (through the worker's cache and lock, cancellable)."""

    def __init__(self, worker: Worker, request: Request) -> None:
        self._worker = worker
        self.request = request

    def superseded(self) -> bool:
        """True once a newer request arrived (or the widget closed): stop and return."""
        return self._worker.superseded()

    def wait_still(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if no newer request arrived meanwhile."""
        return self._worker.wait_still(seconds)

    def explain(self, selection: Selection) -> Explanation:
        """The explanation of ``selection`` (from the recent cache, or computed cancellably)."""
        return self._worker.explain(selection)[0]

    def session(self) -> Any:
        """``with job.session() as s:`` — the session, under the one session lock."""
        return self._worker.using_session()


class Worker:
    """Latest wins: one thread, the newest pending request, a cache of recent explanations."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.RLock()  # the one session lock (models are not thread-safe)
        self._cond = threading.Condition()
        self._pending: Request | None = None
        self._computing = False
        self._closed = False
        self._current: Request | None = None
        self._subscribers: list[weakref.ref] = []
        self._recent: OrderedDict[str, Explanation] = OrderedDict()
        self._shown: Explanation | None = None
        self._shown_key: str | None = None
        self._last_progress = 0.0
        self._came_from: str | None = None  # the layer shown before ``_shown``'s (the direction of travel)
        # The last selection the method refused with a ValueError (k larger than the number of
        # segments, …) and that error: asking again re-reports it without computing.
        self._failed: tuple[str, ValueError] | None = None
        self._thread = threading.Thread(target=self._run, name="camwidget-worker", daemon=True)
        stop_at_exit(self)
        self._thread.start()

    # ---- for the widget ------------------------------------------------------------------------
    def subscribe(self, subscriber: Any) -> None:
        """Publish to ``subscriber`` (held weakly; in the order subscribed)."""
        self._subscribers.append(weakref.ref(subscriber))

    def submit(self, selection: Selection, request: int, submitted: float | None = None) -> None:
        """Ask for ``selection`` (replacing any request not yet started)."""
        with self._cond:
            self._pending = Request(selection, int(request), time.perf_counter() if submitted is None else submitted)
            self._cond.notify_all()

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until every submitted request has been handled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._computing, timeout)

    def close(self) -> None:
        """Stop the thread (a computation in flight is cancelled at its next batch)."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @contextmanager
    def using_session(self) -> Iterator[Session]:
        """The session under the one session lock (cluster look-ups, label scores, …)."""
        with self._lock:
            yield self._session

    # ---- for subscribers -----------------------------------------------------------------------
    def superseded(self) -> bool:
        return self._pending is not None or self._closed

    def wait_still(self, seconds: float) -> bool:
        self._idle_work()  # the idle time first finishes the shown target's other layers
        with self._cond:
            self._cond.wait_for(self.superseded, seconds)
        return not self.superseded()

    def explain(self, selection: Selection, report: bool = True) -> tuple[Explanation, float]:
        """(explanation, milliseconds computing) — from the cache, else computed cancellably
        (``report``: its progress is the current request's, published to the panels)."""
        key = selection.key
        with self._lock:
            e = self._recent.get(key)
            if e is not None:
                self._recent.move_to_end(key)
                return e, 0.0
            started = time.perf_counter()
            with _progress.reporting(self._on_progress if report else None, cancelled=self.superseded):
                e = self._session.explain(selection.method, **selection.explain_kwargs())
            if e.map.nbytes <= KEEP_AT_MOST_BYTES:
                self._recent[key] = e
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
            return e, (time.perf_counter() - started) * 1000

    # ---- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    self._cond.notify_all()
                    return
                request, self._pending = self._pending, None
                assert request is not None
                self._computing = True
                self._current = request
            try:
                self._answer(request)
            except _progress.Cancelled:
                pass
            except ValueError as exc:  # a parameter the method refused: the user's to fix
                self._failed = (request.selection.key, exc)
                if not self.superseded():
                    log.info("camwidget: %s refused its parameters: %s", request.selection.method, exc)
                    self._publish("on_error", request, exc)
            except Exception as exc:  # noqa: BLE001 - a failing method must not take the widget down
                if not self.superseded():
                    log.warning("camwidget: %s failed", request.selection.method, exc_info=True)
                    self._publish("on_error", request, exc)
            finally:
                with self._cond:
                    self._computing = False
                    self._cond.notify_all()

    def _answer(self, request: Request) -> None:
        key = request.selection.key
        if key == self._shown_key and self._shown is not None:
            answer = Answer(request, self._shown, 0.0, repeat=True)
        else:
            if self._failed is not None and self._failed[0] == key:
                raise self._failed[1]  # the same selection, refused a moment ago: not computed again
            timer = threading.Timer(BUSY_AFTER_S, self._show_busy, args=(request,))
            timer.daemon = True
            timer.start()
            try:
                e, ms = self.explain(request.selection)
            finally:
                timer.cancel()
            answer = Answer(request, e, ms)
            if self._shown is not None and self._shown.layer != e.layer:
                self._came_from = self._shown.layer
            self._shown, self._shown_key = e, key
        job = Job(self, request)
        for subscriber in self._alive():
            if self.superseded():
                # Not every panel has shown it: a repeat of this selection must be answered in full
                # (marimo hands each browser update to set_state twice, so this happens there).
                self._shown_key = None
                return
            subscriber.on_answer(answer, job)
        self._idle_work()

    def _idle_work(self) -> None:
        """What the time between two requests is for: every layer's gradients of the shown
        target, then the maps of the neighbouring layers (both stop at a newer request)."""
        self._finish_gradients()
        request = self._current
        if request is not None:
            self._explain_neighbours(request.selection)

    def _explain_neighbours(self, selection: Selection) -> None:
        """The explanations of the ``NEIGHBOURS`` layers either side of ``selection``'s into the
        recent cache (only for ``CACHED_METHODS``, whose maps are arithmetic once the target's
        gradients are in). Errors are not reported here: they are when the layer is asked for."""
        previous = self._came_from
        if NEIGHBOURS <= 0 or selection.method not in CACHED_METHODS or selection.fuse_layers or self.superseded():
            return
        names = [i.name for i in self._session.layers]
        if selection.layer not in names:
            return
        here = names.index(selection.layer)
        ahead = -1 if previous in names and names.index(previous) > here else 1
        for distance in range(1, NEIGHBOURS + 1):
            for j in (here + ahead * distance, here - ahead * distance):
                if self.superseded():
                    return
                if not 0 <= j < len(names):
                    continue
                try:
                    neighbour, refused = selection.changed(self._session, {"layer": names[j]})
                    if not refused:
                        self.explain(neighbour, report=False)  # not the shown request's progress
                except _progress.Cancelled:
                    return
                except Exception:  # noqa: BLE001 - reported when the layer itself is asked for
                    log.debug("camwidget: the neighbour %s was not explained", names[j], exc_info=True)

    def _finish_gradients(self) -> None:
        """After an answer of a gradient method, every other layer's gradients of its target, in
        one backward (``Session.prefetch_gradients``), so the next layer step is arithmetic. A newer
        request cancels it between two layers (what was finished stays); it sets no busy state."""
        e = self._shown
        if e is None or e.target is None or self.superseded() or not _methods.get(e.method).needs_graph:
            return
        with self._lock:
            if not _gradients.pending(self._session, e.target):
                return
            try:
                with _progress.reporting(None, cancelled=self.superseded):
                    self._session.prefetch_gradients(e.target)
            except _progress.Cancelled:
                pass
            except ValueError:  # a layer's gradient refused (not finite, …): reported when asked for
                log.debug("camwidget: background gradients of target %s stopped", e.target, exc_info=True)

    def _alive(self) -> list[Any]:
        return [s for s in (ref() for ref in self._subscribers) if s is not None]

    def _publish(self, event: str, *args: Any) -> None:
        for subscriber in self._alive():
            try:
                getattr(subscriber, event)(*args)
            except Exception:  # noqa: BLE001 - one panel's failure must not silence the others
                log.warning("camwidget: %s.%s failed", type(subscriber).__name__, event, exc_info=True)

    def _show_busy(self, request: Request) -> None:
        if self._computing and not self._closed:
            self._publish("on_busy", request)

    def _on_progress(self, done: int, total: int, partial: Any = None) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S and done < total:
            return
        self._last_progress = now
        request = self._current
        if request is None or self.superseded():
            return
        if partial is not None and done < total:
            self._shown_key = None  # what is on screen is not a finished answer
        self._publish("on_progress", request, done, total, partial)


# ---- interpreter exit ----------------------------------------------------------------------------
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()
#: How long interpreter exit waits for a computation to reach its next batch.
EXIT_WAIT_S = 30.0


def stop_at_exit(owner: Any) -> None:
    """Stop ``owner`` (anything with ``close()`` and ``join(timeout)``) at interpreter exit; held weakly."""
    _LIVE.add(owner)


def stop_all(timeout: float = EXIT_WAIT_S) -> None:
    """Stop every live worker and wait for its thread (registered with ``atexit``): a torch call
    still running in a daemon thread while the interpreter shuts down aborts the process."""
    workers = list(_LIVE)
    for w in workers:
        w.close()
    deadline = time.monotonic() + timeout
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))


atexit.register(stop_all)
