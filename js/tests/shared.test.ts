// One source for the constants the kernel and the browser share (camwidget/widget/shared.json),
// and the panel registry: each panel mounted once, each handler wired once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Window } from "happy-dom";
import shared from "../../camwidget/widget/shared.json";
import { COLORMAPS } from "../colormaps";
import { LUT_HEX } from "../lut_data";
import { PANELS } from "../panels";
import { REVEAL_PERCENT } from "../reveal";
import * as widgetModule from "../widget";
import { FakeModel } from "./fake_model";

test("the frontend's constants are the kernel's", () => {
  assert.deepEqual(COLORMAPS, shared.colormaps);
  for (const name of shared.colormaps) assert.equal(LUT_HEX[name]?.length, 768 * 2, `no lookup table for ${name}`);
  assert.deepEqual([...REVEAL_PERCENT], shared.reveal_percent);
  const doc = new Window().document as unknown as Document;
  const el = doc.createElement("div");
  widgetModule.default.render({ model: new FakeModel({ layers: [], methods: [] }), el: el as unknown as HTMLElement });
  for (const id of ["label-input", "reveal-text"]) {
    assert.equal((el.querySelector(`[data-testid=${id}]`) as unknown as HTMLInputElement).maxLength, shared.max_text);
  }
});

test("the widget module exports only the default object (no deprecated direct render export)", () => {
  assert.deepEqual(Object.keys(widgetModule), ["default"]);
  assert.equal(typeof widgetModule.default.render, "function");
});

test("each panel mounts once and updates once at start, then once per change of its traits", () => {
  const doc = new Window().document as unknown as Document;
  const model = new FakeModel({ layers: [], methods: [], method: "gradcam", params: {} });
  const counts = PANELS.map(() => 0);
  const mounted = PANELS.map((make, i) => {
    const p = make({ doc, model, commit: () => {}, send: () => {} });
    const update = p.update.bind(p);
    return { ...p, update: () => { counts[i] += 1; update(); } };
  });
  assert.equal(new Set(mounted.flatMap((p) => p.traits)).has("method"), true);
  for (const p of mounted) {
    for (const t of p.traits) model.on(`change:${t}`, p.update);
    p.update();
  }
  assert.deepEqual(counts, PANELS.map(() => 1));
  model.kernelSets({ game: { active: true } });
  const showsGame = mounted.map((p) => p.traits.includes("game"));
  assert.deepEqual(counts, showsGame.map((g) => (g ? 2 : 1)));
});
