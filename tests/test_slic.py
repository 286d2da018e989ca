"""engine/slic.py gives scikit-image's SLIC labels exactly, on photographs and generated images."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import segmentation

import camwidget as cw
from camwidget.engine import segments, slic


def reference(image: np.ndarray, n_segments: int, compactness: float = 10.0) -> np.ndarray:
    return segmentation.slic(image, n_segments=n_segments, compactness=compactness, start_label=0)


def test_the_compiled_kernels_are_what_runs_here():
    assert slic.available(), "numba is a dependency: the fast path must be the one tested"


@pytest.mark.parametrize("name", cw.samples.NAMES)
def test_the_sample_photos_get_scikit_images_labels(name):
    image = cw.samples.load(name)
    for n_segments, compactness in ((50, 10.0), (200, 10.0), (30, 1.0)):
        ours = slic.slic(image, n_segments, compactness)
        assert ours.dtype == np.intp
        np.testing.assert_array_equal(ours, reference(image, n_segments, compactness),
                                      err_msg=f"{name}, n_segments={n_segments}, compactness={compactness}")


def test_the_same_labels_on_one_thread_and_on_many():
    image = cw.samples.load("astronaut")[::2, ::2]
    one = slic.slic(image, 80, n_threads=1)
    for n in (2, 3, 7):
        np.testing.assert_array_equal(slic.slic(image, 80, n_threads=n), one)


def _images() -> st.SearchStrategy[np.ndarray]:
    """Noise (ties, tiny and empty segments), smooth ramps and flat images, in several dtypes."""
    @st.composite
    def build(draw):
        h = draw(st.integers(1, 48))
        w = draw(st.integers(1, 48))
        seed = draw(st.integers(0, 2**32 - 1))
        kind = draw(st.sampled_from(["noise", "ramp", "flat", "blocks"]))
        rng = np.random.default_rng(seed)
        if kind == "noise":
            image = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        elif kind == "ramp":
            yy, xx = np.mgrid[:h, :w]
            image = np.stack([yy * 255 // max(h, 1), xx * 255 // max(w, 1), (yy + xx) % 256], -1).astype(np.uint8)
        elif kind == "flat":
            image = np.full((h, w, 3), rng.integers(0, 256), np.uint8)
        else:
            image = np.kron(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))[:h, :w]
            image = image.astype(np.uint8)
        dtype = draw(st.sampled_from(["uint8", "float64", "float64-range", "int16", "float32"]))
        if dtype == "float64":
            return image / 255.0
        if dtype == "float64-range":
            return image * 3.5 - 100.0
        if dtype == "int16":
            return image.astype(np.int16) * 100
        if dtype == "float32":
            return (image / 255.0).astype(np.float32)  # scikit-image's own slic runs (float32 arithmetic)
        return image
    return build()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=_images(), n_segments=st.integers(1, 300),
       compactness=st.sampled_from([0.01, 0.1, 1.0, 10.0, 100.0]), n_threads=st.integers(1, 4))
def test_generated_images_get_scikit_images_labels(image, n_segments, compactness, n_threads):
    np.testing.assert_array_equal(slic.slic(image, n_segments, compactness, n_threads=n_threads),
                                  reference(image, n_segments, compactness))


def test_without_numba_scikit_image_runs(monkeypatch):
    image = cw.samples.load("coffee")[::4, ::4]
    monkeypatch.setattr(slic, "_kernels", False)
    assert not slic.available()
    np.testing.assert_array_equal(slic.slic(image, 40), reference(image, 40))


def test_segment_numbers_the_labels_from_zero():
    image = cw.samples.load("chelsea")[::3, ::3]
    labels = segments.segment(image, "slic", 40)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, segments.relabel(reference(image, 40, segments.SLIC_COMPACTNESS)))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([np.int8, np.uint8, np.int32, np.uint32, np.int64, np.uint64]),
       st.integers(1, 12), st.integers(1, 12), st.integers(1, 40), st.integers(-50, 50), st.data())
def test_relabel_equals_uniques_inverse(dtype, h, w, spread, shift, data):
    """The linear-time renumbering against np.unique on dense, sparse, shifted and wide labels."""
    info = np.iinfo(dtype)
    low = max(int(info.min), min(int(info.max), shift))
    values = data.draw(st.lists(st.integers(low, min(int(info.max), low + spread * 1000 if spread > 30 else low + spread)),
                                min_size=h * w, max_size=h * w))
    labels = np.array(values, dtype=dtype).reshape(h, w)
    expected = np.unique(labels, return_inverse=True)[1].reshape(h, w).astype(np.int32)
    got = segments.relabel(labels)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
