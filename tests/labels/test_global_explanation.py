"""global_explanation: per-layer label scores of a class, trends across layers, the plot."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from label_fakes import FakeSession

from camwidget.labels import GlobalExplanation, LabelStore, global_explanation
from camwidget.labels.global_explanation import least_squares_slope

LAYERS = [("blocks.2", 2), ("blocks.4", 4), ("blocks.6", 6)]


@pytest.fixture
def store(tmp_path):
    """Two cat images annotated at three layers; fur fades and ears grow with depth."""
    with LabelStore(tmp_path / "labels.sqlite") as store:
        a, b = FakeSession(image="A"), FakeSession(image="B")

        def note(s, layer, cluster, text, guess, step=0):
            store.annotate(s, layer=layer, cluster=cluster, text=text, guess=guess,
                           reveal_step=step, layer_depth=dict(LAYERS)[layer])

        note(a, "blocks.2", "c1", "Fur", "tabby cat")                   # fur 1
        note(a, "blocks.4", "c1", "cat fur", "tabby cat")               # fur 1
        note(a, "blocks.4", "c2", "ears", "tabby cat")                  # ears 1
        note(a, "blocks.6", "c1", "Ears", "tabby cat")                  # ears 1
        note(b, "blocks.2", "c1", "fur", "goldfish")                    # fur 1/4 (lost)
        note(b, "blocks.6", "c1", "pointy ears", "tabby cat", step=5)   # ears 0.5
        # another class and another model: never mixed in
        store.annotate(FakeSession(image="C"), layer="blocks.2", cluster="c1", text="wheels",
                       target=1, guess=1)
        yield store


def test_rows_and_trends_on_synthetic_annotations(store, embedder):
    g = global_explanation(store, 0, embedder=embedder)
    assert isinstance(g, GlobalExplanation)
    assert g.layers == ["blocks.2", "blocks.4", "blocks.6"]
    assert g.images == {"blocks.2": 2, "blocks.4": 1, "blocks.6": 2}
    got = {(r.layer, r.label): r.score for r in g.rows}
    assert got == pytest.approx({
        ("blocks.2", "fur"): (1 + 0.25) / 2,
        ("blocks.4", "fur"): 1.0,
        ("blocks.4", "ear"): 1.0,
        ("blocks.6", "ear"): (1 + 0.5) / 2,
    })
    assert all(isinstance(r.score, float) for r in g.rows)
    assert g.trends["fur"] == pytest.approx(least_squares_slope([0, 1, 2], [0.625, 1.0, 0.0]))
    assert g.trends["ear"] == pytest.approx(least_squares_slope([0, 1, 2], [0.0, 1.0, 0.75]))
    assert g.trends["fur"] < 0 < g.trends["ear"]
    assert g.rising() == ["ear"] and g.falling() == ["fur"]
    assert g.synonyms["ear"] == ["ears", "pointy ears"]
    assert g.target_name == "tabby cat"
    assert "blocks.4" in str(g)


def test_class_by_name_and_explicit_layer_order(store, embedder):
    by_name = global_explanation(store, "tabby cat", embedder=embedder)
    reversed_order = global_explanation(store, "tabby cat", embedder=embedder,
                                        layers=["blocks.6", "blocks.4", "blocks.2"])
    assert reversed_order.layers == ["blocks.6", "blocks.4", "blocks.2"]
    for label, slope in by_name.trends.items():
        assert reversed_order.trends[label] == pytest.approx(-slope)
    only_two = global_explanation(store, 0, embedder=embedder, layers=["blocks.2", "blocks.6"])
    assert {r.layer for r in only_two.rows} == {"blocks.2", "blocks.6"}
    assert only_two.trends["ear"] == pytest.approx(0.75)


def test_scores_matrix_and_plot(store, embedder):
    g = global_explanation(store, 0, embedder=embedder)
    labels, layers, matrix = g.scores()
    assert labels == ["ear", "fur"] and layers == g.layers
    np.testing.assert_allclose(matrix, [[0, 1, 0.75], [0.625, 1, 0]])
    fig = g.plot()
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("ear") and legend[1].startswith("fur")
    assert [t.get_text() for t in ax.get_xticklabels()] == g.layers
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_no_annotations_and_mixed_models_are_clear_errors(store, embedder):
    with pytest.raises(ValueError, match="no annotations of class 2"):
        global_explanation(store, 2, embedder=embedder)
    store.annotate(FakeSession(image="Z", model="other-model"), layer="blocks.2", cluster="c1",
                   text="fur", guess=0)
    with pytest.raises(ValueError, match="2 models.*model_fingerprint"):
        global_explanation(store, 0, embedder=embedder)
    g = global_explanation(store, 0, model_fingerprint="other-model", embedder=embedder)
    assert [(r.layer, r.label) for r in g.rows] == [("blocks.2", "fur")]
    assert g.trends == {"fur": 0.0}


def test_same_best_label_clusters_merge_before_the_layer_mean(tmp_path, embedder):
    with LabelStore(tmp_path / "s.sqlite") as store:
        s = FakeSession(image="A")
        store.annotate(s, layer="l", cluster="c1", text="ears", guess=0, cluster_weight=10)
        store.annotate(s, layer="l", cluster="c2", text="pointy ears", guess=0, reveal_step=4,
                       cluster_weight=20)
        store.annotate(s, layer="l", cluster="c2", text="ears", guess=1, cluster_weight=20)
        g = global_explanation(store, 0, embedder=embedder)
    # c1 and c2 share the best label "ear" and merge: ear named in 3 of 3, mean step 4/3
    assert g.rows == [("l", "ear", pytest.approx(1 - 0.1 * 4 / 3))]


def test_least_squares_slope():
    assert least_squares_slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2)
    assert least_squares_slope([0], [1]) == 0.0
    assert least_squares_slope([], []) == 0.0


def test_plot_shows_labels_as_plain_text():
    g = GlobalExplanation(target=0, target_name="$x$", layers=["a", "b"],
                          rows=[("a", "$\\alpha$", 0.1), ("b", "$\\alpha$", 0.9)],
                          trends={"$\\alpha$": 0.8}, images={"a": 1, "b": 1})
    fig = g.plot()
    text = fig.axes[0].get_legend().get_texts()[0].get_text()
    assert text.startswith("\\$\\alpha\\$")  # escaped: matplotlib draws the dollars literally
    fig.canvas.draw()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_global_explanation_opens_a_path(tmp_path, embedder):
    path = tmp_path / "by-path.sqlite"
    with LabelStore(path) as store:
        store.annotate(FakeSession(), layer="l", cluster="c", text="fur", guess=0)
    g = global_explanation(path, 0, embedder=embedder)
    assert g.rows == [("l", "fur", 1.0)]


def test_cluster_scores_for_the_clusters_view(store, embedder):
    from camwidget.labels import cluster_scores

    s = FakeSession(image="A")
    by_cluster = cluster_scores(store, s, "blocks.4", embedder=embedder)
    assert {cid: [(x.label, x.score) for x in scores] for cid, scores in by_cluster.items()} == {
        "c1": [("fur", 1.0)], "c2": [("ear", 1.0)]}
    raw = cluster_scores(store, FakeSession(image="B"), "blocks.6", group_synonyms=False)
    assert [(x.label, x.score) for x in raw["c1"]] == [("pointy ears", pytest.approx(0.5))]
    assert cluster_scores(store, s, "no-such-layer", group_synonyms=False) == {}
