"""The peers' most reported failure must not happen here: memory stays flat, no hook is left."""
from __future__ import annotations

import gc
import os

import numpy as np

import camwidget as cw
from camwidget.engine import hook_count

from nets import tiny_preprocess


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_thousand_sessions_and_explanations_keep_memory_flat(tiny_model):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8) for _ in range(8)]

    def run(n):
        for i in range(n):
            s = cw.Session(tiny_model, images[i % 8], preprocess=tiny_preprocess)
            s.explain("gradcam++", layer="features.3", target=i % 4)
            s.explain("cam", target=(i + 1) % 4)

    run(100)  # warm up allocator and caches
    gc.collect()
    before = _rss_mb()
    run(1000)
    gc.collect()
    grown = _rss_mb() - before
    assert grown < 8, f"1000 sessions grew the process by {grown:.1f} MB"
    assert hook_count(tiny_model) == 0

    s = cw.Session(tiny_model, images[0], preprocess=tiny_preprocess)
    s.explain("gradcam", layer="features.3")
    gc.collect()
    before = _rss_mb()
    for i in range(1000):
        s.explain(("gradcam", "gradcam++")[i % 2], layer=("features.0", "features.3")[i % 2],
                  target=i % 4, channels=[0, 1, 2] if i % 3 else None, region=(0, 0, 2, 2) if i % 5 else None)
    gc.collect()
    grown = _rss_mb() - before
    assert grown < 8, f"1000 explanations grew the process by {grown:.1f} MB"
    assert hook_count(tiny_model) == 0
