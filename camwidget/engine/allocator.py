"""Freed memory kept for reuse: a new image's forward and backward without fresh pages from the OS.

A session keeps every layer's activations and gradients; a new image (a new session) allocates
them again. With glibc's default settings, blocks above a moving threshold (128 KiB to 32 MiB)
are mapped and unmapped for each allocation, and freed memory above 2 × that threshold at the
top of the heap is handed back to the OS at once, so the next forward takes fresh pages from the
kernel: each a page fault and a page of zeroes. On EfficientNet-Lite0 at 224² that was ~10,000
faults per new image (about a third of the first explanation's time on one thread); a plain
forward + backward loop, whose blocks are freed and reused in the same order, takes almost none.

``keep_freed_memory()`` sets glibc's ``M_MMAP_THRESHOLD`` to its maximum (32 MiB: blocks up to
that size come from the heap and are reused) and ``M_TRIM_THRESHOLD`` to ``trim_mib`` (up to that
much freed memory stays in the process for the next image instead of going back to the OS). It is
what PyTorch's CPU performance guides get from preloading jemalloc or tcmalloc, done in-process.
The cost: the process's resident memory does not shrink after a session is dropped by more than
``trim_mib`` — memory that the next session reuses.

Process-wide, so it runs once, on the first ``Session``; not on non-glibc platforms (macOS,
Windows, musl), and not when the environment variable ``CAMWIDGET_KEEP_FREED_MEMORY`` is ``0``.

Blocks above 32 MiB are still mapped afresh for each allocation. A batch of 16 images at 224²
has many (EfficientNet-Lite0's 96-channel layers at 112² are 77 MB, their gradients too; resnet50's
``layer1`` at batch 16 is 51 MB), so the batched jobs — ``explain_dataset``, Smooth Grad-CAM++'s
noisy batches, Score-CAM's masked passes — run inside ``heap_only()``: glibc's ``M_MMAP_MAX`` is 0
there, so every block comes from the heap and is reused batch after batch (Smooth Grad-CAM++ on
resnet50: 29,000 fresh pages per run → 0 once warm; its resident memory plateaus ~150 MB higher).
Long runs — ``explain_dataset``, ``evaluate_dataset``, Score-CAM — use ``heap_only(keep_all=True)``:
nothing freed leaves the process during the run (the trim threshold at its maximum: a batch's ~1 GB would otherwise go back to the OS and be
faulted in again by the next — Grad-CAM at every layer of a batch of 16: 74,000 fresh pages per
batch → 0, backward + maps 0.59–0.65 → 0.49–0.51 s), and at its end ``malloc_trim`` hands back all
but ``trim_mib`` (tested). ``malloc_trim`` after every short job was tried: it also returns the
free blocks that the next job reuses — more fresh pages than without either.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
DEFAULT_MMAP_MAX = 65536  # glibc's default number of mapped blocks
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
DEFAULT_TRIM_MIB = 256

_applied: bool | None = None
_heap_lock = threading.Lock()
_heap_depth = 0  # heap_only() scopes open now (threads, nesting)
_trim_bytes = DEFAULT_TRIM_MIB << 20  # the trim threshold keep_freed_memory set
KEEP_ALL = (1 << 31) - 1  # the largest trim threshold mallopt takes: nothing handed back
_heap_keeps_all = False  # a keep_all scope is open


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, where this process runs on it and the environment does not refuse (else None);
    looked up once (``find_library`` runs ``ldconfig``)."""
    if os.environ.get("CAMWIDGET_KEEP_FREED_MEMORY", "1").strip() == "0":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory(trim_mib: int = DEFAULT_TRIM_MIB) -> bool:
    """Ask glibc to keep up to ``trim_mib`` MiB of freed memory for reuse; True if it applied.

    Idempotent: the first call decides (later calls return its answer). Does nothing where the
    C library is not glibc or ``CAMWIDGET_KEEP_FREED_MEMORY=0``.
    """
    global _applied
    if _applied is not None:
        return _applied
    if isinstance(trim_mib, bool) or not isinstance(trim_mib, int) or trim_mib < 0:
        raise ValueError(f"trim_mib: expected a non-negative integer (MiB), got {trim_mib!r}")
    _applied = False
    libc = _libc()
    if libc is None:
        return False
    global _trim_bytes
    _trim_bytes = trim_mib << 20
    _applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, _trim_bytes))
    return _applied


@contextmanager
def heap_only(keep_all: bool = False) -> Iterator[bool]:
    """Within the block, every allocation comes from glibc's heap (none mapped afresh), so a loop
    of big batches reuses its freed blocks; leaving the last open block puts
    ``keep_freed_memory``'s settings back. ``keep_all``: freed memory stays in the process too
    within the block (the trim threshold at its maximum), and on leaving ``malloc_trim`` hands
    back all but ``trim_mib`` of it — for one long run (``explain_dataset``), not for a short job
    whose next run would fault it all in again. Yields whether it applied (glibc, and not turned
    off by ``CAMWIDGET_KEEP_FREED_MEMORY=0``). Safe across threads and nested."""
    global _heap_depth, _heap_keeps_all
    libc = _libc()
    if libc is None or not keep_freed_memory():
        yield False
        return
    with _heap_lock:
        _heap_depth += 1
        if _heap_depth == 1:
            libc.mallopt(M_MMAP_MAX, 0)
        if keep_all and not _heap_keeps_all:
            _heap_keeps_all = True
            libc.mallopt(M_TRIM_THRESHOLD, KEEP_ALL)
    try:
        yield True
    finally:
        with _heap_lock:
            _heap_depth -= 1
            if _heap_depth == 0:
                libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                if _heap_keeps_all:
                    _heap_keeps_all = False
                    libc.mallopt(M_TRIM_THRESHOLD, _trim_bytes)
                    libc.malloc_trim(_trim_bytes)


def applied() -> bool | None:
    """Whether ``keep_freed_memory`` applied (None: not asked yet in this process)."""
    return _applied
