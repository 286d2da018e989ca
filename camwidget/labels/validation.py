"""Checking one annotation before it is written, and turning it into the row the store keeps.

Everything is refused with :class:`LabelValidationError` before the database is touched: empty
(or only invisible) text, over-long text, text or names that are not one line of valid Unicode
(control characters, U+2028 / U+2029, lone surrogates), names over the limit, reveal steps outside 0–5, unknown targets or
guesses, non-finite or negative weights, outcomes that contradict the guess.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime, timezone
from typing import Any

from .errors import LabelValidationError
from .schema import MAX_NAME, MAX_TEXT, OUTCOMES, REVEAL_STEPS


def validated_row(session, *, layer, cluster, text, target, guess, reveal_step,
                  outcome, annotator, cluster_weight, layer_depth) -> dict:
    """The annotation's columns (everything but ``id``), checked; see ``LabelStore.annotate``."""
    image_fp = _name(getattr(session, "image_fingerprint", None), "session.image_fingerprint")
    model_fp = _name(getattr(session, "model_fingerprint", None), "session.model_fingerprint")
    layer = _name(layer, "layer")
    label = _label_text(text)

    if isinstance(cluster, str):
        cluster_id = cluster
    elif hasattr(cluster, "id"):
        cluster_id = str(cluster.id)
        if cluster_weight is None:
            cluster_weight = getattr(cluster, "weight", None)
    else:
        raise LabelValidationError(
            f"cluster must be a cluster (with an .id) or a cluster id string, not {cluster!r}"
        )
    cluster_id = _name(cluster_id, "cluster id")
    if cluster_weight is not None:
        try:
            cluster_weight = float(cluster_weight)
        except (TypeError, ValueError):
            raise LabelValidationError(f"cluster weight must be a number, not {cluster_weight!r}") from None
        if not math.isfinite(cluster_weight) or cluster_weight < 0:
            raise LabelValidationError(
                f"cluster weight must be a finite percentage ≥ 0, not {cluster_weight}"
            )

    if isinstance(reveal_step, bool) or not isinstance(reveal_step, int) or reveal_step not in REVEAL_STEPS:
        raise LabelValidationError(
            f"reveal step must be an integer from {REVEAL_STEPS.start} to "
            f"{REVEAL_STEPS.stop - 1}, not {reveal_step!r}"
        )

    classes = getattr(session, "classes", None)
    target_index = _resolve(session, target, "target")
    cluster_target = getattr(cluster, "target", None) if not isinstance(cluster, str) else None
    if isinstance(cluster_target, int) and not isinstance(cluster_target, bool):
        # a cluster computed for one class describes that class
        if target is None:
            target_index = _resolve(session, cluster_target, "target")
        elif cluster_target != target_index:
            raise LabelValidationError(
                f"cluster {cluster_id} was computed for class {cluster_target}, not for the "
                f"target {target!r} ({target_index})"
            )
    guess_index = None if guess is None else _resolve(session, guess, "guess")
    correct = None if guess_index is None else guess_index == target_index

    if outcome is None:
        outcome = None if correct is None else ("win" if correct else "loss")
    elif outcome not in OUTCOMES:
        raise LabelValidationError(f"outcome must be one of {', '.join(OUTCOMES)} or None, not {outcome!r}")
    elif outcome == "win" and correct is not True:
        raise LabelValidationError("outcome 'win' needs a correct guess")
    elif outcome != "win" and correct is True:
        raise LabelValidationError(f"outcome {outcome!r} contradicts a correct guess")

    if annotator is not None:
        annotator = annotator.strip() if isinstance(annotator, str) else annotator
        annotator = _name(annotator, "annotator") if annotator else None

    if layer_depth is None:
        layer_depth = _layer_depth(session, layer)
    elif isinstance(layer_depth, bool) or not isinstance(layer_depth, int):
        raise LabelValidationError(f"layer depth must be an integer, not {layer_depth!r}")

    return dict(
        image_fingerprint=image_fp,
        model_fingerprint=model_fp,
        target=target_index,
        target_name=_class_name(classes, target_index),
        layer=layer,
        layer_depth=layer_depth,
        cluster_id=cluster_id,
        cluster_weight=cluster_weight,
        reveal_step=reveal_step,
        guess=guess_index,
        guess_name=_class_name(classes, guess_index),
        correct=correct,
        outcome=outcome,
        text=label,
        annotator=annotator,
        created_at=datetime.now(timezone.utc),
    )


#: Unicode categories refused in text and names: controls (newline, tab, ...), the line and
#: paragraph separators U+2028 / U+2029, and lone surrogates (not encodable as UTF-8).
_REFUSED = {"Cc": "control characters (newlines, tabs, ...)", "Zl": "a line separator (U+2028)",
            "Zp": "a paragraph separator (U+2029)", "Cs": "a lone surrogate (not valid Unicode text)"}


def _refuse_unwritable(value: str, what: str) -> None:
    """LabelValidationError when ``value`` holds a character that breaks one line of valid text."""
    for ch in value:
        kind = _REFUSED.get(unicodedata.category(ch))
        if kind is not None:
            raise LabelValidationError(f"{what} contains {kind} at U+{ord(ch):04X}; write one line of text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # pragma: no cover - surrogates are caught above
        raise LabelValidationError(f"{what} is not valid Unicode text: {e.reason}") from None


def _visible(value: str) -> bool:
    """Whether ``value`` has a character other than white space and invisible format characters
    (zero-width space / joiners, U+FEFF, ...)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in value)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise LabelValidationError(f"{what} must be a string, not {value!r}")
    if "\x00" in value:
        raise LabelValidationError(f"{what} contains a NUL character")
    _refuse_unwritable(value, what)
    if not _visible(value):
        raise LabelValidationError(f"{what} is empty")
    if len(value) > MAX_NAME:
        raise LabelValidationError(f"{what} is {len(value)} characters long; the limit is {MAX_NAME}")
    return value


def _label_text(text: Any) -> str:
    if not isinstance(text, str):
        raise LabelValidationError(f"label text must be a string, not {type(text).__name__}")
    label = text.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise LabelValidationError("label text contains control characters (newlines, tabs, ...); write one line")
    _refuse_unwritable(label, "label text")
    if not _visible(label):
        raise LabelValidationError("label text is empty (or only invisible characters); write what the cluster shows")
    if len(label) > MAX_TEXT:
        raise LabelValidationError(
            f"label text is {len(label)} characters long; the limit is {MAX_TEXT} characters"
        )
    return label


def _resolve(session: Any, value: Any, what: str) -> int:
    from ..engine.targets import Target

    try:
        index = session.resolve_target(value)
    except (ValueError, KeyError, IndexError, TypeError, LookupError) as e:
        raise LabelValidationError(f"unknown {what} {value!r}: {e}") from e
    if isinstance(index, Target):  # multi-label, segmentation, a custom score: labels are per class
        if index.index is None:
            raise LabelValidationError(f"{what} {index.name(getattr(session, 'classes', None))!r} scores no class; "
                                       "labels and guesses are recorded for a class")
        index = index.index
    if isinstance(index, bool) or not isinstance(index, int):
        try:
            index = int(index)  # numpy integers
        except (TypeError, ValueError):
            raise LabelValidationError(f"{what} {value!r} resolved to {index!r}, not a class index") from None
    if index < 0:
        raise LabelValidationError(f"{what} {value!r} resolved to a negative class index {index}")
    return index


def _class_name(classes, index: int | None) -> str | None:
    if index is None or not classes or index >= len(classes):
        return None
    name = str(classes[index]).encode("utf-8", "replace").decode("utf-8")  # a class name is kept, mended
    return name[:MAX_NAME]


def _layer_depth(session: Any, layer: str) -> int | None:
    """The layer's depth when the session lists its layers (name, depth); else None."""
    try:
        for info in getattr(session, "layers", None) or ():
            if getattr(info, "name", None) == layer:
                depth = getattr(info, "depth", None)
                return int(depth) if depth is not None else None
    except Exception:  # the layer list is a convenience here; never fail an annotation on it
        return None
    return None
