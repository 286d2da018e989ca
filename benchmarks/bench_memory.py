"""Memory soak: one session answering 1,000 mixed explanations, then 300 new sessions.

Not a timed test: it prints the process's resident memory (RSS) at checkpoints next to what the
session's cache holds and its budget, so a reader sees the cache plateau under the budget instead
of growing with every new segmentation, clustering, LIME fit or smoothed derivative.

The mix (default model, EfficientNet-Lite0 on ``chelsea``), per ten explanations: Grad-CAM and
Grad-CAM++ at random layers for 30 targets (4), SeCAM with a new ``n_segments`` each time (1),
Smooth Grad-CAM++ with a new seed (1), an INV cluster with one of 40 seeds (1), LIME with a new
seed (1), "neurons" for a random channel subset (1) and Grad-CAM of a random region (1).

    .venv/bin/python benchmarks/bench_memory.py                       # the default budget
    .venv/bin/python benchmarks/bench_memory.py --budget-mib 128 --explanations 300 --sessions 50
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")  # LIME's progress bar would interleave with the lines

import camwidget as cw
from camwidget.engine import hook_count
from camwidget.engine.cache import DEFAULT_BUDGET

MIB = 2**20


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def explain_one(session: cw.Session, i: int, rng: np.random.Generator, targets: list[int]) -> None:
    layers = [info.name for info in session.layers]
    target = targets[i % len(targets)]
    kind = i % 10
    if kind < 4:
        session.explain(("gradcam", "gradcam++")[kind % 2], layer=layers[rng.integers(len(layers))], target=target)
    elif kind == 4:
        session.explain("secam", target=target, n_segments=20 + (i // 10) % 200, k=1)
    elif kind == 5:
        session.explain("smooth-gradcam++", target=target, n=2, seed=i)
    elif kind == 6:
        session.explain("inv", target=targets[0], seed=(i // 10) % 40)
    elif kind == 7:
        session.explain("lime", target=target, n_samples=16, batch_size=16, seed=i)
    elif kind == 8:
        info = session.layers[rng.integers(len(layers))]
        channels = sorted(rng.choice(info.channels, size=min(3, info.channels), replace=False).tolist())
        session.explain("neurons", layer=info.name, channels=channels)
    else:
        info = session.layers[-1]
        h, w = info.grid
        r0, c0 = int(rng.integers(h)), int(rng.integers(w))
        session.explain("gradcam", layer=info.name, target=target, region=(r0, c0, h, w))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-mib", type=float, default=DEFAULT_BUDGET / MIB)
    parser.add_argument("--explanations", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--every", type=int, default=100, help="checkpoint interval (explanations)")
    args = parser.parse_args()
    budget = int(args.budget_mib * MIB)

    import warnings

    warnings.filterwarnings("ignore")
    model, preprocess, classes = cw.models.default()
    image = cw.samples.load("chelsea")
    gc.collect()
    print(f"budget {budget / MIB:.0f} MiB; RSS with the model loaded: {rss_mib():.0f} MiB")

    session = cw.Session(model, image, preprocess=preprocess, classes=classes, cache_bytes=budget)
    targets = [c for c, _, _ in session.top(30)]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    peak_cache = 0
    for i in range(args.explanations):
        explain_one(session, i, rng, targets)
        peak_cache = max(peak_cache, session.cache.used)
        if (i + 1) % args.every == 0:
            info = session.cache_info()
            print(f"explanations {i + 1:5d}: RSS {rss_mib():7.0f} MiB | cache {info.used / MIB:6.1f} MiB of "
                  f"{budget / MIB:.0f} MiB in {info.entries:4d} entries, {info.evictions:5d} evicted | "
                  f"forward {info.forward_bytes / MIB:.0f} MiB | {time.perf_counter() - started:6.0f} s")
    info = session.cache_info()
    print(f"one session, {args.explanations} explanations: peak cache {peak_cache / MIB:.1f} MiB "
          f"(budget {budget / MIB:.0f} MiB); {info}")
    print("by kind: " + ", ".join(f"{k} {n} ({b / MIB:.1f} MiB)" for k, (n, b) in sorted(info.kinds.items())))
    del session
    gc.collect()

    print(f"after the session is dropped: RSS {rss_mib():.0f} MiB")
    checkpoints = {1, 10, 50, 100, 150, 200, 250, 300, args.sessions}
    started = time.perf_counter()
    for i in range(args.sessions):
        s = cw.Session(model, image, preprocess=preprocess, classes=classes, cache_bytes=budget)
        s.explain("gradcam++", target=targets[i % len(targets)])
        s.explain("secam", target=targets[i % len(targets)])
        del s
        if i + 1 in checkpoints:
            gc.collect()
            print(f"new sessions {i + 1:4d}: RSS {rss_mib():7.0f} MiB | hooks left {hook_count(model)} | "
                  f"{time.perf_counter() - started:6.0f} s")


if __name__ == "__main__":
    main()
