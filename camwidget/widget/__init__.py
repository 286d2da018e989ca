"""CamWidget: the notebook view on an engine ``Session``, and ``explore(model, image)``.

The widget holds no explanation logic. It owns the traits, the observers and the locks; what the
browser (or a cell) selects is validated once into a frozen :class:`~.selection.Selection` and
handed to the :class:`~.worker.Worker` (one thread, latest wins); the worker publishes each
answer to the panels (:mod:`.panels`: overlay, clusters, reveal game, feature maps), which send
what they show through :meth:`CamWidget.publish`. Browser actions (labels, game moves) go through
one dispatcher (:mod:`.actions`) to an action thread. Traits the kernel sends cannot be written
by the browser. See docs/widget-protocol.md and docs/develop.md.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import anywidget
import numpy as np
import traitlets as t

from ..engine import Explanation, Session
from ..engine import session_targets
from ..engine import targets as _targets
from ..engine import methods as _methods
from ..engine.methods.disclosure import primary_params
from . import wire
from .actions import Actions
from .memory_labels import MemoryLabels
from .panel import Panel
from .panel_api import PanelAPI
from .panels import PANELS
from .selection import FIELDS, VIEW, Selection, check_request, check_view, refusal
from .worker import Worker

__all__ = ["CamWidget", "MemoryLabels", "explore"]

log = logging.getLogger("camwidget.widget")
_STATIC = Path(__file__).resolve().parents[1] / "static"

#: Traits whose change asks the kernel for a new explanation.
SELECTION = FIELDS

# A checkout whose frontend is not built yet still imports (and its Python side works); the
# view then says what to run instead of failing at import time.
_NOT_BUILT = (
    "export default { render({ el }) { el.textContent = 'camwidget: the frontend is not built "
    "(camwidget/static/widget.js is missing); run `npm run build` or `./dev setup`.'; } };"
)


def _static(name: str, fallback: str) -> str:
    # The text itself, not a path: anywidget watches a path with a callback that holds every
    # widget ever made (they would never be freed).
    path = _STATIC / name
    return path.read_text(encoding="utf-8") if path.is_file() else fallback


def _panel_traits(panels: tuple[type[Panel], ...]) -> type:
    """One traits-only base class holding every panel's synced traits."""
    body: dict[str, Any] = {}
    for panel in panels:
        for name, trait in panel.traits.items():
            if name in body:
                raise ValueError(f"traits: {name!r} is declared by two panels")
            body[name] = trait
    return type("PanelTraits", (t.HasTraits,), body)


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class CamWidget(anywidget.AnyWidget, _panel_traits(PANELS), PanelAPI):  # type: ignore[misc]
    """An interactive explanation of one image: layer strip, region selector, feature-map grid.

    ``w.layer``, ``w.method``, ``w.target``, ``w.channels``, ``w.region``, ``w.params``,
    ``w.opacity``, ``w.colormap``, ``w.outline`` and ``w.hide_rest`` are synced both ways (the last
    four are drawn in the browser and never reach the session; ``outline`` and ``hide_rest`` show
    the segment boundaries and dim the unselected segments of SeCAM and LIME); ``w.explanation`` is
    the :class:`~camwidget.Explanation` on screen. ``w.fuse_layers`` (two or more layer names, or
    [] for one layer; shift-click stops on the strip) fuses their maps, ``w.fuse_gamma`` turns on
    LayerCAM's scaling. Invalid values (from Python or the browser) are
    refused with a message in the widget's error area and the trait keeps its last valid value.

    For a segmentation model, ``w.target_box`` (row0, col0, row1, col1, in pixels of
    ``w.output_shape``) is the box of the output map whose class scores the target sums (dragged on
    the image with "Drag selects: output pixels"; docs/widget-protocol.md).

    With the method ``"inv"`` the widget shows the layer's clusters and records labels and reveal
    game results (``w.label``, ``w.start_game``, ``w.reveal_more``, ``w.guess``, ``w.give_up``)
    with ``store.annotate`` in ``store`` (a :class:`~camwidget.labels.LabelStore`; without one,
    a :class:`MemoryLabels` on the widget). ``w.annotations`` lists what was recorded.
    """

    _esm = t.Unicode(_static("widget.js", _NOT_BUILT)).tag(sync=True)
    _css = t.Unicode(_static("widget.css", "")).tag(sync=True)

    # Kernel → browser (binary as raw bytes; shapes and metadata alongside). The panels' own
    # traits (heatmap, atlases, clusters, game, …) are declared in their modules.
    image = t.Bytes(b"").tag(sync=True)
    image_shape = t.List(t.Int(), default_value=[]).tag(sync=True)
    layers = t.List(t.Dict()).tag(sync=True)
    top = t.List(t.Dict()).tag(sync=True)
    output_shape = t.List(t.Int(), default_value=[]).tag(sync=True)  # a segmentation model's output map H × W
    classes = t.List(t.Unicode()).tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    progress = t.Float(-1.0).tag(sync=True)
    answered = t.Int(0).tag(sync=True)

    # Browser ⇄ kernel: the selection (validated into ``selection`` before it is set).
    layer = t.Unicode("").tag(sync=True)
    method = t.Unicode("gradcam++").tag(sync=True)
    target = t.Any(None).tag(sync=True, to_json=lambda v, _w: _targets.json_value(v))  # a Target: its class
    target_box = t.Any(None).tag(sync=True)  # a segmentation target's box, in output pixels
    channels = t.Any(None).tag(sync=True)
    region = t.Any(None).tag(sync=True)
    params = t.Dict().tag(sync=True)
    #: Layers whose maps are fused (shift-click stops on the strip; [] = the one ``layer``); see selection.py.
    fuse_layers = t.Any([]).tag(sync=True)
    fuse_gamma = t.Any(None).tag(sync=True)  # LayerCAM's tanh scaling of fused maps (None: off)
    request = t.Int(0).tag(sync=True)

    # View only.
    opacity = t.Float(0.5).tag(sync=True)
    colormap = t.Unicode("jet").tag(sync=True)
    #: Segment methods (SeCAM, LIME): draw the segment boundaries.
    outline = t.Bool(True).tag(sync=True)
    #: Segment methods: dim everything outside the selected segments (LIME's ``hide_rest``).
    hide_rest = t.Bool(True).tag(sync=True)

    def __init__(
        self,
        session: Session,
        *,
        layer: str | None = None,
        method: str = "gradcam++",
        target: int | str | None = None,
        channels: list[int] | None = None,
        region: tuple[int, int, int, int] | None = None,
        params: dict[str, Any] | None = None,
        fuse_layers: list[str] | None = None,
        opacity: float = 0.5,
        colormap: str = "jet",
        outline: bool = True,
        hide_rest: bool = True,
        store: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(session, Session):
            raise TypeError(f"session: expected a camwidget.Session, got {type(session).__name__}")
        # The constructor's values raise here, like any constructor, before a comm opens.
        selection = Selection.initial(session, layer=layer, method=method, target=target, channels=channels,
                                      region=region, params=params or {}, fuse_layers=fuse_layers)
        view = {name: check_view(name, value) for name, value in
                zip(VIEW, (opacity, colormap, outline, hide_rest))}
        # Trait changes come from the kernel's main thread (cells, browser messages), the worker
        # and the action thread; ipywidgets' hold_sync bookkeeping is not thread-safe, so changes
        # and batches take turns (see notify_change and _batch).
        self._sync_lock = threading.RLock()
        self._quiet = False  # set while the widget itself sets a selection trait (no re-validation)
        super().__init__(**kwargs)
        self.session = session
        #: The validated selection the traits show.
        self.selection = selection
        #: The newest request refused in the kernel: its error stays until a newer answer.
        self.refused_request = -1
        self.worker = Worker(session)
        self.actions = Actions(self._report)
        self.panels: dict[str, Panel] = {}
        for panel_class in PANELS:
            panel = panel_class(self, store=store)
            self.panels[panel.name] = panel
            self.worker.subscribe(panel)
            for kind, method_name in panel.actions.items():
                self.actions.register(kind, getattr(panel, method_name))
        self._writable: dict[str, Callable[[Any], Any]] = {
            **{name: functools.partial(check_view, name) for name in VIEW},
            **{name: check for panel in self.panels.values() for name, check in panel.writable.items()},
        }
        # Dropped without close(): the threads end with the widget (they hold no reference to it).
        weakref.finalize(self, _stop, self.worker, self.actions)

        image, shape = wire.pack_image(session.image)
        with self.worker.using_session():
            top, kind, output_size = session.top(5), session_targets.score_kind(session), session_targets.output_size(session)
        self._quiet = True
        try:
            with self._batch():
                self.image = image
                self.image_shape = shape
                self.layers = [{"name": i.name, "shape": list(i.shape), "depth": i.depth} for i in session.layers]
                self.classes = list(session.classes or [])
                self.methods = [{"name": m.name, "label": m.label, "params": _json_safe(m.params),
                                 "primary": primary_params(m.name, m.params)} for m in _methods.available()]
                self.top = [{"index": i, "name": n, "score": p, "score_kind": kind} for i, n, p in top]
                self.output_shape = list(output_size or [])
                for name, value in {**selection.traits(), **view}.items():
                    setattr(self, name, value)
        finally:
            self._quiet = False
        self.observe(self._on_selection, names=list(SELECTION) + ["request"])
        self.observe(self._on_view, names=list(VIEW))
        for panel in self.panels.values():
            panel.start()
        self.on_msg(self._on_custom_msg)
        self.worker.submit(selection, self.request)

    # ---- public -----------------------------------------------------------------------------
    @property
    def explanation(self) -> Explanation | None:
        """The Explanation on screen (waits for a computation in flight, up to a minute)."""
        self.wait(60)
        return self.panels["overlay"].explanation  # type: ignore[attr-defined]

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the newest selection has been computed and every browser action handled."""
        return self.worker.wait(timeout) and self.actions.wait(timeout)

    def close(self) -> None:
        """Stop the threads and close the comm (the view disappears)."""
        if "worker" in self.__dict__:
            _stop(self.worker, self.actions)
            for panel in self.panels.values():
                panel.close()
        layout = self.__dict__.get("_trait_values", {}).get("layout")
        super().close()
        if layout is not None:
            layout.close()  # a DOMWidget's Layout is a widget of its own: ipywidgets keeps it otherwise

    def publish(self, **values: Any) -> None:
        """Set kernel-owned traits from any thread, sent to the browser as one message."""
        with self._batch():
            for name, value in values.items():
                setattr(self, name, value)

    # ---- locks --------------------------------------------------------------------------------
    def notify_change(self, change: Any) -> None:
        lock = self.__dict__.get("_sync_lock")
        if lock is None:
            return super().notify_change(change)
        with lock:
            super().notify_change(change)

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Send the traits set inside as one message, without interleaving other threads."""
        with self._sync_lock, self.hold_sync():
            yield

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Set selection traits without the observers validating them again."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    # ---- from the browser -----------------------------------------------------------------------
    def _handle_msg(self, msg: Any) -> None:
        """Every frontend message; nothing raised here reaches the comm (or the notebook)."""
        try:
            super()._handle_msg(msg)
        except Exception as exc:  # noqa: BLE001 - the last line of defence; the parts below refuse first
            log.warning("camwidget: a frontend message failed", exc_info=True)
            self._report(f"message refused: {exc}")

    def set_state(self, sync_data: Any) -> None:
        """A state update from the browser: kernel-owned traits are ignored, every other value is
        validated before it touches a trait, valid changes apply and the rest are refused in ``error``."""
        if not isinstance(sync_data, dict):
            self._report(f"message: expected a dict of trait values, got {type(sync_data).__name__}")
            return
        accepted: dict[str, Any] = {}
        refused: dict[str, str] = {}
        ignored = []
        for name, value in sync_data.items():
            if name in SELECTION or name == "request":
                continue
            check = self._writable.get(name)
            if check is None:
                ignored.append(name)
                continue
            try:
                accepted[name] = check(value)
            except Exception as exc:  # noqa: BLE001 - refused with a message
                refused[name] = refusal(name, exc)
        if ignored:
            log.debug("camwidget: ignored a frontend write to kernel-owned or unknown traits %s", ignored)
        request: int | None = None
        if "request" in sync_data:
            try:
                request = check_request(sync_data["request"])
            except TypeError as exc:
                refused["request"] = str(exc)
        changes = {k: sync_data[k] for k in SELECTION if k in sync_data}
        new, refused_selection = self.selection.changed(self.session, changes)
        refused.update(refused_selection)
        if request is None and changes:
            request = self.request + 1
        moved = new != self.selection
        raw = {k: sync_data[k] for k in list(accepted) + [k for k in changes if k not in refused_selection]}
        if request is not None and "request" not in refused:
            raw["request"] = sync_data["request"]
        self._echo(raw)
        with self._batch(), self._lock_property(**raw), self._quietly():
            for name, value in accepted.items():
                setattr(self, name, value)
            self._show_selection(new)
            if request is not None:
                self.request = request
            if refused:
                self.refused_request = self.request
                self.error = "; ".join(refused.values())
                if request is not None and changes and not moved:
                    self.answered = request  # nothing to compute: the view stops waiting
        self.selection = new
        back = [k for k in refused if k in self.keys]
        if back:
            self.send_state(back)  # the view takes the kernel's values back
        if moved or (request is not None and not (changes and refused_selection and not moved)):
            self.worker.submit(new, self.request)

    def _echo(self, raw: dict[str, Any]) -> None:
        # ipywidgets confirms a frontend's values with an echo; only the accepted ones here.
        if raw and getattr(self, "comm", None) is not None:
            self._send({"method": "echo_update", "state": raw, "buffer_paths": []}, buffers=[])

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        self.actions.dispatch(content)

    def _report(self, message: str) -> None:
        """A refusal from any thread: shown in the error area."""
        self.publish(error=message)

    # ---- from Python ------------------------------------------------------------------------------
    def _on_selection(self, change: dict) -> None:
        if self._quiet:
            return
        name = change["name"]
        if name == "request":
            self.worker.submit(self.selection, int(change["new"]))
            return
        request = self.request + 1  # Python's changes get a request id too: the view knows it waits
        new, refused = self.selection.changed(self.session, {name: change["new"]})
        with self._batch(), self._quietly():
            self.request = request
            if refused:
                log.info("camwidget refused %s: %s", name, refused[name])
                setattr(self, name, self.selection.traits()[name])
                self.refused_request = request
                self.error = refused[name]
                self.answered = request
                return
            self._show_selection(new)
        self.selection = new
        self.worker.submit(new, request)

    def _show_selection(self, new: Selection) -> None:
        for name, value in new.traits().items():
            if _as_json(getattr(self, name)) != _as_json(value):
                setattr(self, name, value)

    def _on_view(self, change: dict) -> None:
        if self._quiet:
            return
        try:
            check_view(change["name"], change["new"])
        except (ValueError, TypeError) as exc:
            with self._quietly():
                setattr(self, change["name"], change["old"])
            self.error = str(exc)


def _stop(worker: Worker, actions: Actions) -> None:
    worker.close()
    actions.close()


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


from .explore import explore  # noqa: E402  (needs CamWidget above)
