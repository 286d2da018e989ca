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
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
DEFAULT_TRIM_MIB = 256

_applied: bool | None = None


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
    if os.environ.get("CAMWIDGET_KEEP_FREED_MEMORY", "1").strip() == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, trim_mib << 20))
    return _applied


def applied() -> bool | None:
    """Whether ``keep_freed_memory`` applied (None: not asked yet in this process)."""
    return _applied
