"""Browser tests: Debian's chromium, skipped only outside CI when it is missing."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = lab.chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (apt-get install chromium); CI must run the browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path
