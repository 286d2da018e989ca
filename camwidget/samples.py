"""The natural photographs that scikit-image ships, by name (no download).

A sample's name is accepted wherever an image is (``images.load``, ``Session``, ``explore``) when
no file of that name exists: one rule for all of them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

NAMES = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle_left")


def is_name(value: Any) -> bool:
    """Whether ``value`` is the name of a sample image."""
    return isinstance(value, str) and value in NAMES


def load(name: str) -> np.ndarray:
    """An RGB uint8 sample image: one of ``NAMES``."""
    from skimage import data

    if not is_name(name):
        raise ValueError(f"name: unknown sample {name!r}; valid: {', '.join(NAMES)}")
    if name == "motorcycle_left":
        return np.ascontiguousarray(data.stereo_motorcycle()[0])
    return np.ascontiguousarray(getattr(data, name)())


def dataset(name: str = "objects", n: int = 32, seed: int = 0):
    """An offline localisation set (objects pasted at known boxes): see ``camwidget.datasets.synthetic``."""
    from .datasets.synthetic import dataset as make

    return make(name, n=n, seed=seed)
