"""Execute notebooks in place, so that the committed copies show their figures and printed results.

    python notebooks/refresh.py quickstart.ipynb      # after changing the notebook or what it shows

The committed outputs are checked by tests/test_notebooks_committed.py: it runs the notebook again
and fails when a committed output is stale (a printed line differs, an output kind appeared or
went) or is an error.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The notebooks committed with their outputs.
EXECUTED = ("quickstart.ipynb",)


def execute(name: str, timeout: int = 300):
    """Run ``notebooks/<name>`` in the python3 kernel with this checkout importable; the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    os.environ.pop("MPLBACKEND", None)  # the inline backend draws the figures
    nb = nbformat.read(HERE / name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in nb.cells:  # execution counts and timings only make diffs noisy
        cell.metadata.pop("execution", None)
    return nb


def main(argv: list[str]) -> int:
    import nbformat

    for name in argv or EXECUTED:
        nbformat.write(execute(name), str(HERE / name))
        print(f"executed {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
