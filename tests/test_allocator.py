"""engine/allocator.py: freed memory is kept for the next image (no fresh pages), and can be refused."""
from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest
import torch

import camwidget as cw
from camwidget.engine import allocator


def _faults(fn) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_new_image_reuses_freed_memory():
    model, preprocess, classes = cw.models.default()
    image = cw.samples.load("chelsea")

    def new_image():  # what the widget does for each new image: every layer's gradients
        session = cw.Session(model, image, preprocess=preprocess, classes=classes)
        session.explain("gradcam", layer="bn2", target=285)
        session.prefetch_gradients(285)

    new_image()
    assert allocator.applied() is True
    faults = min(_faults(new_image) for _ in range(3))
    # Without it: ~10,000 fresh pages per image on this model (about 40 MB handed over by the kernel).
    assert faults < 1500, faults


def test_the_environment_variable_turns_it_off():
    code = ("import camwidget as cw, numpy as np\n"
            "from camwidget.engine import allocator\n"
            "from nets import TinyCNN, tiny_preprocess\n"
            "cw.Session(TinyCNN().eval(), np.zeros((8, 8, 3), np.uint8), preprocess=tiny_preprocess)\n"
            "print(allocator.applied())\n")
    env = dict(os.environ, CAMWIDGET_KEEP_FREED_MEMORY="0",
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), *sys.path]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "256"])
def test_a_bad_trim_size_is_refused_by_name(monkeypatch, bad):
    monkeypatch.setattr(allocator, "_applied", None)  # not asked yet: the argument decides
    with pytest.raises(ValueError, match="^trim_mib: expected a non-negative integer"):
        allocator.keep_freed_memory(bad)


def _big_round_trip() -> None:  # a 64 MiB block (above glibc's largest mmap threshold), touched and freed
    block = torch.ones(16 << 20)
    del block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_heap_only_reuses_big_blocks_and_nests_across_threads():
    import threading

    with allocator.heap_only() as applied:
        assert applied is True
        _big_round_trip()
        inside = min(_faults(_big_round_trip) for _ in range(3))
        box = {}

        def nested() -> None:  # another thread's scope inside this one: the count goes up and down
            with allocator.heap_only():
                box["faults"] = _faults(_big_round_trip)

        thread = threading.Thread(target=nested)
        thread.start()
        thread.join()
        assert allocator._heap_depth == 1
    assert allocator._heap_depth == 0
    # mapped afresh it would be 16,384 pages of zeroes each time
    assert inside < 1000, inside


def test_heap_only_does_nothing_when_turned_off():
    code = ("from camwidget.engine import allocator\n"
            "with allocator.heap_only() as applied:\n"
            "    print(applied, allocator._heap_depth)\n")
    env = dict(os.environ, CAMWIDGET_KEEP_FREED_MEMORY="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_leaving_heap_only_hands_back_what_is_above_the_trim_threshold():
    code = ("import psutil, torch\n"
            "from camwidget.engine import allocator\n"
            "p = psutil.Process()\n"
            "base = p.memory_info().rss\n"
            "with allocator.heap_only(keep_all=True):\n"
            "    for _ in range(2):\n"
            "        blocks = [torch.ones(32 << 20) for _ in range(6)]  # 6 × 128 MiB, touched\n"
            "        del blocks\n"
            "    inside = p.memory_info().rss\n"
            "print((inside - base) >> 20, (p.memory_info().rss - base) >> 20)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    inside, after = map(int, out.stdout.split())
    assert inside > 600  # kept for reuse inside the block
    assert after <= allocator.DEFAULT_TRIM_MIB + 64  # the rest went back to the OS on leaving
