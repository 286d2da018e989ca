"""The store refuses what it cannot keep: invalid Unicode, invisible text, a damaged or deleted
SQLite file; a writer whose PostgreSQL connection is lost retries, boundedly, then says so."""
from __future__ import annotations

import os
import threading
import time

import pytest
from label_fakes import FakeSession

from camwidget.labels import LabelStore, LabelStoreError, LabelValidationError
from camwidget.labels import store as store_module


@pytest.mark.parametrize("field, value, message", [
    ("text", "fur \ud800 here", "lone surrogate"),
    ("text", "\udfff", "lone surrogate"),
    ("text", "first\u2028second", "line separator"),
    ("text", "first\u2029second", "paragraph separator"),
    ("text", "\u200b\u200c\u200d\ufeff", "empty"),
    ("text", " \u2060 \u200b ", "empty"),
    ("annotator", "ana\nbob", "control characters"),
    ("annotator", "ana\u2028bob", "line separator"),
    ("annotator", "an\ud83da", "lone surrogate"),
    ("annotator", "\u200b", "empty"),
    ("layer", "blocks\n5", "control characters"),
    ("cluster", "c\u20290", "paragraph separator"),
])
def test_text_and_names_that_are_not_one_line_of_valid_unicode_are_refused(sqlite_url, session, field, value,
                                                                          message):
    kwargs = {"layer": "blocks.1", "cluster": "c0", "text": "fur", "annotator": "ana"}
    kwargs[field] = value
    with LabelStore(sqlite_url) as store:
        with pytest.raises(LabelValidationError, match=message):
            store.annotate(session, **kwargs)
        assert store.count() == 0


def test_visible_text_with_zero_width_joiners_is_kept(sqlite_url, session):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467 faces"  # an emoji ZWJ sequence
    with LabelStore(sqlite_url) as store:
        assert store.annotate(session, layer="l", cluster="c", text=family).text == family
        assert store.annotations()[0].text == family


def test_a_damaged_sqlite_file_is_reported_by_check(tmp_path, session):
    path = tmp_path / "labels.sqlite"
    with LabelStore(path) as store:
        for i in range(300):  # several pages of rows
            store.annotate(session, layer="blocks.1", cluster=f"c{i}", text=f"note number {i} " + "x" * 60)
        assert store.check() == 300
    size = path.stat().st_size
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
    with open(path, "r+b") as f:  # scribble over a page in the middle of the table
        f.seek(size // 2 // 4096 * 4096)
        f.write(os.urandom(4096))
    with pytest.raises(LabelStoreError) as caught:
        LabelStore(path).check()
    assert type(caught.value) is LabelStoreError and "damaged" in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_deleted_sqlite_file_is_detected_and_nothing_claims_success(tmp_path, session):
    path = tmp_path / "labels.sqlite"
    store = LabelStore(path)
    store.annotate(session, layer="l", cluster="c", text="fur")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    with pytest.raises(LabelStoreError, match="was deleted while the store was open"):
        store.annotate(session, layer="l", cluster="c", text="ears")
    with pytest.raises(LabelStoreError, match="deleted"):
        store.count()
    store.close()
    with LabelStore(path) as fresh:  # a new store in the same place works, and holds nothing lost silently
        assert fresh.count() == 0


def test_a_replaced_sqlite_file_is_detected(tmp_path, session):
    path = tmp_path / "labels.sqlite"
    with LabelStore(path) as store:
        store.annotate(session, layer="l", cluster="c", text="fur")
        os.replace(LabelStore(tmp_path / "other.sqlite").path, path)
        with pytest.raises(LabelStoreError, match="replaced by another file"):
            store.annotate(session, layer="l", cluster="c", text="ears")


def test_a_postgresql_restart_during_a_write_is_retried(restartable_postgres, monkeypatch):
    monkeypatch.setattr(store_module, "WRITE_RETRY_DELAYS_S", (0.2, 0.4, 0.8, 1.6, 3.2))
    session = FakeSession()
    with LabelStore(restartable_postgres.url) as store:
        store.annotate(session, layer="l", cluster="c", text="before")
        restartable_postgres.stop()
        restarter = threading.Timer(1.0, restartable_postgres.start)
        restarter.start()
        started = time.monotonic()
        written = store.annotate(session, layer="l", cluster="c", text="during the restart")
        took = time.monotonic() - started
        restarter.join()
        assert took >= 0.9  # it did wait for the server
        assert [a.text for a in store.annotations()] == ["before", "during the restart"]
        assert store.annotations()[-1].id == written.id


def test_a_writer_gives_up_after_bounded_retries(restartable_postgres, monkeypatch):
    monkeypatch.setattr(store_module, "WRITE_RETRY_DELAYS_S", (0.1, 0.2, 0.4))
    session = FakeSession()
    with LabelStore(restartable_postgres.url) as store:
        store.annotate(session, layer="l", cluster="c", text="before")
        restartable_postgres.stop()
        started = time.monotonic()
        with pytest.raises(LabelStoreError, match="could not write the annotation .* after 4 attempts over 0.7 s"):
            store.annotate(session, layer="l", cluster="c", text="lost")
        assert time.monotonic() - started < 10
        restartable_postgres.start()
        assert [a.text for a in store.annotations()] == ["before"]


def test_a_retry_does_not_write_twice_when_the_lost_attempt_committed(sqlite_url, session, monkeypatch):
    # simulate "committed, then the answer was lost": the first attempt inserts, then fails
    from sqlalchemy.exc import OperationalError

    with LabelStore(sqlite_url) as store:
        monkeypatch.setattr(store, "dialect", "postgresql")  # retries are for network databases
        monkeypatch.setattr(store, "_file_id", None)  # (and a network database has no file to watch)
        monkeypatch.setattr(store_module, "WRITE_RETRY_DELAYS_S", (0.01,))
        real = store._transaction
        calls = []

        def flaky(**kwargs):
            calls.append(kwargs)
            if len(calls) == 1:
                class Lost:
                    def __enter__(self):
                        self.inner = real(**kwargs)
                        return self.inner.__enter__()

                    def __exit__(self, *exc):
                        self.inner.__exit__(*exc)  # commits the insert
                        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
                return Lost()
            return real(**kwargs)

        monkeypatch.setattr(store, "_transaction", flaky)
        written = store.annotate(session, layer="l", cluster="c", text="once")
        monkeypatch.undo()
        assert len(calls) == 2 and store.count() == 1 and store.annotations()[0].id == written.id
