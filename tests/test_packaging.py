"""The wheel carries the built frontend and imports without a notebook."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_the_built_frontend(tmp_path):
    assert (ROOT / "camwidget" / "static" / "widget.js").exists(), "run `npm run build` (./dev setup does)"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
        check=True, cwd=ROOT,
    )
    (wheel,) = tmp_path.glob("camwidget-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "camwidget/static/widget.js" in names
    assert "camwidget/engine/session.py" in names
    assert not any(n.startswith(("tests/", "js/", "notebooks/")) for n in names)


def test_engine_imports_no_notebook_machinery():
    code = (
        "import sys, camwidget, camwidget.engine;"
        "bad = [m for m in ('anywidget', 'ipywidgets', 'camwidget.widget', 'IPython') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
