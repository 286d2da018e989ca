"""The filmstrip: a thumbnail of every layer's map on the layer strip (js/filmstrip.ts).

After each answer, once the selection has been still for ``FILMSTRIP_AFTER_S``, the map of the
same method, target and region (rescaled to each layer's grid; the channel subset on its own
layer) is computed at every layer from the cache (camwidget/engine/filmstrip.py) and sent as one
packed message: ``filmstrip`` holds L × th × tw uint8 thumbnails in depth order, each scaled to
its own peak; ``filmstrip_meta`` says for which selection, the layers, the tile size and each
layer's peak. Methods that are not arithmetic on the cache get an empty filmstrip
(``meta["method"]`` names the method, ``meta["layers"]`` is empty). A newer selection drops it.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import traitlets as t

from ..engine.filmstrip import CACHED_METHODS, THUMB, filmstrip
from . import wire
from .panel import Panel
from .worker import Answer, Job

#: The filmstrip follows once the selection has been still this long (after the atlas's wait).
FILMSTRIP_AFTER_S = 0.15
#: Layers computed per hold of the session lock (a newer request waits at most one chunk).
CHUNK = 12


class Filmstrip(Panel):
    """Every stop of the layer strip shows its layer's map."""

    name = "filmstrip"
    traits: ClassVar[dict[str, t.TraitType]] = {
        "filmstrip": t.Bytes(b"").tag(sync=True),
        "filmstrip_meta": t.Dict().tag(sync=True),
    }

    def __init__(self, widget: Any, **options: Any) -> None:
        super().__init__(widget)
        self._sent: str | None = None

    def on_answer(self, answer: Answer, job: Job) -> None:
        s = answer.request.selection
        key = f"{s.method}|{s.target!r}#{hash(s.target)}|{s.region}|{s.layer if (s.region or s.channels) else ''}|{s.channels}"
        if key == self._sent or not job.wait_still(FILMSTRIP_AFTER_S):
            return
        meta: dict[str, Any] = {"method": s.method, "target": s.target_json, "layer": s.layer, "layers": [], "tile": [THUMB, THUMB]}
        data = b""
        if s.method in CACHED_METHODS:
            with job.session() as session:
                names = [info.name for info in session.layers]
            layers, maps, blank = [], [], []
            for start in range(0, len(names), CHUNK):  # the session lock is let go between chunks
                if job.superseded():
                    return
                with job.session() as session:
                    part = filmstrip(session, s.method, s.target, region=s.region, region_layer=s.layer,
                                     channels=s.channels, channels_layer=s.layer, layers=names[start:start + CHUNK])
                layers += part.layers
                maps.append(part.maps)
                blank += part.blank
            stack = np.concatenate(maps) if maps else np.zeros((0, THUMB, THUMB), np.float32)
            data = wire.to_uint8(stack).tobytes() if layers else b""
            meta.update(layers=layers, peaks=[float(m.max()) for m in stack], blank=blank)
        if job.superseded():
            return  # the user moved on: do not send a stale filmstrip
        self.widget.publish(filmstrip=data, filmstrip_meta=meta)
        self._sent = key
