"""Session.explain under generated arguments, for every method in the registry (read at run time,
so methods other modules register are fuzzed too): layers, targets, channels, regions and every
parameter from its schema, with wrong types, NaN, ±inf, huge and negative numbers, numpy and torch
scalars among them.

Property: the call returns a finite map of the right shape, or raises ValueError / TypeError
whose message starts with the name of an argument (``layer:``, ``n:`` …); either way the model
has no hook left and the session still answers a valid request.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from fuzz_profile import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import TinyCNN, tiny_preprocess

import camwidget as cw
from camwidget.engine import hook_count, methods

ARGUMENTS = {"method", "layer", "target", "channels", "region"}
#: Valid values are drawn small so that an example costs milliseconds; the bounds themselves are
#: fuzzed with values just past the schema's max / limit and far beyond it.
SMALL = {"n": 3, "n_samples": 12, "batch_size": 4, "n_segments": 24, "k": 2, "cluster": 3}
SEEDS = [0, 1, 2**32 - 1]  # valid seeds (each new seed of INV is a t-SNE run)

NASTY_NUMBERS = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), -1, -(2**63), 2**64, 10**30, 1.5, -0.0, True, np.float32(np.nan),
    np.int64(-5), np.uint64(2**64 - 1), np.float64(1e308), torch.tensor(3), torch.tensor(0.5), np.array(2),
    "3", b"3", None, [1], (1,), {"n": 1}, object(),
])


@pytest.fixture(scope="module")
def session():
    image = np.ascontiguousarray(cw.samples.load("chelsea")[::10, ::10])  # 30×46: real superpixels
    return cw.Session(TinyCNN().eval(), image, preprocess=tiny_preprocess)


def _valid_number(name: str, schema: dict):
    kind, low = schema["type"], schema.get("min")
    high = schema.get("max", schema.get("limit"))
    small = SMALL.get(name, 10)
    if name == "seed":
        return st.sampled_from(SEEDS)
    if kind == "int":
        lo = int(low) if low is not None else -3
        return st.integers(lo, min(int(high), lo + small) if high is not None else lo + small)
    lo = float(low) if low is not None else -3.0
    return st.floats(lo, min(float(high), lo + 5.0) if high is not None else lo + 5.0, allow_nan=False)


def _bad_number(schema: dict):
    low, high = schema.get("min"), schema.get("max", schema.get("limit"))
    past = [v for v in (low - 1 if low is not None else None, high + 1 if high is not None else None,
                        high * 10 if high is not None else None, high + 0.5 if high is not None else None)
            if v is not None]
    return st.one_of(st.sampled_from(past) if past else st.nothing(), NASTY_NUMBERS)


def _param(name: str, schema: dict, bad: bool):
    kind = schema["type"]
    if kind == "choice":
        good = st.one_of(st.sampled_from(schema["choices"]), st.just(np.str_(schema["choices"][0])))
        return st.one_of(st.text(max_size=8), NASTY_NUMBERS) if bad else good
    if kind == "bool":
        return NASTY_NUMBERS if bad else st.one_of(st.booleans(), st.just(np.bool_(True)))
    if bad:
        return _bad_number(schema)
    valid = _valid_number(name, schema)
    valid = st.one_of(valid, valid.map(lambda v: np.int64(v) if isinstance(v, int) else np.float32(v)),
                      valid.map(float) if kind == "float" else valid)
    return st.one_of(valid, st.none()) if schema.get("nullable") else valid


@st.composite
def explain_arguments(draw, session, spec):
    """Each argument valid or hostile: all valid, exactly one hostile, or any mix."""
    mode = draw(st.sampled_from(["valid", "valid", "one", "any"]))
    slots = ["layer", "target", "channels", "region", *spec.params]
    hostile_one = draw(st.sampled_from(slots))

    def bad(slot: str) -> bool:
        return mode == "any" and draw(st.booleans()) or (mode == "one" and slot == hostile_one)

    names = [i.name for i in session.layers]
    kwargs: dict = {}
    if draw(st.booleans()) or bad("layer"):
        kwargs["layer"] = draw(st.one_of(st.sampled_from(["fc", "pool", "featurs.3", ""]), NASTY_NUMBERS)
                               if bad("layer") else st.one_of(st.sampled_from(names), st.none()))
    layer = next((i for i in session.layers if i.name == kwargs.get("layer")), session.layers[-1])
    c, (h, w) = layer.channels, layer.grid
    if draw(st.booleans()) or bad("target"):
        kwargs["target"] = draw(
            st.one_of(st.sampled_from([-1, session.num_classes, "0", "cat", 1.0]), NASTY_NUMBERS) if bad("target")
            else st.one_of(st.integers(0, session.num_classes - 1), st.integers(0, 3).map(np.int32), st.none()))
    if draw(st.booleans()) or bad("channels"):
        good = st.lists(st.integers(0, c - 1), min_size=1, max_size=6)
        kwargs["channels"] = draw(
            st.one_of(st.lists(st.integers(-2, c + 2), max_size=6), st.lists(st.floats(0, c), min_size=1, max_size=3),
                      st.just(np.ones(c, bool)), st.just(torch.tensor(1)), st.just([]), NASTY_NUMBERS)
            if bad("channels") else
            st.one_of(good, good.map(tuple), good.map(np.array), good.map(torch.tensor), st.none()))
    if draw(st.booleans()) or bad("region"):
        rectangles = st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)).flatmap(
            lambda rc: st.tuples(st.just(rc[0]), st.just(rc[1]), st.integers(rc[0] + 1, h), st.integers(rc[1] + 1, w)))
        masks = st.integers(0, 2**16).map(lambda seed: _mask(seed, h, w))
        coordinate = st.one_of(st.integers(-1, max(h, w) + 1), st.just(np.float32(1.5)), NASTY_NUMBERS)
        kwargs["region"] = draw(
            st.one_of(st.lists(coordinate, min_size=3, max_size=5).map(tuple), st.just(b"\x00\x00\x01\x01"),
                      st.just((0, 0, True, True)), st.just(np.zeros((h, w), bool)), st.just(np.ones((h + 1, w), bool)),
                      masks.map(lambda m: m.astype(np.uint8)), NASTY_NUMBERS)
            if bad("region") else
            st.one_of(rectangles, rectangles.map(list), rectangles.map(lambda r: tuple(map(float, r))),
                      rectangles.map(np.array), masks, masks.map(torch.from_numpy), st.none()))
    for name, schema in spec.params.items():
        if draw(st.booleans()) or bad(name) or (name in SMALL and name != "cluster"):
            kwargs[name] = draw(_param(name, schema, bad(name)))
    if mode == "any" and draw(st.integers(0, 5)) == 0:
        kwargs[draw(st.sampled_from(["nn", "sigma2", "Seed"]))] = 1
    return kwargs


def _mask(seed: int, h: int, w: int) -> np.ndarray:
    mask = np.random.default_rng(seed).random((h, w)) > 0.5
    mask[seed % h, seed % w] = True
    return mask


def _shape_ok(session, spec, e) -> bool:
    info = session.layer_info(e.layer) if e.layer else None
    allowed = {tuple(session.image.shape[:2]), tuple(session.input.shape[-2:])}
    if info is not None:
        allowed.add(info.grid)
    return tuple(e.map.shape) in allowed


def _still_answers(session):
    assert hook_count(session.model) == 0
    e = session.explain("gradcam", layer=session.layers[-1].name, target=0)
    assert e.map.shape == session.layers[-1].grid and np.isfinite(e.map).all()


@pytest.mark.parametrize("name", [spec.name for spec in methods.available()])
def test_explain_answers_or_refuses_by_name(session, name):
    spec = methods.get(name)
    allowed = ARGUMENTS | set(spec.params)
    outcomes = {"maps": 0, "refused": 0}

    @settings(max_examples=examples(40))
    @given(explain_arguments(session, spec))
    def check(kwargs):
        try:
            e = session.explain(name, **kwargs)
        except (ValueError, TypeError) as error:
            named = str(error).split(":", 1)[0]
            assert named in allowed | set(kwargs), f"{type(error).__name__} names no argument of {name}: {error!r} for {kwargs!r}"
            outcomes["refused"] += 1
        else:
            assert e.map.dtype == np.float32 and np.isfinite(e.map).all(), f"{name} {kwargs!r}: non-finite map"
            assert _shape_ok(session, spec, e), f"{name} {kwargs!r}: map of shape {e.map.shape}"
            if e.weights is not None:
                assert np.isfinite(e.weights).all()
            outcomes["maps"] += 1
        _still_answers(session)

    check()
    print(f"\nfuzz explain {name}: {outcomes['maps']} maps, {outcomes['refused']} refused by name")
