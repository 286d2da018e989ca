"""One dispatcher for the browser's custom messages (``model.send``), run off the comm thread.

Panels register the kinds they handle (``Panel.actions``). A message is checked on the comm
thread — a dict, a known ``kind``, only finite numbers and string keys — and refused at once with a
message in ``error`` otherwise; the handler then runs on the widget's one action thread, in the
order messages arrived, so a label written to a store that is busy for seconds never blocks the
kernel. A handler refuses by raising; nothing escapes the thread. The thread holds the handlers
weakly, so it never keeps a widget alive.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import weakref
from typing import Any, Callable

from ..labels.errors import LabelStoreError
from .worker import stop_at_exit

log = logging.getLogger("camwidget.widget")

#: Errors a handler refuses with: shown in ``error`` without a traceback.
REFUSED = (LabelStoreError, ValueError, TypeError, KeyError, LookupError)


def _weak(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any] | None]:
    if hasattr(fn, "__self__"):
        return weakref.WeakMethod(fn)  # type: ignore[arg-type]
    return lambda: fn


def check_message(content: Any, kinds: Any) -> dict[str, Any]:
    """The message as a dict with a registered ``kind``; ValueError/TypeError naming what is wrong."""
    if not isinstance(content, dict):
        raise TypeError(f"message: expected a dict with a 'kind', got {type(content).__name__}")
    kind = content.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(f"kind: {kind!r} is not an action; valid: {', '.join(sorted(kinds))}")
    _check_finite(content, "message")
    return content


def _check_finite(value: Any, where: str, depth: int = 0) -> None:
    if depth > 8:
        raise ValueError(f"{where}: nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r}")
            _check_finite(v, k, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_finite(v, where, depth + 1)


class Actions:
    """Kinds → handlers, and the thread that runs them in order."""

    def __init__(self, refuse: Callable[[str], None]) -> None:
        self._refuse = _weak(refuse)
        self._handlers: dict[str, Callable[[], Callable[..., Any] | None]] = {}
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        stop_at_exit(self)

    def register(self, kind: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Handle messages ``{"kind": kind, ...}`` with ``handler(message)``."""
        if kind in self._handlers:
            raise ValueError(f"kind: {kind!r} has a handler already")
        self._handlers[kind] = _weak(handler)

    def dispatch(self, content: Any) -> None:
        """From the comm thread: check the message, queue its handler (or refuse at once)."""
        try:
            message = check_message(content, self._handlers)
        except (ValueError, TypeError) as exc:
            log.info("camwidget refused a message: %s", exc)
            self._report(str(exc))
            return
        with self._idle:
            self._pending += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="camwidget-actions", daemon=True)
            self._thread.start()
        self._queue.put((message["kind"], message))

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until every queued message has been handled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _report(self, message: str) -> None:
        refuse = self._refuse()
        if refuse is not None:
            refuse(message)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._handle(*item)
            item = None  # the thread's frame keeps nothing of a widget while it waits

    def _handle(self, kind: str, message: dict[str, Any]) -> None:
        try:
            handler = self._handlers[kind]()
            if handler is not None:
                handler(message)
        except REFUSED as exc:
            text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
            log.info("camwidget refused %s: %s", kind, text)
            self._report(text)
        except Exception as exc:  # noqa: BLE001 - nothing escapes the action thread
            log.warning("camwidget: the %s action failed", kind, exc_info=True)
            self._report(f"{kind} failed: {exc}")
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()
