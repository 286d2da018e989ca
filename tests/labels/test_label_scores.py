"""The reveal game's label score, and merging clusters that share a best label."""
from __future__ import annotations

import numpy as np
import pytest

from camwidget.labels.scores import (
    ClusterLabels,
    Entry,
    best_label,
    label_scores,
    merge_clusters,
    merge_maps,
    merge_same_best_label,
)


def E(labels, step, correct):
    return Entry(frozenset(labels), step, correct)


def test_score_formula_on_hand_made_annotations():
    entries = [
        E({"ear"}, 0, True),           # won at step 0
        E({"ear", "fur"}, 2, False),   # lost at step 2
        E({"wheel"}, 1, False),        # lost at step 1
        E(set(), 0, True),             # only named the class: counts in the total
    ]
    scores = label_scores(entries)
    # ear: freq 2/4, mean step 1, a correct guess used it
    assert scores["ear"].score == pytest.approx(0.5 * (1 - 0.1 * 1))
    assert (scores["ear"].frequency, scores["ear"].mean_step, scores["ear"].correct) == (0.5, 1.0, True)
    # fur: freq 1/4, step 2, no correct guess → divided by 4
    assert scores["fur"].score == pytest.approx(0.25 * (1 - 0.2) / 4)
    # wheel: freq 1/4, step 1, no correct guess
    assert scores["wheel"].score == pytest.approx(0.25 * 0.9 / 4)
    assert best_label(scores) == "ear"


def test_labels_outside_the_game_are_not_correct_guesses():
    scores = label_scores([E({"fur"}, 0, None), E({"fur"}, 0, None)])
    assert scores["fur"].score == pytest.approx(1.0 / 4)


def test_best_label_ties_are_alphabetical_and_empty_is_none():
    assert best_label(label_scores([E({"b", "a"}, 0, True)])) == "a"
    assert best_label({}) is None


def test_merge_maps_adds_weights_and_averages_maps_by_weight():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 4, 5)).astype(np.float32)
    weights = np.array([10.0, 30.0, 0.0])
    total, merged = merge_maps(weights, maps)
    assert total == 40.0
    assert merged.dtype == np.float32 and merged.shape == (4, 5)
    np.testing.assert_allclose(merged, (10 * maps[0] + 30 * maps[1]) / 40, rtol=1e-6)
    # one cluster: unchanged
    total, single = merge_maps([7.0], maps[:1])
    assert total == 7.0 and np.allclose(single, maps[0])
    # zero weights: plain mean
    assert np.allclose(merge_maps([0, 0], maps[:2])[1], maps[:2].mean(0))


@pytest.mark.parametrize("weights, maps", [
    ([], np.zeros((0, 2, 2))),
    ([1.0, 2.0], np.zeros((3, 2, 2))),
    ([1.0, -2.0], np.zeros((2, 2, 2))),
    ([1.0, np.nan], np.zeros((2, 2, 2))),
])
def test_merge_maps_refuses_bad_input(weights, maps):
    with pytest.raises(ValueError):
        merge_maps(weights, maps)


def test_merge_clusters_by_best_label():
    maps = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 2.0, 3.0, 4.0)])
    merged = merge_clusters(["ear", "fur", "ear", None], [10.0, 20.0, 30.0, 40.0], maps)
    assert [(m.label, m.members, m.weight) for m in merged] == [
        ("ear", (0, 2), 40.0), ("fur", (1,), 20.0), (None, (3,), 40.0)]
    assert np.allclose(merged[0].map, (10 * 1 + 30 * 3) / 40)
    assert merge_clusters(["ear", "ear"], [1, 2])[0].map is None


def test_clusters_of_one_image_and_layer_sharing_a_best_label_merge():
    c1 = ClusterLabels("img", "blocks.5", ("c1",), 10.0, [E({"ear"}, 0, True)])
    c2 = ClusterLabels("img", "blocks.5", ("c2",), 15.0, [E({"ear", "fur"}, 4, True), E({"ear"}, 2, False)])
    c3 = ClusterLabels("img", "blocks.5", ("c3",), 5.0, [E({"fur"}, 0, True)])
    other_image = ClusterLabels("img2", "blocks.5", ("c1",), 50.0, [E({"ear"}, 0, True)])
    other_layer = ClusterLabels("img", "blocks.6", ("c1",), 50.0, [E({"ear"}, 0, True)])
    merged = merge_same_best_label([c1, c2, c3, other_image, other_layer])
    assert len(merged) == 4
    ear = merged[0]
    assert ear.cluster_ids == ("c1", "c2") and ear.weight == 25.0
    # scores are recomputed on the pooled annotations: ear in 3 of 3, mean step 2
    assert ear.scores["ear"].score == pytest.approx(1.0 * (1 - 0.1 * 2))
    assert ear.scores["fur"].score == pytest.approx(1 / 3 * (1 - 0.4))
    assert merged[1].cluster_ids == ("c3",)
