"""One memory budget for everything a Session caches: LRU order, sizes, and the session's use of it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from nets import TinyCNN, tiny_preprocess

import camwidget as cw
from camwidget.engine.cache import DEFAULT_BUDGET, SessionCache, nbytes


def test_sizes_count_storages_once():
    t = torch.zeros(10, 100)  # 4000 bytes
    a = np.zeros((50, 10))  # 4000 bytes

    @dataclass
    class Holder:
        tensor: torch.Tensor
        views: list

    measured = nbytes(Holder(t, [t[0], t[1:3], a, a[::2]]))
    assert 8000 <= measured < 8000 + 1500  # two storages, plus the containers around them
    assert nbytes({"x": t, "y": t}) < nbytes({"x": t, "y": t.clone()})


def test_least_recently_used_goes_first_and_the_budget_holds():
    cache = SessionCache(budget=10_000)
    block = lambda: np.zeros(3000, np.uint8)
    for key in "abc":
        cache.put(key, block())
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", block())
    assert cache.keys() == ["c", "a", "d"] and cache.used <= 10_000
    assert cache.get("b") is None
    info = cache.info()
    assert (info.entries, info.evictions, info.hits, info.misses) == (3, 1, 1, 1)
    kept = cache.put("huge", np.zeros(20_000, np.uint8))
    assert kept.size == 20_000 and "huge" not in cache and cache.info().too_large == 1
    assert cache.get_or_compute("e", block).size == 3000 and "e" in cache


def test_a_budget_of_zero_keeps_nothing_and_bad_budgets_name_themselves():
    cache = SessionCache(budget=0)
    assert cache.get_or_compute("k", lambda: 5) == 5 and len(cache) == 0
    with pytest.raises(ValueError, match="^cache_bytes: must be >= 0"):
        SessionCache(-1)
    with pytest.raises(TypeError, match="^cache_bytes: "):
        SessionCache("1GB")
    assert SessionCache(None).budget is None and SessionCache().budget == DEFAULT_BUDGET


def test_a_container_filled_after_it_was_stored_is_measured_again():
    cache = SessionCache(budget=50_000)
    store = cache.get_or_compute("results", dict)
    cache.put("other", np.zeros(20_000, np.uint8))
    for i in range(3):
        store[i] = np.zeros(10_000, np.uint8)
    assert cache.get("results") is store  # the hit measures 30 kB now, and the budget drops "other"
    assert cache.used >= 30_000 and "other" not in cache


def test_a_namespace_is_an_ordered_dict_inside_the_budget():
    cache = SessionCache(budget=100_000)
    store = cache.namespace("derivatives", max_items=3)
    for key in range(5):
        store[key] = torch.zeros(100)
    assert list(store) == [2, 3, 4] and len(store) == 3 and 2 in store and 0 not in store
    store.move_to_end(2)
    assert list(store) == [3, 4, 2]
    assert store.popitem(last=False)[0] == 3
    store.move_to_end("absent")  # no-op, as a cache may have dropped it already
    cache.put("other", 1)
    assert set(cache.info().kinds) == {"derivatives", "other"}


@pytest.fixture
def image():
    return np.random.default_rng(3).integers(0, 256, size=(96, 128, 3), dtype=np.uint8)


def test_the_session_keeps_segmentations_and_gradients_within_its_budget(image):
    model = TinyCNN().eval()
    unlimited = cw.Session(model, image, preprocess=tiny_preprocess, cache_bytes=None)
    budget = 300_000  # room for about five of the 49 kB segmentations
    session = cw.Session(model, image, preprocess=tiny_preprocess, cache_bytes=budget)
    for n_segments in range(2, 24):
        for target in (0, 1):
            got = session.explain("secam", target=target, n_segments=n_segments, k=1)
            assert session.cache.used <= budget
        assert np.array_equal(got.map, unlimited.explain("secam", target=target, n_segments=n_segments, k=1).map)
    info = session.cache_info()
    assert info.used <= budget and info.evictions > 0
    assert "segments" in info.kinds and info.forward_bytes > 0
    assert unlimited.cache_info().used > 3 * budget  # what keeping everything would have cost
    assert "MiB" in str(info)
    assert session.explain("gradcam", target=0).map.shape == (8, 8)  # still answers


def test_nothing_cached_still_explains_the_same(image):
    model = TinyCNN().eval()
    cached = cw.Session(model, image, preprocess=tiny_preprocess)
    bare = cw.Session(model, image, preprocess=tiny_preprocess, cache_bytes=0)
    for method, params in (("gradcam++", {}), ("smooth-gradcam++", {"n": 3}), ("inv", {}), ("secam", {"k": 1})):
        expected = cached.explain(method, target=2, **params).map
        np.testing.assert_allclose(bare.explain(method, target=2, **params).map, expected, rtol=1e-6, atol=1e-7)
    assert bare.cache_info().entries == 0 and bare.cache_info().too_large > 0
    assert cached.cache_info().kinds["gradients"][0] == 1


def test_smoothed_derivatives_live_in_the_budget(image):
    session = cw.Session(TinyCNN().eval(), image, preprocess=tiny_preprocess)
    for seed in range(6):
        session.explain("smooth-gradcam++", target=1, n=2, seed=seed)
    entries, size = session.cache_info().kinds["smooth-gradcam++ derivatives"]
    assert entries == 4 and size > 0  # the method's own limit of four, each measured
