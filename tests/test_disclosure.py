"""Which parameters a toolbar shows at once: the schema's word, a small table, then a cap."""
from __future__ import annotations

import camwidget as cw
from camwidget.engine.methods.disclosure import MAX_PRIMARY, primary_params


def test_every_registered_method_shows_at_most_max_primary_and_folds_only_reproducibility_first():
    for spec in cw.methods.available():
        shown = primary_params(spec.name, spec.params)
        assert len(shown) <= MAX_PRIMARY and shown == [n for n in spec.params if n in shown], spec.name
        assert not {"seed", "batch_size", "align_corners"} & set(shown), spec.name
    by = {s.name: s for s in cw.methods.available()}
    assert primary_params("smooth-gradcam++", by["smooth-gradcam++"].params) == ["n", "sigma"]
    assert primary_params("lime", by["lime"].params) == ["segmenter", "n_samples", "k"]
    assert primary_params("secam", by["secam"].params) == ["segmenter", "n_segments", "k"]


def test_the_schemas_own_word_wins_and_the_cap_folds_the_rest_in_order():
    many = {f"p{i}": {"type": "int", "default": i} for i in range(6)}
    assert primary_params("custom", many) == ["p0", "p1", "p2", "p3"]
    own = {"seed": {"type": "int", "secondary": False}, "depth": {"type": "int", "secondary": True}, "k": {"type": "int"}}
    assert primary_params("custom", own) == ["seed", "k"]
