"""Label text: normalisation, Sentence-BERT synonym groups, best-word names, lemmas."""
from __future__ import annotations

import numpy as np
import pytest

from camwidget.labels.text import (
    best_word,
    embed,
    group_by_distance,
    lemmatise,
    load_embedder,
    name_labels,
    normalise,
    phrases,
)


def test_normalise_lowercases_and_removes_the_class_name():
    assert normalise("Pointy EARS!", "tabby cat") == "pointy ears"
    assert normalise("The CATS' ears", "cat") == "the ears"          # plural of the class word too
    assert normalise("Tabby cat ears", "tabby, tabby cat") == "ears"  # ImageNet names with synonyms
    assert normalise("cat", "cat") == ""                              # only named the class
    assert normalise("car wheels", ["sports car", "racer"]) == "wheels"
    assert normalise("stripes", None) == "stripes"


def test_phrases_split_characteristics():
    assert phrases("Pointy ears, whiskers; fur / fur", "tabby cat") == ["pointy ears", "whiskers", "fur"]
    assert phrases("cat, CAT", "cat") == []


def test_lemmatise():
    assert lemmatise("ears") == "ear"
    assert lemmatise("wheels") == "wheel"
    assert lemmatise("fur") == "fur"


def test_the_default_embedder_is_the_packaged_offline_model(embedder):
    assert load_embedder(None) is embedder  # loaded once, kept
    vectors = embed(["cat ears", "pointy ears"], embedder)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_an_embedder_object_is_used_as_given():
    class Letters:
        def encode(self, texts, **kwargs):
            return np.array([[t.count("a"), t.count("e") + 1.0] for t in texts])

    assert load_embedder(Letters()).__class__ is Letters
    assert embed(["aa", "ee"], Letters()).shape == (2, 2)


def test_synonyms_group_and_unrelated_labels_do_not(embedder):
    raw = ["cat ears", "pointy ears", "wheels", "car tyres", "round wheels", "whiskers",
           "long whiskers", "fur", "striped fur", "green eyes", "eyes"]
    labels = [p for text in raw for p in phrases(text, "tabby cat")]
    names = name_labels(labels, embedder)
    assert names["ears"] == names["pointy ears"] == "ear"
    assert names["wheels"] != names["ears"]
    assert names["wheels"] == names["round wheels"] == "wheel"
    assert names["fur"] == names["striped fur"] == "fur"
    assert names["whiskers"] == names["long whiskers"] == "whisker"


@pytest.mark.parametrize("class_name", [None, "sports car"])
def test_cat_ears_and_pointy_ears_group_whatever_the_class(embedder, class_name):
    raw = ["cat ears", "pointy ears", "wheels", "round wheels", "whiskers", "long whiskers",
           "fur", "striped fur", "green eyes", "eyes"]
    names = name_labels([p for text in raw for p in phrases(text, class_name)], embedder)
    assert names["cat ears"] == names["pointy ears"] == "ear"
    assert names["wheels"] == "wheel" != names["cat ears"]


def test_three_labels_minimal_case(embedder):
    labels = [p for t in ("cat ears", "pointy ears", "wheels") for p in phrases(t, "cat")]
    names = name_labels(labels, embedder)
    assert names["ears"] == names["pointy ears"] != names["wheels"]


def test_tiny_inputs(embedder):
    assert name_labels([], embedder) == {}
    assert name_labels(["pointy ears"], embedder) == {"pointy ears": "ear"}
    assert name_labels(["ears", "ears"], embedder) == {"ears": "ear"}
    same = name_labels(["ears", "pointy ears"], embedder)
    assert same["ears"] == same["pointy ears"] == "ear"
    apart = name_labels(["ears", "wheels"], embedder)
    assert apart == {"ears": "ear", "wheels": "wheel"}


def test_group_by_distance_guards():
    assert list(group_by_distance(np.zeros((1, 1)))) == [0]
    close = np.full((3, 3), 0.1)
    np.fill_diagonal(close, 0)
    assert list(group_by_distance(close)) == [0, 0, 0]
    far = np.full((3, 3), 0.9)
    np.fill_diagonal(far, 0)
    assert list(group_by_distance(far)) == [0, 1, 2]
    two_blocks = np.array([[0, .1, .9, .9], [.1, 0, .9, .9], [.9, .9, 0, .1], [.9, .9, .1, 0]])
    assert list(group_by_distance(two_blocks)) == [0, 0, 1, 1]


def test_best_word_skips_stopwords(embedder):
    assert best_word(["the ears", "ears of it"], embedder) == "ear"
    assert best_word(["the", "of the"], embedder) in ("the", "of the")  # nothing but stopwords


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_gives_no_phrases(text):
    assert phrases(text, "cat") == []
