"""One source for what the kernel and the browser share: constants, and the shapes of what Python sends.

The constants live in camwidget/widget/shared.json (both sides read it); here the consumers that
cannot read it (the colormap tables, the label store's limit) are checked against it, and each
TypeScript interface of a kernel message is checked field by field against what Python emits.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import camwidget as cw
from camwidget.labels import schema as label_schema
from camwidget.widget import CamWidget, wire

ROOT = Path(__file__).resolve().parents[1]
SHARED = json.loads((ROOT / "camwidget" / "widget" / "shared.json").read_text())


def ts_fields(path: str, interface: str) -> dict[str, str]:
    """``{field: type}`` of ``interface`` in a TypeScript file (flat interfaces only)."""
    text = (ROOT / path).read_text()
    m = re.search(rf"export interface {interface} \{{(.*?)\n\}}", text, re.S)
    assert m, f"{interface} not found in {path}"
    fields = {}
    for line in m.group(1).splitlines():
        line = line.split("//")[0].strip()
        if line:
            name, _, kind = line.partition(":")
            fields[name.rstrip("?").strip()] = kind.strip().rstrip(";")
    return fields


def test_python_reads_the_shared_constants():
    assert list(wire.COLORMAPS) == SHARED["colormaps"]
    assert list(wire.REVEAL_PERCENT) == SHARED["reveal_percent"]
    assert (wire.MAX_TILE_SIDE, wire.MAX_TILES, wire.MAX_IMAGE_SIDE) == (
        SHARED["max_tile_side"], SHARED["max_tiles"], SHARED["max_image_side"])
    assert label_schema.MAX_TEXT == SHARED["max_text"] == wire.MAX_TEXT, "the label store's text limit"
    tables = re.findall(r"^  (\w+):", (ROOT / "js" / "lut_data.ts").read_text(), re.M)
    assert tables == SHARED["colormaps"], "js/lut_data.ts has a table for each shared colormap, in order"
    bundled = (ROOT / "js" / "shared.ts").read_text()
    assert "camwidget/widget/shared.json" in bundled
    for ts in ("js/reveal.ts", "js/clusters.ts", "js/colormaps.ts"):
        text = (ROOT / ts).read_text()
        assert "200" not in re.sub(r"//.*", "", text), f"{ts} keeps a text limit of its own"
        assert "4.5" not in re.sub(r"//.*", "", text), f"{ts} keeps reveal percentages of its own"


def test_the_parameter_schema_type_is_what_python_emits():
    emitted: set[str] = set()
    kinds: set[str] = set()
    for m in cw.engine.methods.available():
        for spec in m.params.values():
            emitted |= set(spec)
            kinds.add(spec["type"])
    fields = ts_fields("js/types.ts", "ParamSchema")
    assert set(fields) >= emitted, f"Python sends {sorted(emitted - set(fields))}, which js/types.ts does not declare"
    assert set(fields) <= emitted | {"nullable"}, f"js/types.ts declares {sorted(set(fields) - emitted)}, which Python never sends"
    declared_kinds = set(re.findall(r'"(\w+)"', fields["type"]))
    assert kinds <= declared_kinds <= {"int", "float", "bool", "choice"}, (kinds, declared_kinds)


@pytest.fixture
def answered(tiny_session, monkeypatch):
    monkeypatch.setattr("camwidget.widget.maps.ATLAS_AFTER_S", 0.0)
    w = CamWidget(tiny_session, method="inv", layer="features.3")
    assert w.wait(30)
    partial: list[dict] = []
    w.observe(lambda c: partial.append(c["new"]) if c["new"].get("partial") else None, names=["heatmap_meta"])
    monkeypatch.setattr("camwidget.widget.worker.PROGRESS_EVERY_S", 0.0)
    w.params = {"cluster": 0}
    assert w.wait(30)
    w.start_game(0)
    game = dict(w.game)
    w.method = "smooth-gradcam++"
    w.params = {"n": 4, "batch_size": 2}
    assert w.wait(30) and partial
    yield w, game, partial[0]
    w.close()


def test_each_kernel_message_matches_its_typescript_interface(answered):
    w, game, partial = answered
    emitted = {
        ("js/types.ts", "HeatmapMeta"): set(w.heatmap_meta) | set(partial),
        ("js/types.ts", "AtlasMeta"): set(w.atlas_meta),
        ("js/types.ts", "LayerEntry"): set(w.layers[0]),
        ("js/types.ts", "TopEntry"): set(w.top[0]),
        ("js/types.ts", "MethodEntry"): set(w.methods[0]),
        ("js/clusters.ts", "ClustersMeta"): set(w.clusters_meta),
        ("js/clusters.ts", "ClusterEntry"): set(w.clusters_meta["clusters"][0]),
        ("js/reveal.ts", "GameState"): set(game) | {"guess"},  # guess: once the round is over
    }
    for (path, interface), keys in emitted.items():
        fields = set(ts_fields(path, interface))
        assert fields == keys, f"{interface}: TypeScript only {sorted(fields - keys)}, Python only {sorted(keys - fields)}"
    assert "target" not in game, "the game state must not carry the answer"
