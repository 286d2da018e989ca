"""Progress and cancellation for slow methods, without tying the engine to any UI.

A caller (the widget's worker, a script) wraps a computation::

    with progress.reporting(callback, cancelled=lambda: newer_request_waiting):
        session.explain("lime")

and slow methods call ``progress.report(done, total, partial=None)`` between batches. ``report``
raises ``Cancelled`` when the caller's ``cancelled()`` says so, so a newer request supersedes an
older one between batches; with no caller it is a no-op (scripts may pass ``tqdm`` instead).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

Callback = Callable[[int, int, Any], None]


class Cancelled(Exception):
    """A newer request superseded this computation."""


_current: ContextVar[tuple[Callback | None, Callable[[], bool] | None]] = ContextVar(
    "camwidget_progress", default=(None, None)
)


@contextmanager
def reporting(callback: Callback | None = None, cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
    """Route ``report`` calls made in this context to ``callback(done, total, partial)``."""
    token = _current.set((callback, cancelled))
    try:
        yield
    finally:
        _current.reset(token)


def report(done: int, total: int, partial: Any = None) -> None:
    """Tell the caller how far a slow method is; raise ``Cancelled`` if it asked to stop."""
    callback, cancelled = _current.get()
    if cancelled is not None and cancelled():
        raise Cancelled(f"superseded after {done} of {total}")
    if callback is not None:
        callback(done, total, partial)


def watched() -> bool:
    """Whether a callback or a cancellation check is installed (else ``report`` does nothing)."""
    callback, cancelled = _current.get()
    return callback is not None or cancelled is not None


def active() -> bool:
    """Whether anybody listens (methods may skip building partial results otherwise)."""
    return _current.get()[0] is not None
