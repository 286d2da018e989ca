"""INV clusters (engine half): weights, cluster counts, determinism, maps, guards, method 'inv'."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import camwidget as cw
from camwidget.engine import clusters as inv
from camwidget.engine import methods, progress
from nets import TinyCNN, tiny_preprocess


class ThreeMaps(nn.Module):
    """One conv layer with only 3 feature maps: too few to cluster."""

    def __init__(self, negative_head: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(3, 2)
        if negative_head:
            with torch.no_grad():
                self.fc.weight.fill_(-1.0)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, size=(32, 40, 3), dtype=np.uint8)


@pytest.fixture
def wide_session(image):
    """A tiny CNN whose last layers have 32 maps — enough to cluster."""
    torch.manual_seed(0)
    return cw.Session(TinyCNN(width=16).eval(), image, preprocess=tiny_preprocess)


LAYER = "features.3"


def test_weights_of_a_layer_sum_to_100(wide_session):
    for info in wide_session.layers:
        weights = inv.map_weights(wide_session.activations(info.name), wide_session.gradients(info.name))
        assert weights.shape == (info.channels,)
        assert weights.sum() == pytest.approx(100.0, abs=1e-6)
        assert (weights >= 0).all()
    clustering = inv.cluster_layer(wide_session, LAYER)
    assert clustering.weights.sum() == pytest.approx(100.0, abs=1e-6)
    for c in clustering.clusters:
        assert c.weight == pytest.approx(float(clustering.weights[list(c.channels)].sum()))


def test_weights_follow_the_formula(wide_session):
    a, g = wide_session.activations(LAYER).double(), wide_session.gradients(LAYER).double()
    w = (((a > 0) & (g > 0)).double() * g).mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(inv.map_weights(a, g), 100 * w / w.sum(), rtol=1e-10)
    assert inv.drop_threshold(2048) == 0.175 and inv.drop_threshold(300) == 0.35
    assert inv.drop_threshold(128) == 0.7 and inv.drop_threshold(64) == 1.4
    assert inv.drop_threshold(32) == pytest.approx(2.4)


def test_cluster_count_within_3_to_8(wide_session):
    clustering = inv.cluster_layer(wide_session, LAYER)
    assert len(clustering.survivors) >= inv.MIN_MAPS
    assert 3 <= clustering.n_clusters <= 8
    assert clustering.silhouette is not None
    assert 1 <= len(clustering.clusters) <= clustering.n_clusters
    # pruning rule of step 5 over the Ward clusters
    survivor_weights = clustering.weights[list(clustering.survivors)]
    totals = [survivor_weights[clustering.labels == c].sum() for c in range(clustering.n_clusters)]
    bar = max(max(totals) / 3, np.mean(totals) / 2)
    assert len(clustering.clusters) == sum(t >= bar - 1e-9 for t in totals)
    weights = [c.weight for c in clustering.clusters]
    assert weights == sorted(weights, reverse=True)
    assert [c.index for c in clustering.clusters] == list(range(len(clustering.clusters)))
    members = [k for c in clustering.clusters for k in c.channels]
    assert len(members) == len(set(members)) and set(members) <= set(clustering.survivors)


def test_same_seed_same_clusters_and_ids(image):
    def run(seed):
        torch.manual_seed(0)
        session = cw.Session(TinyCNN(width=16).eval(), image, preprocess=tiny_preprocess)
        return session.clusters(LAYER, seed=seed)

    first, second = run(0), run(0)
    assert [(c.id, c.channels, c.weight) for c in first] == [(c.id, c.channels, c.weight) for c in second]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.map, b.map)
    assert {c.id for c in run(1)}.isdisjoint({c.id for c in first})  # the seed is part of the id


def test_cluster_map_is_the_weighted_mean_of_its_members(wide_session, image):
    clustering = inv.cluster_layer(wide_session, LAYER)
    activations = wide_session.activations(LAYER).double().numpy()
    for c in clustering.clusters:
        w = clustering.weights[list(c.channels)]
        expected = np.tensordot(w, activations[list(c.channels)], axes=1) / w.sum()
        assert c.map.dtype == np.float32 and c.map.shape == activations.shape[1:]
        np.testing.assert_allclose(c.map, expected, rtol=1e-5, atol=1e-6)
        up = c.upsampled()
        assert up.shape == image.shape[:2] and up.min() >= 0 and up.max() <= 1


def test_too_few_maps_give_at_most_one_cluster(image):
    torch.manual_seed(0)
    session = cw.Session(ThreeMaps().eval(), image, preprocess=tiny_preprocess)
    for info in session.layers:
        clustering = inv.cluster_layer(session, info.name)
        assert len(clustering.clusters) <= 1
        assert clustering.note
        if clustering.clusters:
            assert clustering.clusters[0].channels == clustering.survivors
    # every weight zero (the target's head is all negative): no cluster, and a clear error on asking for one
    session = cw.Session(ThreeMaps(negative_head=True).eval(), image, preprocess=tiny_preprocess)
    assert session.clusters("features", target=0) == []
    with pytest.raises(ValueError, match=r"cluster: 0 .* valid: none .*positive weight"):
        session.explain("inv", layer="features", target=0, cluster=0)


def test_inv_explanation_equals_the_cluster_map(wide_session):
    spec = methods.get("inv")
    assert spec.label == "INV cluster" and spec.params["cluster"]["default"] == 0
    clustering = inv.cluster_layer(wide_session, LAYER)
    for c in clustering.clusters:
        e = wide_session.explain("inv", layer=LAYER, cluster=c.index)
        np.testing.assert_array_equal(e.map, c.map)
        expected = np.zeros(len(clustering.weights), dtype=np.float32)
        expected[list(c.channels)] = clustering.weights[list(c.channels)]
        np.testing.assert_allclose(e.weights, expected, rtol=1e-6)
        assert e.params["cluster_id"] == c.id
    # a channel subset keeps only the members it names
    c = clustering.clusters[0]
    some = list(c.channels[:2]) + [k for k in range(len(clustering.weights)) if k not in c.channels][:1]
    e = wide_session.explain("inv", layer=LAYER, cluster=0, channels=some)
    activations = wide_session.activations(LAYER).numpy()
    np.testing.assert_allclose(e.map, inv.cluster_map(activations, clustering.weights, c.channels[:2]), rtol=1e-6)


def test_bad_cluster_index_is_refused(wide_session):
    count = len(wide_session.clusters(LAYER))
    with pytest.raises(ValueError, match=rf"cluster: {count} .*valid: 0\.\.{count - 1}"):
        wide_session.explain("inv", layer=LAYER, cluster=count)
    with pytest.raises(ValueError, match="cluster"):
        wide_session.explain("inv", layer=LAYER, cluster=-1)
    with pytest.raises(ValueError, match="region"):
        wide_session.explain("inv", layer=LAYER, region=(0, 0, 2, 2))


def test_cached_and_progress_per_layer(wide_session):
    assert wide_session.clusters(LAYER) is not None
    a = inv.cluster_layer(wide_session, LAYER)
    assert inv.cluster_layer(wide_session, LAYER) is a
    seen = []
    with progress.reporting(lambda done, total, partial: seen.append((done, total, partial))):
        result = inv.clusters_for_layers(wide_session, ["features.0", LAYER])
    assert list(result) == ["features.0", LAYER]
    assert seen == [(0, 2, "features.0"), (1, 2, LAYER), (2, 2, None)]
    assert inv.convolutional_layers(wide_session) == ["features.0", "features.3"]


def test_default_model_last_conv_layer(default_model, chelsea):
    model, preprocess, classes = default_model
    session = cw.Session(model, chelsea, preprocess=preprocess, classes=classes)
    layers = inv.convolutional_layers(session)
    assert len(layers) == 9 and layers[-1] == "conv_head"
    clustering = inv.cluster_layer(session, "conv_head")
    assert clustering.weights.sum() == pytest.approx(100.0, abs=1e-6)
    assert 3 <= clustering.n_clusters <= 8
    assert 1 <= len(clustering.clusters) <= clustering.n_clusters
    top = clustering.clusters[0]
    assert top.upsampled().shape == chelsea.shape[:2]
    e = session.explain("inv", layer="conv_head", cluster=0)
    np.testing.assert_array_equal(e.map, top.map)
