"""A run killed mid-way resumes to exactly the store one clean run writes; no Dask in-process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from conftest import tiny_factory

from camwidget.datasets import explain_dataset

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    sys.path.insert(0, {tests!r})
    import nets
    from camwidget.datasets import explain, explain_dataset
    explain.CHUNK_ITEMS = 2  # units of one batch, as on Dask: several units in 7 items

    class Dying:
        def __init__(self, images):
            self.images = images
        def __len__(self):
            return len(self.images)
        def __getitem__(self, index):
            if index == 5:  # the process dies while the unit of items 4-5 is being computed
                os.kill(os.getpid(), signal.SIGKILL)
            return self.images[index]

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(20 + i, 24, 3), dtype=np.uint8) for i in range(7)]
    torch.manual_seed(0)
    model = nets.TinyCNN().eval()
    explain_dataset(model, Dying(images), methods=["gradcam", "cam"], out=sys.argv[1],
                    preprocess=nets.tiny_preprocess, batch_size=2, progress=False)
""")


class Plain:
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index]


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def _arrays(results) -> dict[str, np.ndarray]:
    out = {f"items/{k}": np.asarray(results.group[f"items/{k}"][:])
           for k in ("id", "label", "error", "target", "score", "probability", "done")}
    for method in results.methods:
        for layer in results.layers_of(method):
            out[f"maps/{method}/{layer}"] = results.maps(method, layer)[:]
            weights = results.weights(method, layer)
            if weights is not None:
                out[f"weights/{method}/{layer}"] = weights[:]
    return out


def test_a_killed_run_resumes_to_the_clean_store(tmp_path, tiny_images, monkeypatch):
    from camwidget.datasets import explain

    monkeypatch.setattr(explain, "CHUNK_ITEMS", 2)  # as the killed run (the spec records the chunk)
    killed = tmp_path / "killed.zarr"
    died = _run(SCRIPT.format(tests=str(TESTS)), str(killed))
    assert died.returncode == -9, died.stderr
    model, preprocess, _ = tiny_factory()
    from camwidget.datasets import open_results

    partial = open_results(killed)
    done = list(partial.table["done"])
    # unit 0-1 was written before unit 2-3 was handed to the writer thread; unit 2-3 may or may
    # not have been written when the process died computing unit 4-5; nothing after it was
    assert done[:2] == [True, True] and done[2] == done[3] and done[4:] == [False] * 3, done
    resumed = explain_dataset(model, Plain(tiny_images), methods=["gradcam", "cam"], out=killed,
                              preprocess=preprocess, batch_size=2, progress=False)
    clean = explain_dataset(model, Plain(tiny_images), methods=["gradcam", "cam"], out=tmp_path / "clean.zarr",
                            preprocess=preprocess, batch_size=2, progress=False)
    a, b = _arrays(resumed), _arrays(clean)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert resumed.spec == clean.spec


def test_in_process_runs_import_no_dask_and_no_widget(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import numpy as np, torch, nets
        import camwidget as cw
        torch.manual_seed(0)
        data = cw.samples.dataset("objects", n=2)
        cw.explain_dataset(nets.TinyCNN().eval(), data, out=sys.argv[1], preprocess=nets.tiny_preprocess,
                           progress=False)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed", "anywidget", "ipywidgets"))
        print("LOADED", loaded)
    """)
    done = _run(code, str(tmp_path / "r.zarr"))
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
