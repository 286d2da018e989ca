"""The widget's clusters view and reveal game, without a browser: what goes out, what is recorded.

Browser actions arrive as custom messages through ipywidgets' own handler, exactly as in a kernel.
"""
from __future__ import annotations

import numpy as np
import pytest

import camwidget as cw
from camwidget.widget import wire as _wire
from camwidget.widget import CamWidget, MemoryLabels


def from_frontend(w: CamWidget, **state) -> None:
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def action(w: CamWidget, **content) -> None:
    """A custom message from the browser (model.send), and the wait for the action thread."""
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    assert w.wait(30)


LAYER = "features.3"


@pytest.fixture
def store(tmp_path):
    s = cw.LabelStore(tmp_path / "labels.sqlite")
    yield s
    s.close()


@pytest.fixture
def inv(tiny_session, store):
    w = CamWidget(tiny_session, method="inv", layer=LAYER, store=store)
    assert w.wait(30)
    yield w
    w.close()


def wait_for(predicate, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_clusters_view_sends_thumbnails_with_weights(inv, tiny_session):
    assert wait_for(lambda: inv.clusters_meta.get("layer") == LAYER)
    clusters = tiny_session.clusters(LAYER)
    meta = inv.clusters_meta
    assert [c["id"] for c in meta["clusters"]] == [c.id for c in clusters]
    assert [c["weight"] for c in meta["clusters"]] == [round(c.weight, 3) for c in clusters]
    th, tw = meta["tile"]
    assert len(inv.clusters_atlas) == len(clusters) * th * tw
    first = np.frombuffer(inv.clusters_atlas, np.uint8)[: th * tw].reshape(th, tw)
    np.testing.assert_array_equal(first, _wire.to_uint8(clusters[0].map))
    from ipywidgets.widgets.widget import _remove_buffers

    _, paths, _ = _remove_buffers(inv.get_state())
    assert ["clusters_atlas"] in paths, "cluster thumbnails travel as a binary buffer"


def test_picking_a_cluster_overlays_its_inv_explanation(inv, tiny_session):
    from_frontend(inv, params={"cluster": 0}, request=20)
    assert inv.wait(30)
    e = inv.explanation
    assert e.method == "inv" and e.params["cluster_id"] == tiny_session.clusters(LAYER)[0].id
    from_frontend(inv, params={"cluster": 7}, request=21)
    assert inv.wait(30) and "cluster: 7" in inv.error  # the method refuses it; the widget says why


def test_a_label_from_the_browser_lands_in_the_store_and_the_list(inv, store, tiny_session):
    assert wait_for(lambda: inv.clusters_meta.get("layer") == LAYER)
    inv.annotator = "ana"
    action(inv, kind="label", cluster=0, text="  blob on the left ")
    assert inv.error == ""
    [a] = store.annotations()
    assert (a.text, a.layer, a.cluster_id, a.annotator) == ("blob on the left", LAYER, tiny_session.clusters(LAYER)[0].id, "ana")
    assert a.reveal_step == 0 and a.outcome is None
    assert [(r["cluster"], r["label"]) for r in inv.labels] == [(0, "blob on the left")]
    assert inv.labels[0]["score"] > 0
    assert [x["text"] for x in inv.annotations] == ["blob on the left"]


@pytest.mark.parametrize("text, message", [("   ", "empty"), ("x" * 201, "200"), ("two\nlines", "control")])
def test_bad_labels_are_refused_with_a_message_and_nothing_written(inv, store, text, message):
    action(inv, kind="label", cluster=0, text=text)
    assert message in inv.error
    assert len(store) == 0 and inv.labels == []
    action(inv, kind="label", cluster=5, text="fine")
    assert "cluster" in inv.error and len(store) == 0


def test_without_a_store_labels_stay_on_the_widget(tiny_session):
    w = CamWidget(tiny_session, method="inv", layer=LAYER)
    try:
        assert w.wait(30) and isinstance(w.store, MemoryLabels)
        w.label("edges")
        action(w, kind="label", cluster=0, text="edges")
        assert [x["text"] for x in w.annotations] == ["edges", "edges"]
        assert [(r["label"], r["annotations"]) for r in w.labels] == [("edges", 2)]
        action(w, kind="label", cluster=0, text="")
        assert "empty" in w.error and len(w.store) == 2
    finally:
        w.close()


def test_reveal_game_steps_and_a_win_are_recorded(inv, store, tiny_session):
    cluster = tiny_session.clusters(LAYER)[0]
    action(inv, kind="game", action="start", cluster=0)
    g = inv.game
    assert g["active"] and g["cluster_id"] == cluster.id and inv.reveal_step == 0
    assert g["percent"] == [2.0, 4.5, 8.0, 13.0, 20.0, 30.0]
    values = np.frombuffer(inv.reveal_map, np.uint8).reshape(g["shape"])
    np.testing.assert_array_equal(values, _wire.to_uint8(cluster.upsampled(tuple(inv.image_shape))))
    shown = [inv.reveal_mask(step).mean() for step in range(6)]
    assert shown == sorted(shown) and 0.02 <= shown[0] < 0.045 and 0.30 <= shown[5] < 0.4
    action(inv, kind="game", action="more")
    action(inv, kind="game", action="more")
    assert inv.reveal_step == 2
    action(inv, kind="game", action="guess", guess=str(cluster.target), text="bright corner")
    assert inv.error == "" and inv.game["outcome"] == "win"
    [a] = store.annotations()
    assert (a.reveal_step, a.outcome, a.correct, a.guess, a.text) == (2, "win", True, cluster.target, "bright corner")
    action(inv, kind="game", action="more")
    assert "over" in inv.error and inv.reveal_step == 2


def test_reveal_game_loss_give_up_and_refusals(inv, store, tiny_session):
    target = tiny_session.clusters(LAYER)[0].target
    wrong = (target + 1) % tiny_session.num_classes
    inv.start_game(0)
    inv.reveal_step = 9
    assert "reveal_step" in inv.error and inv.reveal_step == 0
    inv.reveal_step = 4
    action(inv, kind="game", action="guess", guess=wrong, text="")
    assert "empty" in inv.error and len(store) == 0 and not inv.game["outcome"]
    action(inv, kind="game", action="guess", guess=wrong, text="stripes")
    assert inv.game["outcome"] == "loss"
    inv.start_game(0)
    for _ in range(7):
        inv.reveal_more()
    assert inv.reveal_step == 5
    a = inv.give_up("no idea, dark")
    assert (a.outcome, a.reveal_step, a.guess) == ("give-up", 5, None)
    assert [(x.outcome, x.reveal_step) for x in store.annotations()] == [("loss", 4), ("give-up", 5)]
    assert [x["outcome"] for x in inv.annotations] == ["loss", "give-up"]
    action(inv, kind="game", action="end")
    assert inv.game == {} and inv.reveal_map == b""
    action(inv, kind="game", action="more")
    assert "no reveal round" in inv.error


def test_a_team_shares_one_store(tiny_session, tmp_path):
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    a = CamWidget(tiny_session, method="inv", layer=LAYER, store=cw.LabelStore(url), annotator="ana")
    b = CamWidget(tiny_session, method="inv", layer=LAYER, store=cw.LabelStore(url), annotator="ben")
    try:
        assert a.wait(30) and b.wait(30)
        a.label("corner")
        b.start_game(0)
        b.give_up("corner again")
        assert sorted((x["annotator"], x["text"]) for x in b.annotations) == [("ana", "corner"), ("ben", "corner again")]
        a._refresh_labels()
        assert {r["label"] for r in a.labels} == {"corner", "corner again"}
    finally:
        a.close()
        b.close()


def test_a_new_layer_or_target_starts_at_its_heaviest_cluster(tiny_session):
    w = CamWidget(tiny_session, method="inv", layer=LAYER, target=0, params={"cluster": 2, "seed": 0})
    try:
        assert w.wait(30) and w.error == "" and w.explanation.params["cluster"] == 2
        assert wait_for(lambda: len(w.clusters_meta.get("clusters", [])) == 3)
        from_frontend(w, layer="features.2", request=31)
        assert w.wait(30) and w.error == ""
        assert w.params == {"cluster": 0, "seed": 0} and w.explanation.layer == "features.2"
        w.layer = LAYER
        w.params = {"cluster": 1, "seed": 0}
        w.target = 2
        assert w.wait(30) and w.error == "" and w.params["cluster"] == 0
    finally:
        w.close()
