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

from label_fakes import FakeSession

from camwidget.labels import LabelStore

WRITER = str(Path(__file__).with_name("label_writer.py"))
REPO = Path(__file__).resolve().parents[2]
WORKERS, EACH = 4, 25


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _spawn(url: str, worker: int, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WRITER, url, str(worker), str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def _finish(process: subprocess.Popen, timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"writer failed:\n{err}"
    return out


def test_concurrent_writers_lose_nothing(store_url):
    # the store is new: the writers also race to create the schema on first use
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
        assert store.schema_version == 1
    # every id a writer was told about is stored
    told = {int(line) for out in outputs for line in out.split() if line.isdigit()}
    assert told == {r.id for r in rows}


def test_killed_writers_lose_at_most_their_open_annotation(store_url):
    LabelStore(store_url).close()
    steady = [_spawn(store_url, w, EACH) for w in (1, 2)]  # keep writing while others die
    # killed inside its transaction, after its INSERT and before COMMIT (holding the write lock)
    holder = _spawn(store_url, 6, -2)
    assert holder.stdout.readline().strip() == "ready", holder.stderr.read()
    assert holder.stdout.readline().strip() == "inside", holder.stderr.read()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    acknowledged = {}
    for victim_id, kill_after in ((7, 5), (8, 12), (9, 20)):
        victim = _spawn(store_url, victim_id, -1)  # writes in a tight loop until killed
        assert victim.stdout.readline().strip() == "ready", victim.stderr.read()
        seen = 0
        deadline = time.monotonic() + 60
        while seen < kill_after and time.monotonic() < deadline:
            line = victim.stdout.readline()
            assert line, victim.stderr.read()
            seen += 1
        os.kill(victim.pid, signal.SIGKILL)  # mid-write: it never pauses between annotations
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        acknowledged[victim_id] = seen
    for p in steady:
        _finish(p)

    with LabelStore(store_url) as store:
        total = store.check()  # SQLite: PRAGMA integrity_check; raises if damaged
        victims = 0
        for victim_id, seen in acknowledged.items():
            rows = store.annotations(annotator=f"w{victim_id}")
            # every acknowledged annotation is durable; annotations committed after the last line
            # we read may add a few; none is half-written and none is missing in between
            assert len(rows) >= seen
            assert [r.text for r in rows] == [f"worker {victim_id} note {i}" for i in range(len(rows))]
            victims += len(rows)
        assert store.count(annotator="w6") == 0  # the uncommitted annotation is gone, whole
        assert total == 2 * EACH + victims
        assert store.count(annotator="w1") == store.count(annotator="w2") == EACH
        # the store is still writable after the crashes
        store.annotate(FakeSession(), layer="blocks.0", cluster="c0", text="after the crash")
        assert store.count() == total + 1
