"""What a panel is: one part of the view, one Python module, registered in :mod:`.panels`.

A panel declares the synced traits it owns (``traits``: the kernel writes them, a browser write
is ignored), the traits of its own the browser may write (``writable``: name → check), and the
custom message kinds it handles (``actions``: kind → method name; the method runs on the widget's
action thread, so a slow store call never blocks the kernel). It subscribes to the worker's
answers by overriding the ``on_*`` methods below (they run on the worker thread). It changes
what the browser sees only through ``widget.publish(...)`` (one message, thread-safe). See
docs/develop.md, "Adding a panel".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

import traitlets as t

if TYPE_CHECKING:
    from . import CamWidget
    from .worker import Answer, Job, Request


class Panel:
    """Base class of the widget's panels (every hook is optional)."""

    #: The panel's name: ``widget.panels[name]`` and the name of its TypeScript module.
    name: ClassVar[str] = ""
    #: Synced traits the panel owns, kernel → browser (a browser write to them is ignored).
    traits: ClassVar[dict[str, t.TraitType]] = {}
    #: Traits of the panel the browser may write: name → check returning the canonical value
    #: (raises ``ValueError``/``TypeError`` whose message starts with the name).
    writable: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    #: Custom message kinds the panel handles: ``{"kind": ...}`` → the name of a method taking
    #: the message (a dict); it runs on the action thread and raises to refuse.
    actions: ClassVar[dict[str, str]] = {}

    def __init__(self, widget: CamWidget, **options: Any) -> None:
        """``options``: the widget's keyword arguments that are not its own (``store=``, …);
        take what you need, ignore the rest."""
        self.widget = widget

    def start(self) -> None:
        """Called once the widget is set up (observe traits here)."""

    def close(self) -> None:
        """Called when the widget closes."""

    # ---- worker events (worker thread) -------------------------------------------------------
    def on_busy(self, request: Request) -> None:
        """A computation has run longer than ``worker.BUSY_AFTER_S``."""

    def on_progress(self, request: Request, done: int, total: int, partial: Any) -> None:
        """A slow method reported progress (``partial``: its result so far, or None)."""

    def on_answer(self, answer: Answer, job: Job) -> None:
        """The explanation of a request; do more work through ``job`` (stop when superseded)."""

    def on_error(self, request: Request, exc: Exception) -> None:
        """The method (or a panel's ``on_answer``) failed for this request."""
