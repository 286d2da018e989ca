"""The label store under generated texts and names (all of Unicode, lone surrogates, separators,
invisible characters, control characters). Property: the annotation is stored and read back
exactly (stripped), or refused with LabelValidationError and nothing is written."""
from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
from fuzz_profile import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from camwidget.labels import LabelStore, LabelValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "labels"))
from label_fakes import FakeSession

TRICKY = "\ud800\udfff\u2028\u2029\u200b\u200c\u200d\u2060\ufeff\x00\n\r\t\x1b\x7f\u0085 \u00a0\u3000é\U0001f600"
TEXTS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # every code point, surrogates included
    st.text(st.sampled_from(TRICKY), max_size=8),
    st.text(st.sampled_from(TRICKY + "ab"), min_size=190, max_size=210),  # around the length limit
    st.from_type(int), st.none(), st.binary(max_size=4),
)


def _one_line(value: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") for ch in value)


def _visible(value: str) -> bool:
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in value)


@pytest.fixture(scope="module")
def store():
    with LabelStore("sqlite://") as opened:
        yield opened


def _stored_or_refused(store, **kwargs):
    before = store.count()
    try:
        written = store.annotate(FakeSession(), **kwargs)
    except LabelValidationError:
        assert store.count() == before
        return None
    assert store.count() == before + 1
    (read,) = store.annotations(cluster_id=written.cluster_id, layer=written.layer)[-1:]
    assert read == written
    return written


@settings(max_examples=examples(200))
@given(TEXTS)
def test_label_texts(store, text):
    written = _stored_or_refused(store, layer="blocks.1", cluster="c-text", text=text)
    if written is not None:
        assert written.text == text.strip() and written.text.encode("utf-8")
        assert _one_line(written.text) and _visible(written.text)


@settings(max_examples=examples(200))
@given(st.sampled_from(["annotator", "layer", "cluster"]), TEXTS)
def test_names(store, field, name):
    kwargs = {"layer": "blocks.2", "cluster": "c-name", "text": "fur", "annotator": "ana"}
    kwargs[field] = name
    written = _stored_or_refused(store, **kwargs)
    if written is not None:
        value = {"annotator": written.annotator, "layer": written.layer, "cluster": written.cluster_id}[field]
        if field == "annotator" and value is None:  # no annotator (None, or only white space)
            assert name is None or not name.strip()
            return
        assert value.encode("utf-8") and _one_line(value) and _visible(value)
