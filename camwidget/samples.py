"""The natural photographs that scikit-image ships, by name (no download)."""
from __future__ import annotations

import numpy as np

NAMES = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle_left")


def load(name: str) -> np.ndarray:
    """An RGB uint8 sample image: one of ``NAMES``."""
    from skimage import data

    if name == "motorcycle_left":
        return np.ascontiguousarray(data.stereo_motorcycle()[0])
    if name not in NAMES:
        raise ValueError(f"name: unknown sample {name!r}; valid: {', '.join(NAMES)}")
    return np.ascontiguousarray(getattr(data, name)())


def dataset(name: str = "objects", n: int = 32, seed: int = 0):
    """An offline localisation set (objects pasted at known boxes): see ``camwidget.datasets.synthetic``."""
    from .datasets.synthetic import dataset as make

    return make(name, n=n, seed=seed)
