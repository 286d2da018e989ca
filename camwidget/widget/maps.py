"""The feature-map atlas: thumbnails of the current layer's feature maps, heaviest first.

Sent once the selection has been still for ``ATLAS_AFTER_S`` (a drag along the layer strip gets
its maps first and the thumbnails when it stops) and dropped if a newer selection arrives
meanwhile. The ranking is the method's channel weights for the target over every channel and
neuron: a channel subset leaves the weights as they are (the answer's are reused); under a region
the region-free explanation comes from the worker's cache or is computed cancellably.
"""
from __future__ import annotations

from typing import Any

import traitlets as t

from . import wire
from .panel import Panel
from .worker import Answer, Job

#: The thumbnails follow once the selection has been still this long.
ATLAS_AFTER_S = 0.15


class FeatureMaps(Panel):
    """The channel grid (js/channel_grid.ts)."""

    name = "maps"
    traits = {
        "channels_atlas": t.Bytes(b"").tag(sync=True),
        "atlas_meta": t.Dict().tag(sync=True),
    }

    def __init__(self, widget: Any, **options: Any) -> None:
        super().__init__(widget)
        self._sent: str | None = None

    def on_answer(self, answer: Answer, job: Job) -> None:
        whole = answer.request.selection.without_subset()
        if whole.key == self._sent or not job.wait_still(ATLAS_AFTER_S):
            return
        # Under a region, or fused over layers, the ranking comes from the one layer's whole map.
        subset = answer.explanation.region is not None or answer.request.selection.fuse_layers
        e = job.explain(whole) if subset else answer.explanation
        with job.session() as session:
            acts = session.activations(whole.layer)
        data, meta = wire.pack_atlas(acts, e.weights)
        meta["layer"] = whole.layer
        if job.superseded():
            return  # the user moved on while they were packed: do not send stale thumbnails
        self.widget.publish(channels_atlas=data, atlas_meta=meta)
        self._sent = whole.key
