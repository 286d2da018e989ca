"""The labelling campaign: its clusters, its rounds (skip, undo, progress), and two annotators
in two processes on PostgreSQL, with a third that dies mid-round."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_factory

import camwidget as cw
from camwidget.datasets.campaign import Campaign

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def factory():
    model, preprocess, _ = tiny_factory()
    return model, preprocess, ["cat", "cup", "rocket", "motorcycle"]


def _refuse():
    raise AssertionError("an existing campaign must not build the model")


def test_campaign_clusters_equal_session_clusters(tmp_path):
    data = cw.samples.dataset("objects", n=4, seed=1)
    campaign = Campaign(tmp_path / "labels.sqlite", factory, data, targets="top", progress=False, batch_size=3)
    rows = campaign.book.rows()
    assert campaign.layers == ["features.0", "features.3"]  # the tiny net's convolutional layers
    model, preprocess, classes = factory()
    for i in range(4):
        item = data[i]
        session = cw.Session(model, item.image, preprocess=preprocess, classes=classes)
        for layer in campaign.layers:
            expected = session.clusters(layer, None, 0)
            mine = sorted((r for r in rows if r["item_id"] == item.id and r["layer"] == layer),
                          key=lambda r: r["cluster_index"])
            assert [r["cluster_id"] for r in mine] == [c.id for c in expected]
            assert [r["cluster_weight"] for r in mine] == pytest.approx([c.weight for c in expected])
            assert all(r["image_fingerprint"] == session.image_fingerprint for r in mine)
            for r, c in zip(mine, expected):
                played = campaign._round({**r, "id": r["id"]}, "test")
                np.testing.assert_allclose(played.map, c.upsampled(), atol=1e-6)
    again = Campaign(tmp_path / "labels.sqlite", _refuse, data, targets="top", progress=False)
    assert again.book.rows() == rows
    with pytest.raises(ValueError, match="name: a campaign 'campaign' with other parameters \\(seed\\)"):
        Campaign(tmp_path / "labels.sqlite", _refuse, data, targets="top", seed=1, progress=False)


def test_rounds_skip_undo_and_the_global_explanation(tmp_path):
    objects = cw.samples.dataset("objects", n=6, seed=1)
    data = [{"id": item.id, "image": item.image, "label": i % 3} for i, item in enumerate(objects)]
    campaign = Campaign(tmp_path / "labels.sqlite", factory, data, targets="label", rounds_per_cluster=1,
                        progress=False, classes=["cat", 1])
    assert {r["target"] for r in campaign.book.rows()} == {0, 1}
    total = len(campaign.book.rows())
    first = campaign.next_round("ana")
    assert first.progress.line.startswith(f"round 1 of {total} for ana")
    assert campaign.next_round("ana").cluster == first.cluster  # a held round comes back to its player
    assert campaign.next_round("ben").cluster != first.cluster  # and to nobody else
    campaign.release("ben")
    a = campaign.answer(first, guess=first.target_name, text="pointy ears", reveal_step=2)
    assert a.outcome == "win" and a.correct and a.annotator == "ana"
    second = campaign.next_round("ana")
    campaign.skip(second)
    assert campaign.progress("ana").played == 2
    back = campaign.undo("ana")  # the skip is taken back: the same round, to ana again
    assert back.cluster == second.cluster and campaign.next_round("ana").cluster == second.cluster
    campaign.answer(back, guess=None, text="whiskers", outcome="give-up")
    undone = campaign.undo("ana")  # a label taken back: annotation deleted, count restored
    assert undone.cluster == second.cluster and len(campaign.store) == 1
    with pytest.raises(ValueError, match="annotator"):
        campaign.next_round("  ")
    texts = {0: "pointy ears and whiskers", 1: "a round cup with coffee"}
    while (r := campaign.next_round("ana")) is not None:
        campaign.answer(r, guess=r.target_name, text=texts[r.target], reveal_step=1)
    assert campaign.next_round("ben") is None  # one round per cluster: all done
    assert campaign.status()["plays"].tolist() == [1] * total
    explanation = campaign.global_explanation("cat")
    assert explanation.layers == campaign.layers and explanation.rows
    report = campaign.report()
    assert set(report.explanations) == {0, 1}
    assert set(report.table.columns) >= {"class", "layer", "label", "score", "trend"}
    assert report.plot() is not None


WORKER = textwrap.dedent("""
    import json, os, random, sys, time
    sys.path.insert(0, {tests!r}); sys.path.insert(0, {here!r})
    from test_campaign import factory
    import camwidget as cw
    from camwidget.datasets.campaign import Campaign

    url, me, log, lease = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    campaign = Campaign(url, factory, cw.samples.dataset("objects", n=4, seed=1), targets="top",
                        rounds_per_cluster=2, lease_s=lease, progress=False)
    if me == "carl":  # takes a round and dies without a word
        r = campaign.next_round(me)
        print(json.dumps({{"cluster": r.cluster}}), flush=True)
        os._exit(3)
    held, rng, deadline = [], random.Random(me), time.time() + 120
    while campaign.progress(me).played < campaign.progress(me).clusters and time.time() < deadline:
        r = campaign.next_round(me)
        if r is None:  # what is left is held by somebody else right now
            time.sleep(0.1)
            continue
        got = time.time()
        time.sleep(rng.uniform(0, 0.03))
        end = time.time()
        campaign.answer(r, guess=r.target_name, text=f"{{me}} sees texture", reveal_step=rng.randrange(6))
        held.append([r.cluster, got, end])
    json.dump(held, open(log, "w"))
""")


@pytest.mark.slow
def test_two_annotators_in_two_processes_on_postgres(tmp_path, postgres_url):
    data = cw.samples.dataset("objects", n=4, seed=1)
    campaign = Campaign(postgres_url, factory, data, targets="top", rounds_per_cluster=2, progress=False,
                        out=tmp_path / "clusters.zarr")
    clusters = {r["id"] for r in campaign.book.rows()}
    code = WORKER.format(tests=str(TESTS), here=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    carl = subprocess.run([sys.executable, "-c", code, postgres_url, "carl", str(tmp_path / "carl.json"), "2"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert carl.returncode == 3, carl.stderr
    dropped = json.loads(carl.stdout)["cluster"]
    people = [subprocess.Popen([sys.executable, "-c", code, postgres_url, who, str(tmp_path / f"{who}.json"), "60"],
                               env=env, stderr=subprocess.PIPE, text=True) for who in ("ana", "ben")]
    for p in people:
        assert p.wait(timeout=180) == 0, p.stderr.read()
    logs = {who: json.loads((tmp_path / f"{who}.json").read_text()) for who in ("ana", "ben")}
    for who, held in logs.items():
        assert sorted(c for c, _, _ in held) == sorted(clusters), who  # each played every cluster once
    # never the same cluster in two hands at once
    for c in clusters:
        (_, a0, a1), = [h for h in logs["ana"] if h[0] == c]
        (_, b0, b1), = [h for h in logs["ben"] if h[0] == c]
        assert a1 < b0 or b1 < a0, f"cluster {c} held by both at once"
    rows = campaign.book.rows()
    assert all(r["plays"] == 2 for r in rows)
    assert dropped in clusters and not [p for p in campaign.book.played() if p["annotator"] == "carl"]
    assert len(campaign.store) == 2 * len(clusters)


def test_the_campaign_widget_serves_round_after_round(tmp_path):
    pytest.importorskip("anywidget")
    data = cw.samples.dataset("objects", n=2, seed=1)
    campaign = Campaign(tmp_path / "labels.sqlite", factory, data, targets="top", rounds_per_cluster=1,
                        progress=False)
    total = len(campaign.book.rows())
    w = campaign.widget(annotator="ana")
    first = w.current
    assert w.progress.startswith(f"round 1 of {total} for ana") and w.game["shape"] == [224, 224]
    assert w.game["active"] and w.game["cluster_id"] == first.cluster_id and w.game["item"] == first.item_id
    np.testing.assert_array_equal(w.reveal_mask(), first.reveal_mask(0))
    w._on_msg(w, {"action": "more"}, [])
    assert w.reveal_step == 1 and w.reveal_mask().sum() >= first.reveal_mask(0).sum()
    w._on_msg(w, {"action": "guess", "guess": first.target_name, "text": "stripes"}, [])
    assert w.error == "" and w.annotations[-1].outcome == "win" and w.annotations[-1].reveal_step == 1
    assert w.current.cluster != first.cluster and w.reveal_step == 0
    w._on_msg(w, {"action": "undo"}, [])
    assert w.current.cluster == first.cluster and not w.annotations and len(campaign.store) == 0
    w._on_msg(w, {"action": "jump"}, [])
    assert "action: 'jump' is not a reveal game move; valid: more, guess, give-up, skip, undo" in w.error
    w.reveal_step = 9  # from the browser: refused, shown
    assert w.reveal_step == 0 and "reveal_step" in w.error
    while w.current is not None:
        w.give_up("nothing clear") if w.current.cluster_index else w.guess(w.current.target_name, "fur")
    assert "no round left" in w.status and len(campaign.store) == total


def test_a_new_campaign_refuses_maps_it_did_not_write(tmp_path):
    data = cw.samples.dataset("objects", n=2, seed=1)
    first = Campaign(tmp_path / "a.sqlite", factory, data, targets="top", progress=False, out=tmp_path / "maps.zarr")
    assert first.book.rows()
    with pytest.raises(ValueError, match="out: .*maps.zarr.* holds the cluster maps of another campaign"):
        Campaign(tmp_path / "b.sqlite", factory, data, targets="top", progress=False, out=tmp_path / "maps.zarr")
