"""Shared fixtures: tiny CNNs for unit tests, the real default model where realism is the point."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from nets import TinyCNN, TinyVGG, tiny_preprocess  # noqa: F401

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture
def tiny_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)


@pytest.fixture
def tiny_session(tiny_model, tiny_image):
    import camwidget as cw

    return cw.Session(tiny_model, tiny_image, preprocess=tiny_preprocess)


@pytest.fixture(scope="session")
def default_model():
    import camwidget as cw

    return cw.models.default()


@pytest.fixture(scope="session")
def chelsea():
    import camwidget as cw

    return cw.samples.load("chelsea")
