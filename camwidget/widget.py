"""CamWidget: the notebook view on an engine ``Session``, and ``explore(model, image)``.

The widget holds no explanation logic: it validates what the browser (or Python) selects, asks the
session for the map in one worker thread that always takes the newest pending state (a drag sends
many values; only the latest is computed), and sends the answer as raw bytes. Colormap and opacity
(and, for segment methods, boundaries and dimming) are drawn in the browser and never reach the
session. See docs/widget-protocol.md.
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import anywidget
import numpy as np
import traitlets as t

from . import _wire
from .engine import Explanation, Session
from .engine import methods as _methods
from .cluster_view import ClusterLabelling, MemoryLabels  # noqa: F401 (re-exported)
from .reveal import RevealGame
from .worker import ATLAS_AFTER_S, BUSY_AFTER_S, RECENT, LatestWins, _as_json  # noqa: F401 (re-exported)

__all__ = ["CamWidget", "explore"]

log = logging.getLogger(__name__)
_STATIC = Path(__file__).parent / "static"

#: Traits whose change asks the kernel for a new explanation.
SELECTION = ("layer", "method", "target", "channels", "region", "params")
#: Traits drawn in the browser only: they never trigger kernel work.
VIEW = ("opacity", "colormap", "outline", "hide_rest")


# A checkout whose frontend is not built yet still imports (and its Python side works); the
# view then says what to run instead of failing at import time.
_NOT_BUILT = (
    "export default { render({ el }) { el.textContent = 'camwidget: the frontend is not built "
    "(camwidget/static/widget.js is missing); run `npm run build` or `./dev setup`.'; } };"
)


def _static(name: str, fallback: str) -> Path | str:
    path = _STATIC / name
    return path if path.is_file() else fallback


class CamWidget(RevealGame, ClusterLabelling, LatestWins, anywidget.AnyWidget):
    """An interactive explanation of one image: layer strip, region selector, feature-map grid.

    ``w.layer``, ``w.method``, ``w.target``, ``w.channels``, ``w.region``, ``w.params``,
    ``w.opacity``, ``w.colormap``, ``w.outline`` and ``w.hide_rest`` are synced both ways (the last
    four are drawn in the browser and never reach the session; ``outline`` and ``hide_rest`` show
    the segment boundaries and dim the unselected segments of SeCAM and LIME); ``w.explanation`` is the
    :class:`~camwidget.Explanation` on screen. Invalid values (from Python or the browser) are
    refused with a message in the widget's error area and the trait keeps its last valid value.

    With the method ``"inv"`` the widget shows the layer's clusters and records labels and reveal
    game results (``w.label``, ``w.start_game``, ``w.reveal_more``, ``w.guess``, ``w.give_up``)
    with ``store.annotate`` in ``store`` (a :class:`~camwidget.labels.LabelStore`; without one,
    a :class:`MemoryLabels` on the widget). ``w.annotations`` lists what was recorded.
    """

    _esm = _static("widget.js", _NOT_BUILT)
    _css = _static("widget.css", "")

    # Kernel → browser (binary as raw bytes; shapes and metadata alongside).
    image = t.Bytes(b"").tag(sync=True)
    image_shape = t.List(t.Int(), default_value=[]).tag(sync=True)
    heatmap = t.Bytes(b"").tag(sync=True)
    heatmap_meta = t.Dict().tag(sync=True)
    mask = t.Bytes(b"").tag(sync=True)
    channels_atlas = t.Bytes(b"").tag(sync=True)
    atlas_meta = t.Dict().tag(sync=True)
    layers = t.List(t.Dict()).tag(sync=True)
    top = t.List(t.Dict()).tag(sync=True)
    classes = t.List(t.Unicode()).tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    progress = t.Float(-1.0).tag(sync=True)
    answered = t.Int(0).tag(sync=True)

    # Browser ⇄ kernel: the selection (validated by observers, see _on_selection).
    layer = t.Unicode("").tag(sync=True)
    method = t.Unicode("gradcam++").tag(sync=True)
    target = t.Any(None).tag(sync=True)
    channels = t.Any(None).tag(sync=True)
    region = t.Any(None).tag(sync=True)
    params = t.Dict().tag(sync=True)
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
        opacity: float = 0.5,
        colormap: str = "jet",
        outline: bool = True,
        hide_rest: bool = True,
        store: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(session, Session):
            raise TypeError(f"session: expected a camwidget.Session, got {type(session).__name__}")
        # Trait changes come from the kernel's main thread (cells, browser messages) and from the
        # worker; ipywidgets' hold_sync bookkeeping is not thread-safe, so changes and batches
        # take turns (see notify_change and _batch).
        self._sync_lock = threading.RLock()
        super().__init__(**kwargs)
        self.session = session
        self._start_worker()
        self._quiet = False  # set while the widget itself corrects a trait (no re-validation)

        image, shape = _wire.pack_image(session.image)
        with self._session_lock:
            top = session.top(5)
        with self.hold_sync():
            self.image = image
            self.image_shape = shape
            self.layers = [{"name": i.name, "shape": list(i.shape), "depth": i.depth} for i in session.layers]
            self.classes = list(session.classes or [])
            self.methods = [
                {"name": m.name, "label": m.label, "params": _json_safe(m.params)} for m in _methods.available()
            ]
            self.top = [{"index": i, "name": n, "prob": p} for i, n, p in top]
            # The initial selection: bad arguments raise here, like any constructor.
            self._quiet = True
            ok = False
            try:
                self.layer = self._validated("layer", layer)
                self.method = self._validated("method", method)
                self.target = self._validated("target", target)
                self.params = self._validated("params", params or {})
                self.channels = self._validated("channels", channels)
                self.region = self._validated("region", region)
                self.opacity = _wire.check_opacity(opacity)
                self.colormap = _wire.check_colormap(colormap)
                self.outline = _wire.check_flag("outline", outline)
                self.hide_rest = _wire.check_flag("hide_rest", hide_rest)
                ok = True
            finally:
                self._quiet = False
                if not ok:
                    self.close()
        self.observe(self._on_selection, names=list(SELECTION) + ["request"])
        self.observe(self._on_view, names=list(VIEW))
        self._start_labelling(store)
        self._start_game_state()
        self._launch()

    # ---- public -----------------------------------------------------------------------------
    @property
    def explanation(self) -> Explanation | None:
        """The Explanation on screen (waits for a computation in flight, up to a minute)."""
        self.wait(60)
        return self._explanation

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the newest selection has been computed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._dirty and not self._computing, timeout)

    def close(self) -> None:
        """Stop the worker and close the comm (the view disappears)."""
        cond = getattr(self, "_cond", None)  # None when __init__ failed half-way
        if cond is not None:
            with cond:
                self._closed = True
                cond.notify_all()
        super().close()

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

    # ---- validation -------------------------------------------------------------------------
    def _validated(self, name: str, value: Any) -> Any:
        """The canonical form of a selection value, or ValueError/TypeError naming the trait.

        Pure look-ups (no model run: the forward happened in __init__), so the kernel's main
        thread never waits for a computation in the worker.
        """
        s = self.session
        if name == "layer":
            if value is not None and not isinstance(value, str):
                raise TypeError(f"layer: expected a layer name, got {value!r}")
            return s.layer_info(value or None).name
        if name == "method":
            return _methods.get(value).name
        if name == "target":
            return s.resolve_target(value)
        if name == "channels":
            return _wire.check_channels(value, s.layer_info(self.layer).shape[0])
        if name == "region":
            region = _wire.check_region(value, s.layer_info(self.layer).shape[1:])
            return None if region is None else list(region)
        if name == "params":
            params = _wire.check_params(value)
            _methods.get(self.method).check_params(params)
            return params
        raise KeyError(name)

    def _set_quietly(self, name: str, value: Any) -> None:
        self._quiet = True
        try:
            setattr(self, name, value)
        finally:
            self._quiet = False

    def _refuse(self, name: str, old: Any, exc: Exception) -> None:
        log.info("camwidget refused %s: %s", name, exc)
        self._set_quietly(name, old)
        self._error_request = self.request
        with self._batch():
            self.error = str(exc)
            self.answered = self.request

    def _on_selection(self, change: dict) -> None:
        if self._quiet:
            return
        name, new = change["name"], change["new"]
        # ipywidgets locks the properties it is setting from a browser message.
        from_browser = name in getattr(self, "_property_lock", {})
        if name != "request":
            if not from_browser:
                # Python's own changes get a request id too, so the view knows what it waits for.
                self._set_quietly("request", self.request + 1)
            try:
                value = self._validated(name, new)
            except (ValueError, TypeError, KeyError) as exc:
                self._refuse(name, change["old"], exc)
                return
            if _as_json(value) != _as_json(new):
                self._set_quietly(name, value)
            if name == "layer" and value != change["old"]:
                # Channel indices and grid cells belong to the old layer.
                if self.channels is not None:
                    self._set_quietly("channels", None)
                if self.region is not None:
                    self._set_quietly("region", None)
            if name in ("layer", "target") and value != change["old"] and self.params.get("cluster"):
                # INV cluster indices belong to one layer and target: start at the heaviest.
                self._set_quietly("params", {**self.params, "cluster": 0})
            if name == "method" and value != change["old"]:
                schema = _methods.get(value).params
                kept = {k: v for k, v in self.params.items() if k in schema}
                if kept != self.params:
                    self._set_quietly("params", kept)
        self._submit()

    def _on_view(self, change: dict) -> None:
        if self._quiet:
            return
        name = change["name"]
        try:
            if name == "opacity":
                _wire.check_opacity(change["new"])
            elif name == "colormap":
                _wire.check_colormap(change["new"])
            else:
                _wire.check_flag(name, change["new"])
        except (ValueError, TypeError) as exc:
            self._set_quietly(change["name"], change["old"])
            self.error = str(exc)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


def explore(
    model: Any = None,
    image: Any = "chelsea",
    *,
    preprocess: Any = None,
    classes: Any = None,
    layers: Any = None,
    **widget_options: Any,
) -> CamWidget:
    """Open the explorer on ``model`` and ``image`` in one call.

    ``model=None`` takes the embedded default (EfficientNet-Lite0, ImageNet) with its preprocessing
    and class names; ``image`` may be anything ``Session`` takes or the name of a sample image
    (``"chelsea"``). Other keywords (``layer``, ``method``, ``target``, ``channels``, ``region``,
    ``params``, ``opacity``, ``colormap``, ``outline``, ``hide_rest``, ``store``, ``annotator``) go to :class:`CamWidget`.
    """
    from . import models, samples

    if model is None:
        model, default_preprocess, default_classes = models.default()
        preprocess = default_preprocess if preprocess is None else preprocess
        classes = default_classes if classes is None else classes
    if isinstance(image, str) and not Path(image).exists():
        image = samples.load(image)
    session = Session(model, image, preprocess=preprocess, classes=classes, layers=layers)
    return CamWidget(session, **widget_options)
