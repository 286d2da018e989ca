"""Run a notebook under notebooks/ with nbclient and collect what went wrong and what it drew.

Shared by the tests/test_notebooks_*.py files: each executes one notebook in the python3 kernel
(the interpreter running the tests), with the repository on PYTHONPATH and notebooks/ as the
working directory, and asserts on the returned :class:`NotebookRun`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class NotebookRun:
    """What one execution produced: errors and stderr (``problems``), PNG figures, Markdown outputs."""

    notebook: object
    seconds: float
    problems: list[str] = field(default_factory=list)
    figures: int = 0
    markdown: int = 0


def run_notebook(name: str, monkeypatch, *, timeout: int = 300) -> NotebookRun:
    """Execute ``notebooks/<name>``; ``timeout`` is per cell, in seconds.

    Skips when nbformat or nbclient is missing. Any error output or anything written to stderr is
    a problem; the caller asserts there are none.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # the kernel inherits this process's environment: a non-inline backend would draw no figure
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    start = time.perf_counter()
    client.execute()
    run = NotebookRun(nb, time.perf_counter() - start)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                run.problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                run.problems.append(f"cell {index}: stderr: {output.text[:300]}")
            elif output.output_type == "display_data":
                run.figures += "image/png" in output.get("data", {})
                run.markdown += "text/markdown" in output.get("data", {})
    return run
