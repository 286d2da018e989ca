"""``camwidget demo``: copy the example notebooks to a working folder and open JupyterLab on them.

The notebooks ship inside the wheel (``camwidget/notebooks/``); a source checkout uses its
``notebooks/`` folder. They are copied (never overwritten) so the installed package stays
read-only and a user's edits survive the next ``camwidget demo``. As root (containers),
JupyterLab gets ``--allow-root``.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIRST = "quickstart.ipynb"


def notebooks_dir() -> Path:
    """Where the example notebooks are: in the installed package, else the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "notebooks", here.parent / "notebooks"):
        if (candidate / FIRST).is_file():
            return candidate
    raise FileNotFoundError(f"notebooks: {FIRST} is neither in {here / 'notebooks'} nor in {here.parent / 'notebooks'}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="camwidget-demo",
                        help="the folder the notebooks are copied to (default: ./camwidget-demo)")
    parser.add_argument("--dry-run", action="store_true",
                        help="copy the notebooks and print the JupyterLab command instead of running it")


def copy_notebooks(folder: Path) -> list[Path]:
    """Copy every example notebook into ``folder`` (existing files are kept); returns the copies."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sorted(notebooks_dir().glob("*.ipynb")):
        target = folder / source.name
        if not target.exists():
            shutil.copyfile(source, target)
        copies.append(target)
    return copies


def lab_command(notebook: Path) -> list[str]:
    """The command that opens JupyterLab on ``notebook`` (``--allow-root`` as root)."""
    command = [sys.executable, "-m", "jupyterlab", str(notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise (containers often run as root)
    return command


def main(args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser().resolve()
    copy_notebooks(folder)
    command = lab_command(folder / FIRST)
    if args.dry_run:
        print(" ".join(command))
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print('camwidget demo: JupyterLab is not installed; pip install "camwidget[demo]"', file=sys.stderr)
        return 2
    return subprocess.call(command, cwd=folder)
