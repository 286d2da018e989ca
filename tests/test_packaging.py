"""The wheel carries the built frontend and the notebooks, and works with its core dependencies only."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert (ROOT / "camwidget" / "static" / "widget.js").exists(), "run `npm run build` (./dev setup does)"
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, cwd=ROOT,
    )
    (found,) = out.glob("camwidget-*.whl")
    return found


def test_wheel_carries_the_built_frontend_and_the_notebooks(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("camwidget/static/widget.js", "camwidget/engine/session.py", "camwidget/widget/shared.json",
                 "camwidget/py.typed", "camwidget/notebooks/quickstart.ipynb"):
        assert name in names, name
    assert not any(n.startswith(("tests/", "js/", "notebooks/")) for n in names)


def test_engine_imports_no_notebook_machinery():
    code = (
        "import sys, numpy as np, camwidget, camwidget.engine, camwidget.datasets.campaign;"
        "from camwidget.labels.reveal_steps import reveal_mask;"
        "assert reveal_mask(np.arange(100.0).reshape(10, 10), 0).sum() == 2;"
        "bad = [m for m in ('anywidget', 'ipywidgets', 'camwidget.widget', 'IPython') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- a fresh environment with the core dependencies only ---------------------------------------------
def _requirements(requires: list[str] | None) -> list[str]:
    """Names of the requirements that apply here without any extra."""
    from packaging.requirements import Requirement

    names = []
    for line in requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def _closure(names: list[str]) -> dict[str, metadata.Distribution]:
    """Every installed distribution these requirements need, transitively."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        key = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if key in found:
            continue
        dist = metadata.distribution(key)  # missing here: the core dependencies cannot be met
        found[key] = dist
        todo.extend(_requirements(dist.requires))
    return found


def _link_site(dists: dict[str, metadata.Distribution], site: Path) -> None:
    """A site-packages holding exactly these distributions (links to this environment's files)."""
    here = Path(sysconfig.get_paths()["purelib"]).resolve()
    site.mkdir(parents=True)
    for dist in dists.values():
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = here / top
            if top.endswith(".pth") or top == "__pycache__" or not source.exists() or (site / top).exists():
                continue
            (site / top).symlink_to(source)


@pytest.mark.slow
def test_the_wheel_with_core_dependencies_only_runs_the_widget_store_demo(wheel, tmp_path):
    """Installing every core dependency with pip takes minutes, so the fresh venv (no system site
    packages) gets them as links into this environment — exactly the closure of the wheel's
    non-extra requirements (no Sentence-BERT, no psycopg, no JupyterLab) — and the wheel itself
    is pip-installed there."""
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    core = _requirements([line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")])
    assert {"sqlalchemy", "simplemma"} <= {n.lower() for n in core}
    dists = _closure(core)
    for absent in ("sentence-transformers", "psycopg", "jupyterlab"):
        assert absent not in dists, f"{absent} is pulled in by the core dependencies"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = tmp_path / "core-deps"
    _link_site(dists, deps)
    (site / "camwidget-core-deps.pth").write_text(str(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True)
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        from pathlib import Path
        import camwidget as cw
        assert Path(cw.__file__).is_relative_to({str(site)!r}), cw.__file__
        for extra in ("sentence_transformers", "psycopg", "jupyterlab"):
            try:
                __import__(extra)
            except ImportError:
                pass
            else:
                raise AssertionError(extra + " is importable in the core-only venv")
        w = cw.explore()
        assert w.wait(120) and w.answered == w.request and w.error == "" and len(w.heatmap) > 0, w.error
        session = w.session
        layer = session.layers[1].name
        store = cw.LabelStore({str(tmp_path / 'labels.sqlite')!r})
        cluster = session.clusters(layer)[0]
        a = store.annotate(session, layer=layer, cluster=cluster, text="pointy ears", guess=281)
        assert a.outcome == "win" or a.guess == 281
        w.close()
        try:
            cw.global_explanation(store, a.target)
        except ImportError as exc:
            message = str(exc)
            assert 'pip install "camwidget[labels]"' in message and "\\n" not in message, message
            print("EXTRA:", message)
        else:
            raise AssertionError("global_explanation ran without Sentence-BERT")
        demo = subprocess.run([sys.executable, "-m", "camwidget.cli", "demo", "--help"], capture_output=True, text=True)
        assert demo.returncode == 0 and "--dry-run" in demo.stdout, demo.stderr
        demo = subprocess.run([sys.executable, "-m", "camwidget.cli", "demo", "--dry-run", "--dir", {str(tmp_path / 'demo')!r}],
                              capture_output=True, text=True)
        assert demo.returncode == 0 and "quickstart.ipynb" in demo.stdout, demo.stderr
        assert ("--allow-root" in demo.stdout) == (os.geteuid() == 0), demo.stdout  # JupyterLab refuses root otherwise
        assert Path({str(tmp_path / 'demo' / 'quickstart.ipynb')!r}).is_file()
        print("OK")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([py, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]
    assert "EXTRA:" in done.stdout
