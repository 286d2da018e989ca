"""Shared timing helpers for the benchmarks: medians of repeated runs, printed as ratios."""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import torch


def median_seconds(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each function, run round-robin so machine load drifts hit all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def page_faults(fn: Callable[[], object], repeats: int = 5) -> int:
    """Median minor page faults of one call of ``fn`` (fresh memory the OS had to hand over)."""
    import resource

    counts = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        fn()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return int(statistics.median(counts))


def forward_seconds(model: torch.nn.Module, x: torch.Tensor, repeats: int = 7, warmup: int = 3) -> float:
    """Median time of one no-grad forward pass: the unit every ratio is measured in."""
    model.eval()

    def run():
        with torch.no_grad():
            model(x)

    return median_seconds(run, repeats, warmup)


def machine() -> str:
    return f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def line(label: str, seconds: float, reference: float, reference_name: str = "forward") -> str:
    return f"{label:<58} {seconds * 1000:9.2f} ms   {seconds / reference:8.3f} × {reference_name}"
