"""LabelStore: what an annotation records, filters, validation, schema versioning, bad URLs."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from label_fakes import FakeCluster, FakeSession
from sqlalchemy import create_engine, text

from camwidget.labels import LabelStore, LabelStoreError, LabelValidationError
from camwidget.labels.schema import MAX_TEXT


def test_annotation_records_everything(store_url, session):
    with LabelStore(store_url) as store:
        before = datetime.now(timezone.utc)
        a = store.annotate(session, layer="blocks.5", cluster=FakeCluster("c3", weight=42.5),
                           text="  pointy ears ", guess="tabby cat", reveal_step=2, annotator="ana")
        (stored,) = store.annotations()
    assert stored == a
    assert (a.image_fingerprint, a.model_fingerprint) == ("img-0", "model-0")
    assert (a.target, a.target_name) == (0, "tabby cat")
    assert (a.layer, a.cluster_id, a.cluster_weight) == ("blocks.5", "c3", 42.5)
    assert (a.reveal_step, a.guess, a.guess_name, a.correct, a.outcome) == (2, 0, "tabby cat", True, "win")
    assert (a.text, a.annotator) == ("pointy ears", "ana")
    assert a.created_at.tzinfo is not None and before <= a.created_at <= datetime.now(timezone.utc)
    assert stored.created_at.utcoffset().total_seconds() == 0


def test_outcomes_follow_the_guess(sqlite_url, session):
    with LabelStore(sqlite_url) as store:
        assert store.annotate(session, layer="l", cluster="c", text="wheels", guess=1).outcome == "loss"
        plain = store.annotate(session, layer="l", cluster="c", text="fur")
        assert (plain.guess, plain.correct, plain.outcome) == (None, None, None)
        gave_up = store.annotate(session, layer="l", cluster="c", text="blobs", outcome="give-up", reveal_step=5)
        assert (gave_up.correct, gave_up.outcome) == (None, "give-up")
        explicit = store.annotate(session, layer="l", cluster="c", text="eyes", target=2, guess="goldfish")
        assert (explicit.target, explicit.target_name, explicit.correct) == (2, "goldfish", True)


def test_label_text_is_kept_verbatim_as_data(sqlite_url, session):
    with LabelStore(sqlite_url) as store:
        hostile = "<img src=x onerror=alert(1)> & $x^2$ 'quotes' \"; DROP TABLE camwidget_annotations; --"
        store.annotate(session, layer="l", cluster="c", text=hostile)
        assert store.annotations()[0].text == hostile
        assert store.count() == 1


@pytest.mark.parametrize("bad, message", [
    (dict(text=""), "empty"),
    (dict(text="   \t "), "empty"),
    (dict(text="x" * (MAX_TEXT + 1)), f"the limit is {MAX_TEXT}"),
    (dict(text="two\nlines"), "control characters"),
    (dict(text=3), "must be a string"),
    (dict(reveal_step=6), "from 0 to 5"),
    (dict(reveal_step=-1), "from 0 to 5"),
    (dict(reveal_step=1.5), "from 0 to 5"),
    (dict(guess="zebra"), "unknown guess"),
    (dict(target=99), "unknown target"),
    (dict(outcome="draw"), "outcome must be one of"),
    (dict(outcome="win"), "needs a correct guess"),
    (dict(outcome="win", guess=1), "needs a correct guess"),
    (dict(outcome="loss", guess=0), "contradicts a correct guess"),
    (dict(layer=""), "layer is empty"),
    (dict(cluster=3), "cluster must be"),
    (dict(cluster=""), "cluster id is empty"),
    (dict(cluster_weight=float("nan")), "finite"),
    (dict(cluster_weight=-1), "finite"),
])
def test_bad_annotations_are_refused_and_nothing_is_written(sqlite_url, session, bad, message):
    kwargs = dict(layer="blocks.1", cluster="c0", text="fur")
    kwargs.update(bad)
    with LabelStore(sqlite_url) as store:
        with pytest.raises(LabelValidationError, match=message):
            store.annotate(session, **kwargs)
        assert store.count() == 0


def test_text_at_the_limit_is_accepted(sqlite_url, session):
    with LabelStore(sqlite_url) as store:
        assert len(store.annotate(session, layer="l", cluster="c", text="y" * MAX_TEXT).text) == MAX_TEXT


def test_session_without_fingerprints_is_refused(sqlite_url):
    with LabelStore(sqlite_url) as store:
        with pytest.raises(LabelValidationError, match="image_fingerprint"):
            store.annotate(object(), layer="l", cluster="c", text="fur")


def test_filters_classes_and_layer_order(store_url):
    with LabelStore(store_url) as store:
        for image in ("a", "b"):
            s = FakeSession(image=image)
            for layer, depth in (("blocks.10", 10), ("blocks.9", 9), ("conv_stem", 0)):
                store.annotate(s, layer=layer, cluster="c0", text="fur", layer_depth=depth)
        store.annotate(FakeSession(image="c"), layer="head", cluster="c1", text="wheels", target=1)
        store.annotate(FakeSession(image="d", model="other"), layer="x", cluster="c1", text="fins", target=2)

        assert store.count() == 8 and len(store) == 8 and len(list(store)) == 8
        assert store.count(image_fingerprint="a") == 3
        assert [a.layer for a in store.annotations(image_fingerprint="a")] == ["blocks.10", "blocks.9", "conv_stem"]
        assert store.count(target="sports car") == 1 and store.count(target=1) == 1
        assert store.count(model_fingerprint="other") == 1
        assert store.layers(target=0) == ["conv_stem", "blocks.9", "blocks.10"]
        summaries = store.classes(model_fingerprint="model-0")
        assert [(c.target, c.name, c.annotations, c.images) for c in summaries] == [
            (0, "tabby cat", 6, 2), (1, "sports car", 1, 1)]
        per_class = {summary.target: [a.text for a in rows] for summary, rows in store.by_class()}
        assert per_class == {0: ["fur"] * 6, 1: ["wheels"], 2: ["fins"]}


def test_layers_without_depth_sort_naturally_after_known_depths(sqlite_url, session):
    with LabelStore(sqlite_url) as store:
        for layer in ("blocks.10", "blocks.2", "blocks.9"):
            store.annotate(session, layer=layer, cluster="c", text="fur")
        assert store.layers() == ["blocks.2", "blocks.9", "blocks.10"]


def test_layer_depth_is_taken_from_the_session_when_it_lists_layers(sqlite_url):
    class Info:
        def __init__(self, name, depth):
            self.name, self.depth = name, depth

    s = FakeSession()
    s.layers = [Info("features.3", 1), Info("features.10", 2)]
    with LabelStore(sqlite_url) as store:
        assert store.annotate(s, layer="features.10", cluster="c", text="fur").layer_depth == 2
        assert store.annotate(s, layer="unlisted", cluster="c", text="fur").layer_depth is None


def test_schema_is_versioned_and_a_newer_store_is_refused(store_url):
    LabelStore(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as connection:
        assert connection.execute(text("SELECT version FROM camwidget_schema")).scalar() == 1
        connection.execute(text("UPDATE camwidget_schema SET version = 99"))
    engine.dispose()
    with pytest.raises(LabelStoreError, match="schema version 99.*upgrade camwidget"):
        LabelStore(store_url)


def test_reopening_keeps_annotations(sqlite_url, session):
    with LabelStore(sqlite_url) as store:
        store.annotate(session, layer="l", cluster="c", text="fur")
    with LabelStore(sqlite_url) as store:
        assert store.count() == 1 and store.schema_version == 1


def test_plain_paths_and_the_default_location(tmp_path, monkeypatch, session):
    path = tmp_path / "nested" / "dir" / "labels.db"
    with LabelStore(path) as store:
        store.annotate(session, layer="l", cluster="c", text="fur")
    assert path.exists()
    with LabelStore(str(path)) as store:
        assert store.count() == 1

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with LabelStore() as store:
        assert store.path is not None and str(store.path).startswith(str(tmp_path / "xdg"))
        assert store.path.name == "labels.sqlite"
        store.annotate(session, layer="l", cluster="c", text="fur")
        assert store.count() == 1


def test_sqlite_runs_in_wal_mode(sqlite_url):
    with LabelStore(sqlite_url) as store:
        with store._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_in_memory_sqlite_works(session):
    with LabelStore("sqlite://") as store:
        store.annotate(session, layer="l", cluster="c", text="fur")
        assert store.count() == 1


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://someone:hunter2@127.0.0.1:1/nowhere", "someone:***@127.0.0.1:1/nowhere"),
    ("nosuchdb://x/y", "nosuchdb://x/y"),
    ("sqlite:////proc/no/such/dir/labels.db", "/proc/no/such/dir/labels.db"),
    ("not a url://", "not a url://"),
])
def test_a_url_that_cannot_be_opened_is_named_in_the_error(url, shown):
    with pytest.raises(LabelStoreError, match="cannot open the label store") as caught:
        LabelStore(url)
    assert shown in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_closed_store_says_so(sqlite_url, session):
    store = LabelStore(sqlite_url)
    store.close()
    store.close()
    with pytest.raises(LabelStoreError, match="closed"):
        store.annotate(session, layer="l", cluster="c", text="fur")


def test_plain_postgresql_urls_use_psycopg3():
    from camwidget.labels.store import _resolve_url

    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert _resolve_url(url)[0].drivername == "postgresql+psycopg"


def test_unknown_filters_are_refused(sqlite_url):
    with LabelStore(sqlite_url) as store:
        with pytest.raises(TypeError, match="unknown filter.*annotatr"):
            store.count(annotatr="ana")


def test_a_cluster_computed_for_a_class_annotates_that_class(sqlite_url, session):
    cluster = FakeCluster("c7")
    cluster.target = 2
    with LabelStore(sqlite_url) as store:
        assert store.annotate(session, layer="l", cluster=cluster, text="fins").target == 2
        assert store.annotate(session, layer="l", cluster=cluster, text="fins", target="goldfish").target == 2
        with pytest.raises(LabelValidationError, match="computed for class 2"):
            store.annotate(session, layer="l", cluster=cluster, text="fins", target=0)
        assert store.count() == 2
