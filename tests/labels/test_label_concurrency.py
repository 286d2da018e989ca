"""Several real processes writing one store lose nothing; a killed writer corrupts nothing.

Run on SQLite (WAL + busy timeout) and on a PostgreSQL server the test session starts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import FakeSession, child_env

from camwidget.labels import LabelStore

WRITER = str(Path(__file__).with_name("label_writer.py"))
WORKERS, EACH = 4, 25


def _spawn(url: str, worker: int, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WRITER, url, str(worker), str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def _finish(process: subprocess.Popen, timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"writer failed:\n{err}"
    return out


def test_concurrent_writers_lose_nothing(store_url):
    LabelStore(store_url).close()  # the schema exists before the race starts
    writers = [_spawn(store_url, w, EACH) for w in range(WORKERS)]
    outputs = [_finish(p) for p in writers]

    with LabelStore(store_url) as store:
        assert store.check() == WORKERS * EACH
        rows = store.annotations()
        assert len(rows) == WORKERS * EACH
        assert len({r.id for r in rows}) == WORKERS * EACH
        texts = Counter(r.text for r in rows)
        assert texts == Counter(f"worker {w} note {i}" for w in range(WORKERS) for i in range(EACH))
        per_annotator = Counter(r.annotator for r in rows)
        assert per_annotator == {f"w{w}": EACH for w in range(WORKERS)}
    # every id a writer was told about is stored
    told = {int(line) for out in outputs for line in out.split() if line.isdigit()}
    assert told == {r.id for r in rows}


def test_concurrent_first_use_creates_schema_once(store_url):
    writers = [_spawn(store_url, w, 3) for w in range(3)]
    for p in writers:
        _finish(p)
    with LabelStore(store_url) as store:
        assert store.count() == 9
        assert store.schema_version == 1


def test_killed_writer_loses_at_most_its_open_annotation(store_url):
    LabelStore(store_url).close()
    steady = [_spawn(store_url, w, EACH) for w in (1, 2)]
    victim = _spawn(store_url, 9, -1)
    assert victim.stdout.readline().strip() == "ready"
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 10 and time.monotonic() < deadline:  # it is writing in a tight loop
        line = victim.stdout.readline()
        assert line, victim.stderr.read()
        acknowledged += 1
    os.kill(victim.pid, signal.SIGKILL)  # mid-write: it never stops writing
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    for p in steady:
        _finish(p)

    with LabelStore(store_url) as store:
        total = store.check()  # integrity check on SQLite; raises if damaged
        from_victim = store.count(annotator="w9")
        # acknowledged ones are durable; at most the annotation in flight (committed but not yet
        # acknowledged) may add one, plus whatever was committed before the lines were read
        assert from_victim >= acknowledged
        assert total == 2 * EACH + from_victim
        victim_rows = store.annotations(annotator="w9")
        assert [r.text for r in victim_rows] == [f"worker 9 note {i}" for i in range(from_victim)]
        # the store is still writable after the crash
        store.annotate(FakeSession(), layer="blocks.0", cluster="c0", text="after the crash")
        assert store.count() == total + 1
