"""SLIC superpixels (Achanta et al. 2012): scikit-image's algorithm and labels, on every core.

``slic(image, n_segments, compactness)`` returns label for label what
``skimage.segmentation.slic(image, n_segments=n_segments, compactness=compactness, start_label=0)``
returns (its defaults otherwise: 10 k-means iterations, no smoothing, Lab colours, connectivity
enforced with size factors 0.5 and 3), in less time:

- the conversion to float and to Lab runs on blocks of rows in threads (every step of it is per
  pixel, and numpy releases the GIL);
- each k-means iteration's assignment step runs on bands of rows in threads: a band visits every
  centre's window limited to its own rows, with scikit-image's arithmetic in its order, so each
  pixel's distances are the same numbers and ties go to the lower centre as there; the loop along
  a row is vectorised;
- the centre update and the connectivity pass stay sequential (the same additions in the same
  order), compiled with numba.

scikit-image's own ``slic`` runs instead where this one would not give its labels for sure: without
numba, for float16/float32 images (scikit-image computes those in float32), and for the degenerate
case of a pixel that no centre's window reaches.  numba compiles the kernels once per machine (a
second or two, cached on disk next to this file or in numba's user cache).
"""
from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

MAX_ITERATIONS = 10        # scikit-image's max_num_iter
MIN_SIZE_FACTOR = 0.5      # scikit-image's min_size_factor / max_size_factor
MAX_SIZE_FACTOR = 3.0
BANDS_PER_THREAD = 4         # bands of rows per thread and step: uneven cores even out

_pool: ThreadPoolExecutor | None = None
_kernels: Any = None


def available() -> bool:
    """Whether the compiled kernels can run here (numba importable)."""
    return _load() is not None


def threads() -> int:
    """The number of threads the parallel steps use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def slic(image: np.ndarray, n_segments: int, compactness: float = 10.0,
         n_threads: int | None = None) -> np.ndarray:
    """SLIC labels of an RGB ``image`` (H × W × 3), ``0 … n-1`` as scikit-image numbers them (intp)."""
    kernels = _load()
    if kernels is None or not _float64_path(image.dtype):
        return _skimage(image, n_segments, compactness)
    n_threads = threads() if n_threads is None else max(1, int(n_threads))
    height, width = image.shape[:2]
    planes = _lab_planes(image, 1.0 / compactness, n_threads)

    from skimage.util import regular_grid

    grid = regular_grid((1, height, width), n_segments)
    axes = [np.arange(size)[s] for size, s in zip((1, height, width), grid)]
    centroids = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=-1)
    n_centroids = centroids.shape[0]
    segments = np.ascontiguousarray(
        np.concatenate([centroids, np.zeros((n_centroids, 3))], axis=-1), dtype=np.float64)
    # The windows are 2 steps of the grid for the *actual* number of centroids (as in the Cython).
    window_steps = [int(s.step if s.step is not None else 1) for s in regular_grid((1, height, width), n_centroids)]
    step = np.float32(max(float(s.step) if s.step is not None else 1.0 for s in grid))
    spatial_weight = 1.0 / float(step * step)

    labels = np.full((height, width), -1, dtype=np.intp)
    distance = np.empty((height, width), dtype=np.float64)
    rows = np.arange(height, dtype=np.float64)
    columns = np.arange(width, dtype=np.float64)
    bands = _bounds(height, BANDS_PER_THREAD * n_threads if n_threads > 1 else 1)
    for _ in range(MAX_ITERATIONS):
        def assign(band: tuple[int, int]) -> bool:
            return kernels.assign(planes, segments, columns, window_steps[1], window_steps[2],
                                  spatial_weight, labels, distance, band[0], band[1])
        if not any(_map(assign, bands, n_threads)):
            break
        if not kernels.update(planes, labels, segments, rows, columns):
            return _skimage(image, n_segments, compactness)  # a pixel no window reached
    segment_size = height * width / n_centroids
    return kernels.connect(labels, int(MIN_SIZE_FACTOR * segment_size), int(MAX_SIZE_FACTOR * segment_size))


def _float64_path(dtype: np.dtype) -> bool:
    """scikit-image computes SLIC in float64 for integer, bool and float64 images."""
    return dtype == np.float64 or np.issubdtype(dtype, np.integer) or dtype == np.bool_


def _skimage(image: np.ndarray, n_segments: int, compactness: float) -> np.ndarray:
    from skimage import segmentation

    return segmentation.slic(image, n_segments=n_segments, compactness=compactness, start_label=0)


def _lab_planes(image: np.ndarray, ratio: float, n_threads: int) -> np.ndarray:
    """The image as scikit-image's SLIC sees it: float in [0, 1] over its range, Lab, × ratio;
    as three C-contiguous planes (L, a, b)."""
    from skimage.color import rgb2lab
    from skimage.util import img_as_float

    height, width = image.shape[:2]
    blocks = _bounds(height, BANDS_PER_THREAD * n_threads if n_threads > 1 else 1)  # small blocks stay in cache
    floats = np.empty((height, width, 3), dtype=np.float64)

    def to_float(block: tuple[int, int]) -> tuple[float, float]:
        part = img_as_float(image[block[0]:block[1]]).astype(np.float64, copy=False)
        floats[block[0]:block[1]] = part
        return (part.min(), part.max()) if part.size else (math.inf, -math.inf)

    ranges = _map(to_float, blocks, n_threads)
    low = min(r[0] for r in ranges)
    high = max(r[1] for r in ranges)
    planes = np.empty((3, height, width), dtype=np.float64)

    def to_lab(block: tuple[int, int]) -> None:
        part = floats[block[0]:block[1]]
        part -= low
        if high != low:
            part /= high - low
        lab = rgb2lab(part[np.newaxis])[0]
        planes[:, block[0]:block[1]] = np.moveaxis(lab * ratio, -1, 0)

    _map(to_lab, blocks, n_threads)
    return planes


def _bounds(size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ranges covering ``0 … size`` (empty ones dropped)."""
    edges = np.linspace(0, size, max(1, parts) + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a] or [(0, 0)]


def _map(fn, items: list, n_threads: int) -> list:
    """``fn`` over ``items`` (results in order) on this thread and the pool's, each taking the next
    item when it is free, so a core busy elsewhere (the model's forward) delays no one."""
    global _pool
    if len(items) == 1 or n_threads == 1:
        return [fn(item) for item in items]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, threads() - 1), thread_name_prefix="camwidget-slic")
    results: list = [None] * len(items)
    taken = itertools.count()  # next() on it is atomic in CPython

    def work() -> None:
        for i in iter(lambda: next(taken), None):
            if i >= len(items):
                return
            results[i] = fn(items[i])

    helpers = [_pool.submit(work) for _ in range(min(len(items), n_threads, threads()) - 1)]
    work()
    for helper in helpers:
        helper.result()
    return results


def _load() -> Any:
    """The compiled kernels (module ``slic_kernels``), or None without numba."""
    global _kernels
    if _kernels is None:
        try:
            from . import slic_kernels
        except ImportError:
            _kernels = False
        else:
            _kernels = slic_kernels
    return _kernels or None
