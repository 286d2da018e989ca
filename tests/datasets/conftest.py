"""Fixtures for the dataset tests: a picklable tiny-model factory, small image sets, and the
label tests' throwaway PostgreSQL server (its fixtures, re-exported)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "labels"))
_spec = importlib.util.spec_from_file_location("_labels_conftest", HERE.parent / "labels" / "conftest.py")
_labels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_labels)
postgres_server = _labels.postgres_server
postgres_url = _labels.postgres_url

import nets


def tiny_factory():
    """The same TinyCNN weights in every process (a Dask worker builds it from this)."""
    torch.manual_seed(0)
    return nets.TinyCNN().eval(), nets.tiny_preprocess, ["zero", "one", "two", "three"]


@pytest.fixture
def tiny_images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8) for i in range(7)]
