"""camwidget.metrics: definitions against hand computations, shared batches, cache, cancellation, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import camwidget as cw
from camwidget.engine import progress
from camwidget.engine.metrics import remove_and_debias


@pytest.fixture
def counted(tiny_session, monkeypatch):
    """The tiny session with its predict calls recorded (batch sizes)."""
    calls: list[int] = []
    predict = tiny_session.predict
    monkeypatch.setattr(tiny_session, "predict", lambda x: calls.append(len(x)) or predict(x))
    return tiny_session, calls


def _p(session, x, target):
    with torch.no_grad():
        return float(torch.softmax(session.model(x), 1)[0, target])


def test_deletion_and_insertion_curves_by_hand_and_shared_passes(counted):
    session, calls = counted
    e = session.explain("gradcam", layer="features")
    results = session.evaluate(e, ["deletion", "insertion"], steps=4, baseline="zero", batch_size=64)
    # 16 × 16 input, steps 4: counts 0, 64, 128, 192, 256; 3 + 3 interior inputs and one all-zero input
    # shared by deletion's last point and insertion's first; the unperturbed input is the cached forward
    assert calls == [7]
    x = session.input
    order = torch.argsort(torch.from_numpy(e.upsampled((16, 16))).flatten(), descending=True, stable=True)
    deleted, inserted = [], []
    for count in (0, 64, 128, 192, 256):
        gone = torch.zeros(256, dtype=torch.bool)
        gone[order[:count]] = True
        gone = gone.reshape(1, 1, 16, 16)
        deleted.append(_p(session, torch.where(gone, 0.0, x), e.target))
        inserted.append(_p(session, torch.where(gone, x, 0.0), e.target))
    fractions = np.array([0, 0.25, 0.5, 0.75, 1.0])
    deletion, insertion = results["deletion"], results["insertion"]
    np.testing.assert_allclose(deletion.curve.x, fractions)
    np.testing.assert_allclose(deletion.curve.y, deleted, rtol=1e-5)
    np.testing.assert_allclose(insertion.curve.y, inserted, rtol=1e-5)
    assert deletion.value == pytest.approx(np.trapezoid(deleted, fractions), rel=1e-5)
    assert not deletion.higher_is_better and insertion.higher_is_better
    assert deletion.params == {"steps": 4, "baseline": "zero"}


def test_results_are_cached_per_map_metric_and_parameters(counted):
    session, calls = counted
    e = session.explain("gradcam", layer="features")
    first = session.evaluate(e, ["deletion", "avg-drop"], steps=4)
    n = len(calls)
    again = session.evaluate(e, ["deletion", "avg-drop"], steps=4)
    assert len(calls) == n and again["deletion"] is first["deletion"]
    session.evaluate(e, ["deletion"], steps=8)  # other parameters: computed (the all-baseline input is reused)
    assert sum(calls[n:]) == 7
    same = session.explain("xgradcam", layer="features")  # on a GAP → linear head, the same map as Grad-CAM's
    session.evaluate(same, ["deletion"], steps=4)
    assert len(calls) == n + 1
    other = session.explain("eigencam", layer="features")
    session.evaluate(other, ["deletion"], steps=4)  # another map: computed
    assert len(calls) == n + 2


def test_the_blur_baseline_of_insertion(tiny_session):
    from torchvision.transforms.functional import gaussian_blur

    e = tiny_session.explain("gradcam", layer="features")
    insertion = cw.metrics.insertion(tiny_session, e, steps=2)
    blurred = gaussian_blur(tiny_session.input, [11, 11], [5.0, 5.0])
    assert insertion.params["baseline"] == "blur"
    assert insertion.curve.y[0] == pytest.approx(_p(tiny_session, blurred, e.target), rel=1e-5)


def test_a_cancelled_evaluation_caches_no_result(counted):
    session, calls = counted
    e = session.explain("gradcam", layer="features")
    with pytest.raises(progress.Cancelled), progress.reporting(None, cancelled=lambda: len(calls) >= 1):
        session.evaluate(e, ["deletion"], steps=16, batch_size=4)
    assert len(calls) == 1
    calls.clear()
    session.evaluate(e, ["deletion"], steps=16, batch_size=4)
    assert sum(calls) >= 14  # the interior points all ran again (only the all-baseline input was kept)


def test_average_drop_and_increase_by_hand(tiny_session):
    e = tiny_session.explain("gradcam", layer="features")
    results = tiny_session.evaluate(e, ["avg-drop", "avg-increase"])
    y = _p(tiny_session, tiny_session.input, e.target)
    o = _p(tiny_session, tiny_session.input * torch.from_numpy(e.upsampled((16, 16))), e.target)
    assert results["avg-drop"].value == pytest.approx(100 * max(0, y - o) / y, rel=1e-5)
    assert results["avg-increase"].value == (100.0 if o > y else 0.0)


def test_the_imputer_solves_the_neighbour_mean_and_keeps_kept_pixels():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.normal(size=(3, 12, 10)).astype(np.float32))
    kept = rng.random((12, 10)) > 0.4
    filled = remove_and_debias.impute(image, kept, noise=0.0).numpy()
    np.testing.assert_array_equal(filled[:, kept], image.numpy()[:, kept])
    for r, c in zip(*np.nonzero(~kept)):
        total, weights = 0.0, 0.0
        for (dr, dc), w in remove_and_debias.NEIGHBOURS:
            if 0 <= r + dr < 12 and 0 <= c + dc < 10:
                total, weights = total + w * filled[:, r + dr, c + dc], weights + w
        np.testing.assert_allclose(filled[:, r, c], total / weights, rtol=1e-4, atol=1e-5)
    noisy = [remove_and_debias.impute(image, kept, noise=0.01, seed=s).numpy() for s in (1, 1, 2)]
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0], noisy[2])


def test_road_keeps_the_share_of_pixels_its_percentile_says(tiny_session):
    e = tiny_session.explain("gradcam++", layer="features")
    saliency = e.upsampled((16, 16))
    morf = remove_and_debias.kept_pixels(saliency, 70, "morf")
    lerf = remove_and_debias.kept_pixels(saliency, 30, "lerf")
    assert saliency[morf].max() <= saliency[~morf].min()  # MoRF removed the top
    assert saliency[lerf].min() >= saliency[~lerf].max()  # LeRF kept the top
    results = tiny_session.evaluate(e, ["road-morf", "road-lerf", "road"], percentiles=[30, 70])
    assert results["road"].value == pytest.approx((results["road-lerf"].value - results["road-morf"].value) / 2)
    np.testing.assert_array_equal(results["road-morf"].curve.x, [30, 70])


def _peaked(session, row, col):
    """A hand-built explanation whose map peaks at image pixel (row, col)."""
    h, w = session.image.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w]
    map_ = np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / 8.0).astype(np.float32)
    return cw.Explanation(map_, None, "hand", None, 0, (h, w))


def test_pointing_game_tolerance_and_energy(tiny_session):
    e = _peaked(tiny_session, 10, 10)
    assert cw.metrics.pointing_game(tiny_session, e, box=(20, 20, 30, 30), tolerance=15).value == 1.0
    assert cw.metrics.pointing_game(tiny_session, e, box=(20, 20, 30, 30), tolerance=5).value == 0.0
    assert cw.metrics.pointing_game(tiny_session, e, box=(5, 5, 12, 12), tolerance=0.5).value == 1.0
    corner = _peaked(tiny_session, 5, 30)  # row 5, column 30; boxes are (x0, y0, x1, y1)
    assert cw.metrics.pointing_game(tiny_session, corner, box=(28, 0, 34, 8), tolerance=1).value == 1.0
    assert cw.metrics.pointing_game(tiny_session, corner, box=(0, 28, 8, 32), tolerance=1).value == 0.0
    energy = cw.metrics.energy_pointing_game(tiny_session, e, box=(5, 5, 15, 15))
    saliency = e.upsampled()
    assert energy.value == pytest.approx(saliency[5:15, 5:15].sum() / saliency.sum(), rel=1e-6)
    mask = np.zeros(tiny_session.image.shape[:2], bool)
    mask[5:15, 5:15] = True
    assert cw.metrics.energy_pointing_game(tiny_session, e, mask=mask).value == pytest.approx(energy.value)


def test_sanity_check_cascades_from_the_top_and_leaves_the_model_alone(tiny_session):
    before = {k: v.clone() for k, v in tiny_session.model.state_dict().items()}
    e = tiny_session.explain("layercam", layer="features")
    assert not e.blank
    result = cw.metrics.sanity_check(tiny_session, e, stages=2, seed=3)
    again = cw.metrics.sanity_check(cw.Session(tiny_session.model, tiny_session.image,
                                               preprocess=tiny_session.preprocess), e.__class__(**{**e.__dict__, "source": None}),
                                    stages=2, seed=3)
    assert len(result.curve.x) == 2 and result.curve.x[-1] == 1.0
    np.testing.assert_allclose(result.curve.y, again.curve.y)
    assert result.details["randomised_down_to"] == ["features.3", "features.0"]  # fc, features.3 | features.0
    assert result.value < 0.9  # every layer randomised: the map no longer looks like the original
    for k, v in tiny_session.model.state_dict().items():
        assert torch.equal(v, before[k])


# ---- bad input ----------------------------------------------------------------------------------
@pytest.fixture
def explained(tiny_session):
    return tiny_session, tiny_session.explain("gradcam", layer="features")


@pytest.mark.parametrize("call, match", [
    (lambda s, e: s.evaluate(e, ["delete"]), "^metrics: 'delete' is unknown; valid: deletion, insertion"),
    (lambda s, e: s.evaluate(e, []), "^metrics: "),
    (lambda s, e: cw.metrics.deletion(s, e, steps=1), r"^steps: 1 is out of range; must be in \[2, 256\]"),
    (lambda s, e: cw.metrics.insertion(s, e, steps=257), "^steps: "),
    (lambda s, e: cw.metrics.road_morf(s, e, percentiles=[0, 50]), r"^percentiles: 0 is outside \(0, 100\)"),
    (lambda s, e: cw.metrics.road(s, e, percentiles=[100]), "^percentiles: "),
    (lambda s, e: cw.metrics.pointing_game(s, e), "^box: "),
    (lambda s, e: cw.metrics.pointing_game(s, e, box=(5, 5, 5, 9)), "^box: .* outside or empty"),
    (lambda s, e: cw.metrics.energy_pointing_game(s, e, box=(0, 0, 99, 9)), "^box: "),
    (lambda s, e: cw.metrics.pointing_game(s, e, mask=np.ones((5, 5), bool)), "^mask: shape"),
    (lambda s, e: cw.metrics.pointing_game(s, e, mask=np.zeros((32, 40), bool)), "^mask: selects no pixel"),
    (lambda s, e: cw.metrics.deletion(s, e, baseline="noise"), "^baseline: 'noise' is unknown"),
    (lambda s, e: cw.metrics.deletion(s, e, baseline=torch.zeros(2, 5)), "^baseline: shape"),
    (lambda s, e: cw.metrics.deletion(s, e, batch_size=0), "^batch_size: "),
    (lambda s, e: cw.metrics.sanity_check(s, e, stages=0), "^stages: "),
    (lambda s, e: s.evaluate(e, ["deletion"], params={"insertion": {}}), "^params: "),
])
def test_bad_input_is_a_valueerror_naming_the_argument(explained, call, match):
    session, e = explained
    with pytest.raises(ValueError, match=match):
        call(session, e)


def test_bad_types_and_unknown_options_are_typeerrors(explained):
    session, e = explained
    with pytest.raises(TypeError, match="^steps: expected an integer"):
        cw.metrics.deletion(session, e, steps=2.5)
    with pytest.raises(TypeError, match="^percentile: not a parameter of deletion"):
        session.evaluate(e, ["deletion"], percentile=[10])
    with pytest.raises(TypeError, match="^mask: must be boolean"):
        cw.metrics.pointing_game(session, e, mask=np.ones((32, 40)))
    with pytest.raises(TypeError, match="^explanation: "):
        session.evaluate(e.map, ["deletion"])


def test_a_map_from_another_session_is_refused(explained, tiny_model):
    session, e = explained
    other = cw.Session(tiny_model, session.image, preprocess=session.preprocess)
    with pytest.raises(ValueError, match="^explanation: this map was made by another session"):
        other.evaluate(e, ["deletion"])
