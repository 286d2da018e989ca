"""Hypothesis profiles for the fuzz tests.

Default (``./dev test``, CI): a fixed seed (``derandomize``) and a bounded number of examples per
target, so the run is reproducible and takes about a minute. ``CAMWIDGET_FUZZ=long`` is the soak:
random seeds, 25× the examples, and the example database kept in ``.hypothesis/`` so a failure
found once is replayed first next time::

    CAMWIDGET_FUZZ=long python -m pytest tests/fuzz -q --hypothesis-show-statistics
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.function_scoped_fixture]}
settings.register_profile("default", derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("long", derandomize=False, print_blob=True, **_COMMON)
PROFILE = "long" if os.environ.get("CAMWIDGET_FUZZ", "").lower() == "long" else "default"
settings.load_profile(PROFILE)


def examples(default: int) -> int:
    """Examples per target: ``default`` in the bounded run, 25× that in the long one."""
    return default * 25 if PROFILE == "long" else default
