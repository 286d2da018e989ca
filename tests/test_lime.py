"""Our LIME against the `lime` package (a test peer only, never imported by the engine)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.engine import progress, segments
from camwidget.engine.methods import lime as ours

lime_image = pytest.importorskip("lime.lime_image")


def _classifier_fn(session):
    """What a LIME user writes: RGB uint8 batch → softmax probabilities, one preprocess per image."""
    def predict(images: np.ndarray) -> np.ndarray:
        x = torch.cat([session.preprocess(image) for image in images])
        with torch.no_grad():
            return torch.softmax(session.model(x), dim=1).numpy()
    return predict


def _package(session, labels, target, n_samples, seed=0, batch_size=10):
    explainer = lime_image.LimeImageExplainer(random_state=seed)
    return explainer.explain_instance(
        session.image, _classifier_fn(session), labels=(target,), top_labels=None, hide_color=None,
        num_samples=n_samples, batch_size=batch_size, segmentation_fn=lambda _image: labels, random_seed=0,
    )


@pytest.fixture
def small_session(tiny_model, chelsea):
    from nets import tiny_preprocess

    return cw.Session(tiny_model, chelsea[::8, ::8].copy(), preprocess=tiny_preprocess)


def test_samples_fill_and_kernel_are_the_packages(small_session):
    import sklearn.metrics

    s = small_session
    labels = segments.segment(s.image, "slic", 12)
    # the package's own fill (hide_color=None): per-segment mean colour assigned into uint8
    fudged = s.image.copy()
    for x in np.unique(labels):
        fudged[labels == x] = [np.mean(s.image[labels == x][:, c]) for c in range(3)]
    np.testing.assert_array_equal(ours.fill(s.image, labels, "mean"), fudged)
    data, _ = lime_image.LimeImageExplainer(random_state=7).data_labels(
        s.image, fudged, labels, lambda images: np.zeros((len(images), 2)), 30
    )
    np.testing.assert_array_equal(ours.samples(30, segments.count(labels), 7), data)
    distances = sklearn.metrics.pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
    np.testing.assert_allclose(ours.kernel_weights(data), np.sqrt(np.exp(-(distances**2) / 0.25**2)), atol=1e-12)


def test_coefficients_equal_the_packages_on_a_tiny_cnn(small_session):
    s = small_session
    target = s.resolve_target(None)
    e = s.explain("lime", segmenter="slic", n_segments=12, n_samples=120, batch_size=7, k=3)
    reference = dict(_package(s, e.segments, target, 120).local_exp[target])
    expected = np.array([reference[i] for i in range(e.params["segment_count"])])
    np.testing.assert_allclose(e.params["coefficients"], expected, rtol=1e-3, atol=1e-6)


def test_same_seed_same_lime_different_seed_different(tiny_model, chelsea):
    from nets import tiny_preprocess

    image = chelsea[::8, ::8].copy()
    runs = [
        cw.Session(tiny_model, image, preprocess=tiny_preprocess).explain("lime", segmenter="slic", n_segments=12,
                                                                        n_samples=40, seed=seed, k=2)
        for seed in (3, 3, 4)
    ]
    np.testing.assert_array_equal(runs[0].map, runs[1].map)
    np.testing.assert_array_equal(runs[0].params["coefficients"], runs[1].params["coefficients"])
    assert not np.array_equal(runs[0].params["coefficients"], runs[2].params["coefficients"])


def test_progress_and_cancellation(small_session):
    s = small_session
    calls = []
    with pytest.raises(progress.Cancelled):
        with progress.reporting(lambda done, total, partial: calls.append((done, total)), cancelled=lambda: len(calls) >= 2):
            s.explain("lime", segmenter="slic", n_segments=12, n_samples=40, batch_size=10)
    assert calls == [(10, 40), (20, 40)]
    with progress.reporting(lambda done, total, partial: calls.append((done, total))):
        e = s.explain("lime", segmenter="slic", n_segments=12, n_samples=40, batch_size=10)  # nothing half-cached
    assert calls[-1] == (40, 40) and e.mask.dtype == bool and e.segments.shape == s.image.shape[:2]
    assert set(np.unique(e.segments[e.mask])) == set(e.params["selected"])


def test_bad_input(small_session):
    s = small_session
    with pytest.raises(ValueError, match="k: "):
        s.explain("lime", segmenter="slic", n_segments=4, k=400)
    with pytest.raises(ValueError, match="hide"):
        s.explain("lime", hide="grey")
    with pytest.raises(ValueError, match="n_samples"):
        s.explain("lime", n_samples=0)
    with pytest.raises(ValueError, match="n_segments"):
        s.explain("lime", segmenter="slic", n_segments=0)
    with pytest.raises(ValueError, match="segmenter"):
        s.explain("lime", segmenter="grid")


@pytest.mark.slow
def test_top5_segments_agree_with_the_lime_package_on_chelsea(default_model, chelsea):
    """Default model, chelsea, LIME's default quickshift segments, seed 0: the top-5 sets agree.

    200 samples instead of 1000 keeps this under a minute or two on two cores; both sides draw the
    same sample matrix from the seed, so the comparison checks the whole pipeline (fill,
    preprocessing, probabilities, kernel, weighted ridge), not sampling luck.
    """
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    model, preprocess, classes = default_model
    s = cw.Session(model, chelsea, preprocess=preprocess, classes=classes)
    labels = segments.of_session(s, "quickshift", 50)
    package_default = SegmentationAlgorithm("quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=0)
    np.testing.assert_array_equal(segments.relabel(package_default(chelsea)), labels)  # same as LIME's own
    target = s.resolve_target(None)
    e = s.explain("lime", n_samples=200, seed=0, k=5)
    explanation = _package(s, labels, target, 200, seed=0, batch_size=40)  # batching changes no result
    _, mask = explanation.get_image_and_mask(target, positive_only=True, num_features=5, hide_rest=False)
    theirs = set(np.unique(labels[mask == 1]).tolist())
    assert len(theirs) == 5
    assert set(e.params["selected"]) == theirs
