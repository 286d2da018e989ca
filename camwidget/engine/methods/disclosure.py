"""Which of a method's parameters a toolbar shows at once, and which it folds behind "more…".

Progressive disclosure: the parameters a person changes to ask a different question (how many
noisy copies, which segmenter, how many top segments) stay in view; those that only make a run
reproducible or faster (a seed, a batch size, an interpolation detail) are folded. The rule, in
order of precedence:

1. a schema's own ``"secondary": True`` / ``False`` (a method author's word);
2. :data:`SECONDARY_IN` — a small table per method (a parameter that is an alternative to
   another, or that does not apply with the method's default segmenter);
3. :data:`SECONDARY` — names folded in every method;
4. at most :data:`MAX_PRIMARY` parameters stay in view (the rest fold, in schema order), so that
   any registered method's parameters fit the toolbar's second row.
"""
from __future__ import annotations

from typing import Any

#: Parameters folded in every method: reproducibility and speed, not the question asked.
SECONDARY = frozenset({"seed", "batch_size", "align_corners"})
#: Per method: ``threshold`` replaces SeCAM's ``k``; LIME's default segmenter (quickshift) takes
#: no ``n_segments``, and ``hide`` only changes what fills the hidden segments.
SECONDARY_IN: dict[str, frozenset[str]] = {
    "secam": frozenset({"threshold"}),
    "lime": frozenset({"n_segments", "hide"}),
}
#: The most parameters a toolbar shows at once.
MAX_PRIMARY = 4


def primary_params(method: str, params: dict[str, dict[str, Any]]) -> list[str]:
    """The names of ``params`` (a method's schema) shown at once, in schema order; the rest fold."""
    folded = SECONDARY_IN.get(method, frozenset())
    shown = []
    for name, schema in params.items():
        own = schema.get("secondary") if isinstance(schema, dict) else None
        secondary = bool(own) if own is not None else (name in folded or name in SECONDARY)
        if not secondary:
            shown.append(name)
    return shown[:MAX_PRIMARY]
