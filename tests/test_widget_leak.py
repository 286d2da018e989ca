"""A closed widget and its session are freed; threads never keep a widget alive; exit is clean."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

import camwidget as cw
from camwidget.widget import CamWidget

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def quick_atlas(monkeypatch):
    monkeypatch.setattr("camwidget.widget.maps.ATLAS_AFTER_S", 0.0)


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_closed_widget_and_its_session_are_freed(tiny_model):
    from nets import tiny_preprocess

    session = cw.Session(tiny_model, np.zeros((64, 64, 3), np.uint8), preprocess=tiny_preprocess)
    w = CamWidget(session, method="inv", layer="features.3")
    assert w.wait(30)
    w.label("edges")
    w.start_game(0)
    widget_ref, session_ref = weakref.ref(w), weakref.ref(session)
    thread = w.worker._thread
    w.close()
    thread.join(5)  # the thread ends at once (and drops the worker, which holds the session)
    assert not thread.is_alive()
    del w, session
    gc.collect()
    assert widget_ref() is None, "the closed widget is still referenced"
    assert session_ref() is None, "the closed widget's session is still referenced"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident set size from /proc")
def test_fifty_widgets_created_and_closed_leave_the_process_flat(tiny_model):
    from nets import tiny_preprocess

    image = np.random.default_rng(0).integers(0, 256, (384, 384, 3), dtype=np.uint8)
    sessions: list[weakref.ref] = []

    def cycle() -> None:
        session = cw.Session(tiny_model, image, preprocess=tiny_preprocess)
        sessions.append(weakref.ref(session))
        w = CamWidget(session, method="gradcam")
        assert w.wait(30)
        w.close()
        w.worker.join(5)

    for _ in range(10):  # warm up: allocator pools, caches, lazy imports
        cycle()
    gc.collect()
    before, threads = rss_mb(), threading.active_count()
    for _ in range(50):
        cycle()
    gc.collect()
    grown = rss_mb() - before
    assert not [r for r in sessions if r() is not None], "closed widgets' sessions are alive"
    # A widget kept alive holds about 2 MB here (its session, the packed image, the answers):
    # 50 kept would be 100 MB. Below 25 MB is allocator noise (thread arenas), not widgets.
    assert grown < 25, f"50 widgets left {grown:.1f} MB behind"
    assert threading.active_count() <= threads


def test_a_dropped_widget_does_not_keep_its_threads_alive(tiny_session):
    from ipywidgets.widgets import widget as ipywidget

    w = CamWidget(tiny_session, method="inv", layer="features.3")
    assert w.wait(30)
    w._handle_msg({"content": {"data": {"method": "custom", "content": {"kind": "label", "cluster": 0, "text": "x"}}},
                   "buffers": []})
    assert w.wait(30) and len(w.store) == 1
    threads = [w.worker._thread, w.actions._thread]
    assert all(t is not None and t.is_alive() for t in threads)
    # What a kernel does when the front end is gone and the cell is re-run: nothing closes it.
    import comm

    for x in (w, w.layout):
        ipywidget._instances.pop(x.model_id, None)
        comm.get_comm_manager().comms.pop(x.comm.comm_id, None)
        x.comm._closed = True
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is None, "a thread (or the worker) holds the widget"
    for t in threads:
        t.join(5)
        assert not t.is_alive(), f"{t.name} outlived its widget"


@pytest.mark.slow
def test_interpreter_exit_while_computing_exits_cleanly():
    code = (
        "import camwidget as cw, time;"
        "w = cw.explore(method='smooth-gradcam++', params={'n': 400, 'batch_size': 2});"
        "time.sleep(0.05)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr
    assert time.monotonic() - start < 60
