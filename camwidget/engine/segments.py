"""Superpixels of an image: the regions SeCAM scores and LIME switches on and off.

Three segmenters, scikit-image's:

- ``"slic"`` (SeCAM's default): ``slic(image, n_segments, compactness=10, start_label=0)``,
  computed by ``engine/slic.py`` — the same labels, its k-means on every core.
- ``"quickshift"`` with LIME's parameters (``kernel_size=4, max_dist=200, ratio=0.2``) and
  scikit-image's default seed (``rng=42``) — exactly what the ``lime`` package runs by default
  (its wrapper drops its own ``random_seed`` because scikit-image renamed that argument).
  Quickshift has no segment-count parameter: ``n_segments`` is ignored (and left out of the
  cache key).
- ``"felzenszwalb"``: ``felzenszwalb(image, scale=100, sigma=0.8, min_size=H·W / (4·n_segments))``.
  The algorithm has no segment count either; the minimum segment size derived from
  ``n_segments`` keeps the count roughly between ``n_segments / 2`` and ``n_segments``
  on natural photographs (it is an approximation, not a target).

Labels are always renumbered to ``0 … n-1`` (int32, image resolution), the form LIME's sampling
assumes (column ``j`` of a sample switches segment ``j``).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from . import slic

SEGMENTERS = ("slic", "quickshift", "felzenszwalb")


def param_schema(default_segmenter: str) -> dict[str, dict]:
    """The segmentation parameters SeCAM and LIME share, as method-parameter schemas."""
    return {
        "segmenter": {"type": "choice", "default": default_segmenter, "choices": list(SEGMENTERS), "label": "segmenter"},
        "n_segments": {"type": "int", "default": 50, "min": 1, "label": "segments (not quickshift)"},
    }

# LIME's quickshift parameters (lime_image.LimeImageExplainer.explain_instance).
QUICKSHIFT = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}
SLIC_COMPACTNESS = 10
FELZENSZWALB = {"scale": 100, "sigma": 0.8}


def check_image(image: Any) -> np.ndarray:
    """An RGB H × W × 3 array, or ValueError naming ``image``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a numpy array H×W×3 (RGB), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        kind = "grayscale" if image.ndim == 2 else ("RGBA" if image.ndim == 3 and image.shape[2] == 4 else "not RGB")
        raise ValueError(f"image: segmentation needs an RGB H×W×3 image; got shape {image.shape} ({kind})")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: empty image of shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(f"image: expected an integer or float array, got dtype {image.dtype}")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError("image: contains NaN or infinite values")
    return image


def check_params(segmenter: Any, n_segments: Any) -> tuple[str, int]:
    """``(segmenter, n_segments)`` validated; ValueError naming the parameter otherwise."""
    if segmenter not in SEGMENTERS:
        raise ValueError(f"segmenter: {segmenter!r} is unknown; valid: {', '.join(SEGMENTERS)}")
    if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)):
        raise ValueError(f"n_segments: expected a positive integer, got {n_segments!r}")
    if n_segments < 1:
        raise ValueError(f"n_segments: must be >= 1, got {n_segments}")
    return segmenter, int(n_segments)


def segment(image: np.ndarray, segmenter: str = "slic", n_segments: int = 50) -> np.ndarray:
    """Superpixel labels of ``image``: int32 H × W, numbered ``0 … n-1``."""
    image = check_image(image)
    segmenter, n_segments = check_params(segmenter, n_segments)
    from skimage import segmentation

    if segmenter == "slic":
        labels = slic.slic(image, n_segments, SLIC_COMPACTNESS)
    elif segmenter == "quickshift":
        labels = segmentation.quickshift(image, **QUICKSHIFT)
    else:
        h, w = image.shape[:2]
        min_size = max(1, int(h * w / (4 * n_segments)))
        labels = segmentation.felzenszwalb(image, min_size=min_size, **FELZENSZWALB)
    return relabel(labels)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered to ``0 … n-1`` in the order of their values, as int32 (``np.unique``'s
    inverse). Integer labels spanning at most a few times the pixel count — every segmenter's —
    go through a table of the values present (linear time: 1–2 ms on a 640×427 image, where
    ``np.unique``'s sort took 10–14 ms of a 75 ms SeCAM)."""
    labels = np.asarray(labels)
    flat = labels.ravel()
    if flat.size and np.issubdtype(flat.dtype, np.integer):
        low, high = int(flat.min()), int(flat.max())
        if high - low < 4 * flat.size:
            offset = flat.astype(np.intp) - low
            present = np.bincount(offset) > 0
            if low == 0 and present.all():
                return labels.astype(np.int32)  # already 0 … n-1, every value used (SLIC's kernels)
            table = np.cumsum(present, dtype=np.int64) - 1
            return table[offset].astype(np.int32).reshape(labels.shape)
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int32)


def cache_key(segmenter: str, n_segments: int) -> tuple:
    """The session-cache key of a segmentation (quickshift ignores ``n_segments``)."""
    return ("segments", segmenter, None if segmenter == "quickshift" else n_segments)


def of_session(session, segmenter: str = "slic", n_segments: int = 50) -> np.ndarray:
    """The session image's superpixels, computed once per session (= per image) and parameters."""
    segmenter, n_segments = check_params(segmenter, n_segments)
    return session.cached(cache_key(segmenter, n_segments), lambda: start(session, segmenter, n_segments).result())


_pool: ThreadPoolExecutor | None = None


class Pending:
    """A segmentation computed when collected, on the collecting thread (``result()`` as a Future's)."""

    def __init__(self, compute: Callable[[], np.ndarray]):
        self._compute = compute
        self._lock = threading.Lock()
        self._labels: np.ndarray | None = None

    def result(self) -> np.ndarray:
        with self._lock:
            if self._labels is None:
                self._labels = self._compute()
            return self._labels


def uses_every_core(segmenter: str) -> bool:
    """Whether this segmenter runs on every core by itself (SLIC's compiled kernels)."""
    return segmenter == "slic" and slic.available() and slic.threads() > 1


def start(session, segmenter: str = "slic", n_segments: int = 50) -> Future | Pending:
    """Begin the session image's superpixels; ``of_session`` collects them.

    SeCAM calls it before the model's forward. A segmenter on one core (quickshift, felzenszwalb,
    scikit-image's SLIC) starts on a worker thread: its Cython and PyTorch's kernels both release
    the GIL, so the two run side by side on two cores. SLIC's own kernels use every core already;
    next to the forward they would only compete for the cores (PyTorch's threads spin between
    operations), so it waits to be collected (measured on coffee: 64 ms for the forward then SLIC,
    76 ms for the two side by side).
    """
    global _pool
    segmenter, n_segments = check_params(segmenter, n_segments)

    def begin() -> Future | Pending:
        global _pool
        if uses_every_core(segmenter):
            return Pending(lambda: segment(session.image, segmenter, n_segments))
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camwidget-segments")
        return _pool.submit(segment, session.image, segmenter, n_segments)

    return session.cached(("segments started",) + cache_key(segmenter, n_segments)[1:], begin)


def count(segments: np.ndarray) -> int:
    """The number of segments in a ``0 … n-1`` labelling."""
    return int(segments.max()) + 1 if segments.size else 0
