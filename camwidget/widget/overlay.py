"""The explanation on screen: heatmap, segment mask, status line, progress, answered requests.

Every answer of the worker becomes one message: ``heatmap`` (uint8 at the map's own resolution),
``mask`` (segment methods), ``heatmap_meta`` and the status line; a slow method's partial result
is painted as it refines (``heatmap_meta.partial``); a failure goes to ``error``. ``answered``
tells the view which request was handled. Colormap and opacity are drawn in the browser.
"""
from __future__ import annotations

import time
from typing import Any

import traitlets as t

from ..engine import Explanation, Session
from ..engine import methods as _methods
from . import wire
from .panel import Panel
from .worker import Answer, Job, Request


class Overlay(Panel):
    """The map over the image (js/overlay.ts) and the status bar (js/status.ts)."""

    name = "overlay"
    traits = {
        "heatmap": t.Bytes(b"").tag(sync=True),
        "heatmap_meta": t.Dict().tag(sync=True),
        "mask": t.Bytes(b"").tag(sync=True),
    }

    def __init__(self, widget: Any, **options: Any) -> None:
        super().__init__(widget)
        #: The explanation on screen (None until the first answer).
        self.explanation: Explanation | None = None

    def on_busy(self, request: Request) -> None:
        self.widget.publish(busy=True, status=f"computing {label(request.selection.method)}…")

    def on_progress(self, request: Request, done: int, total: int, partial: Any) -> None:
        shown = self._paint_partial(request, partial, done, total)
        self.widget.publish(
            busy=True,
            progress=float(done) / float(total) if total else -1.0,
            status=f"computing {label(request.selection.method)}… {done}/{total}" + (" (refining)" if shown else ""),
        )

    def on_answer(self, answer: Answer, job: Job) -> None:
        request = answer.request
        if answer.repeat:
            self.widget.publish(**self._finished(request))
            return
        e = answer.explanation
        display = self.widget.image_shape
        heatmap, shape = wire.pack_map(e.map, display)
        mask, mask_shape = wire.pack_mask(e.mask, e.segments, display)
        self.explanation = e
        self.widget.publish(
            heatmap=heatmap,
            mask=mask,
            heatmap_meta=heatmap_meta(
                request, shape, mask_shape, layer=e.layer, method=e.method, target=e.target,
                target_name=e.class_name, blank=bool(e.blank),
                min=float(e.map.min()), max=float(e.map.max()),  # the raw range, for the colour bar
                compute_ms=round(answer.compute_ms, 2),
                # From the browser's message reaching the kernel to this answer leaving it.
                kernel_ms=round((time.perf_counter() - request.submitted) * 1000, 2),
            ),
            status=describe(e, label(e.method), self.widget.session),
            **self._finished(request),
        )

    def on_error(self, request: Request, exc: Exception) -> None:
        w = self.widget
        # A value refused in this same request already says what is wrong.
        refused_now = request.id == w.refused_request and bool(w.error)
        w.refused_request = request.id
        values: dict[str, Any] = {"busy": False, "progress": -1.0, "answered": request.id}
        if not refused_now:
            values["error"] = f"{label(request.selection.method)} failed: {exc}"
        w.publish(**values)

    def _finished(self, request: Request) -> dict[str, Any]:
        values: dict[str, Any] = {"busy": False, "progress": -1.0, "answered": request.id}
        if request.id > self.widget.refused_request:
            values["error"] = ""
        return values

    def _paint_partial(self, request: Request, partial: Any, done: int, total: int) -> bool:
        """Send a method's partial result (Smooth Grad-CAM++ after each batch) as the heatmap."""
        values = getattr(partial, "map", None)
        if values is None or done >= total:
            return False
        s = request.selection
        heatmap, shape = wire.pack_map(values, self.widget.image_shape)
        self.widget.publish(
            heatmap=heatmap,
            mask=b"",
            heatmap_meta=heatmap_meta(request, shape, [], layer=s.layer, method=s.method, target=s.target_json, blank=False,
                                      partial=True, done=int(done), total=int(total)),
        )
        return True


def heatmap_meta(request: Request, shape: list[int], mask_shape: list[int], **fields: Any) -> dict[str, Any]:
    """What travels with a heatmap (js/types.ts ``HeatmapMeta``): its shapes, the request it
    answers, and the answer's fields."""
    return {"shape": shape, "mask_shape": mask_shape, "request": request.id, **fields}


def label(method: str) -> str:
    """A method's label for people (its name when unknown)."""
    try:
        return _methods.get(method).label
    except ValueError:
        return method


def describe(e: Explanation, method_label: str, session: Session) -> str:
    """The status line of an answer."""
    fused = e.params.get("layers") if isinstance(e.params.get("layers"), list) else None
    info = session.layer_info(e.layer) if e.layer and not fused else None
    parts = [method_label]
    if fused:
        gamma = e.params.get("gamma")
        parts.append(f"fused {len(fused)} layers: {' + '.join(fused)}" + (f" (tanh γ={gamma:g})" if gamma else ""))
    if info is not None:
        parts.append(f"{info.name} {'×'.join(map(str, info.shape))}")
    parts.append(str(e.class_name) if e.target is None else f"{e.class_name} (#{e.target})")  # a custom score: its name
    if e.channels is not None and info is not None:
        parts.append(f"{len(e.channels)} of {info.shape[0]} feature maps")
    if e.region is not None:
        r0, c0, r1, c1 = e.region
        parts.append(f"region rows {r0}–{r1 - 1}, cols {c0}–{c1 - 1}")
    if e.blank:
        parts.append(f"blank map: {e.blank_reason}" if e.blank_reason else "blank map (nothing positive)")
    return " · ".join(parts)
