"""cw.samples.dataset: the offline localisation set is seeded, boxed and labelled."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import camwidget as cw
from camwidget.datasets.items import as_items


def test_items_are_seeded_one_by_one_and_boxed():
    data = cw.samples.dataset("objects", n=8, seed=4)
    again = cw.samples.dataset("objects", n=3, seed=4)
    other = cw.samples.dataset("objects", n=3, seed=5)
    assert len(data) == 8 and data.ids[:2] == ["cat-00000", "cup-00001"]
    for i in range(3):  # item i depends on (seed, i) only, not on n
        np.testing.assert_array_equal(data[i].image, again[i].image)
        assert data[i].box == again[i].box
    assert any(not np.array_equal(data[i].image, other[i].image) for i in range(3))
    assert [data[i].label for i in range(4)] == [285, 967, 657, 670]
    for item in data:
        assert item.image.shape == (224, 224, 3) and item.image.dtype == np.uint8
        r0, c0, r1, c1 = item.box
        assert 0 <= r0 < r1 <= 224 and 0 <= c0 < c1 <= 224
        assert 0.3 * 224 <= max(r1 - r0, c1 - c0) <= 0.72 * 224
    source = pickle.loads(pickle.dumps(as_items(data)))  # what a Dask worker receives
    np.testing.assert_array_equal(source.item(5).image, data[5].image)
    assert data.classes[285] == "Egyptian cat"


def test_the_box_holds_the_pasted_object():
    from camwidget.datasets import synthetic

    item = synthetic.make_item(0, seed=0)
    r0, c0, r1, c1 = item.box
    cat = synthetic._resized(synthetic._photo("chelsea")[0:300, 40:420], r1 - r0, c1 - c0)
    patch = item.image[r0:r1, c0:c1]
    assert np.array_equal(patch, cat) or np.array_equal(patch, cat[:, ::-1])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="name: unknown dataset 'imagenet'"):
        cw.samples.dataset("imagenet")
    with pytest.raises(ValueError, match="n: expected a positive number"):
        cw.samples.dataset("objects", n=0)
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        cw.samples.dataset("objects", seed=-1)
