// Pure logic: colormaps, bytes, request ids, strip/region/grid/picker arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { asBytes, checkShape } from "../bytes";
import { COLORMAPS, blend, colorize, lut } from "../colormaps";
import { RequestTracker } from "../requests";
import { keyStep, shortName, stopAt, toggleFused } from "../layer_strip";
import { cellAt, parseRegion, spanCells } from "../region";
import { clickSelection, formatWeight, topK } from "../channel_grid";
import { parseTarget, percent } from "../class_picker";
import { coerceParam } from "../method_picker";
import { FakeModel } from "./fake_model";

test("colormaps: the required ones exist as 256-entry RGB tables", () => {
  for (const name of ["jet", "viridis", "inferno", "gray"]) assert.ok(COLORMAPS.includes(name), name);
  for (const name of COLORMAPS) assert.equal(lut(name).length, 768);
  assert.deepEqual([...lut("gray").slice(0, 3)], [0, 0, 0]);
  assert.deepEqual([...lut("gray").slice(765)], [255, 255, 255]);
  assert.deepEqual([...lut("jet").slice(0, 3)], [0, 0, 128]); // jet starts dark blue
  assert.equal(lut("no-such-map"), lut("jet"));
});

test("blend: opacity 0 keeps the image, 1 shows the colormap; masks dim and outline", () => {
  const image = () => new Uint8ClampedArray([10, 20, 30, 255, 40, 50, 60, 255]);
  const values = new Uint8Array([0, 255]);
  let px = image();
  blend(px, values, 1, lut("gray"), 0);
  assert.deepEqual([...px], [...image()]);
  px = image();
  blend(px, values, 1, lut("gray"), 1);
  assert.deepEqual([...px], [0, 0, 0, 255, 255, 255, 255, 255]);
  // Segment masks: A outside the selection, B a segment boundary outside it, C the selection's edge.
  const three = () => new Uint8ClampedArray([20, 40, 60, 255, 40, 60, 80, 255, 100, 100, 100, 255]);
  const mask = new Uint8Array([0, 2, 1 | 2 | 4]);
  const flat = new Uint8Array(3);
  const run = (outline: boolean, hideRest: boolean) => {
    const out = three();
    blend(out, flat, 1, lut("gray"), 0, mask, outline, hideRest);
    return [...out];
  };
  // Both on (the default): the rest at 35 %, boundaries lightened 45 % towards white, the selection's edge white.
  assert.deepEqual(run(true, true), [7, 14, 21, 255, 122, 126, 130, 255, 255, 255, 255, 255]);
  px = three();
  blend(px, flat, 1, lut("gray"), 0, mask);
  assert.deepEqual([...px], run(true, true));
  // Outline off: no lines, the rest still dimmed.
  assert.deepEqual(run(false, true), [7, 14, 21, 255, 14, 21, 28, 255, 100, 100, 100, 255]);
  // Hide-rest off: nothing dimmed, lines still drawn.
  assert.deepEqual(run(true, false), [20, 40, 60, 255, 137, 148, 159, 255, 255, 255, 255, 255]);
  assert.deepEqual(run(false, false), [...three()]);
  const rgba = colorize(new Uint8Array([255]), lut("gray"));
  assert.deepEqual([...rgba], [255, 255, 255, 255]);
});

test("bytes: DataView, ArrayBuffer and typed arrays become a Uint8Array view", () => {
  const buf = new Uint8Array([1, 2, 3, 4, 5]).buffer;
  assert.deepEqual([...asBytes(new DataView(buf, 1, 3))], [2, 3, 4]);
  assert.deepEqual([...asBytes(buf)], [1, 2, 3, 4, 5]);
  assert.equal(asBytes(null).length, 0);
  assert.equal(asBytes(undefined).length, 0);
  assert.deepEqual(checkShape([2, 3], 6), [2, 3]);
  assert.equal(checkShape([2, 3], 5), null);
  assert.deepEqual(checkShape([2, 3], 18, 3), [2, 3]);
  assert.equal(checkShape("2,3", 6), null);
});

test("requests: one message per commit, replies painted in order, pending until answered", () => {
  const model = new FakeModel({ request: 4, answered: 4 });
  const tracker = new RequestTracker(model);
  const id = tracker.commit({ layer: "a", region: null });
  assert.equal(id, 5);
  assert.deepEqual(model.calls, [["set", "layer", "a"], ["set", "region", null], ["set", "request", 5], ["save_changes"]]);
  assert.equal(tracker.pending(), true);
  assert.equal(tracker.commit({ layer: "b" }), 6);
  assert.equal(tracker.accept(5), true); // a preview while dragging
  assert.equal(tracker.accept(4), false); // older than what is on screen: stale
  assert.equal(tracker.accept(6), true);
  model.kernelSets({ answered: 6 });
  assert.equal(tracker.pending(), false);
  // Python bumped the request itself (a Python-side change): the next commit goes above it.
  model.kernelSets({ request: 10 });
  assert.equal(tracker.pending(), true);
  assert.equal(tracker.commit({ layer: "c" }), 11);
});

test("layer strip fusion: shift-click toggles a stop, starting from the current one", () => {
  assert.deepEqual(toggleFused([], 2, 0), [0, 2]); // not fused: the current stop and the clicked one
  assert.deepEqual(toggleFused([0, 2], 2, 1), [0, 1, 2]);
  assert.deepEqual(toggleFused([0, 1, 2], 2, 1), [0, 2]);
  assert.deepEqual(toggleFused([0, 2], 2, 2), [0]); // one left: one layer again
  assert.deepEqual(toggleFused([], 2, 2), []); // the current stop alone: nothing to fuse
});

test("layer strip arithmetic: stop under the pointer, keys", () => {
  const spans: Array<[number, number]> = [[0, 10], [10, 20], [20, 30]];
  assert.equal(stopAt(-5, spans), 0);
  assert.equal(stopAt(15, spans), 1);
  assert.equal(stopAt(99, spans), 2);
  assert.equal(stopAt(1, []), -1);
  assert.equal(keyStep("ArrowRight", 1, 3), 2);
  assert.equal(keyStep("ArrowRight", 2, 3), 2);
  assert.equal(keyStep("ArrowLeft", 0, 3), 0);
  assert.equal(keyStep("Home", 2, 3), 0);
  assert.equal(keyStep("End", 0, 3), 2);
  assert.equal(keyStep("a", 0, 3), null);
  assert.equal(shortName("bn2"), "bn2");
  assert.equal(shortName("blocks.5.0.conv_pw"), "…5.0.conv_pw");
});

test("region arithmetic: snapping to the grid, half-open spans, validation", () => {
  assert.deepEqual(cellAt(0, 0, 100, 70, [7, 10]), [0, 0]);
  assert.deepEqual(cellAt(99.9, 69.9, 100, 70, [7, 10]), [6, 9]);
  assert.deepEqual(cellAt(150, -3, 100, 70, [7, 10]), [0, 9]);
  assert.deepEqual(cellAt(25, 35, 100, 70, [7, 10]), [3, 2]);
  assert.deepEqual(spanCells([3, 4], [1, 2]), [1, 2, 4, 5]);
  assert.deepEqual(parseRegion([1, 2, 4, 5], [7, 7]), [1, 2, 4, 5]);
  assert.equal(parseRegion([1, 2, 9, 5], [7, 7]), null);
  assert.equal(parseRegion([2, 2, 2, 5], [7, 7]), null);
  assert.equal(parseRegion(null, [7, 7]), null);
});

test("feature-map grid: click, shift-click, top-k, weights", () => {
  assert.deepEqual(clickSelection(null, 5, false), [5]);
  assert.equal(clickSelection([5], 5, false), null);
  assert.deepEqual(clickSelection([5], 2, true), [2, 5]);
  assert.equal(clickSelection([5], 5, true), null);
  assert.deepEqual(clickSelection(null, 7, true), [7]);
  assert.deepEqual(topK([9, 3, 7, 1], 3), [3, 7, 9]);
  assert.equal(formatWeight(0.5), "0.500");
  assert.equal(formatWeight(0.0012), "1.2e-3");
  assert.equal(formatWeight(NaN), "–");
});

test("pickers: targets by index or name, params coerced from the schema", () => {
  const classes = ["tench", "Egyptian cat"];
  assert.equal(parseTarget("#1", classes), 1);
  assert.equal(parseTarget(" 0 ", classes), 0);
  assert.equal(parseTarget("egyptian cat", classes), 1);
  assert.equal(parseTarget("tabby", classes), "tabby");
  assert.equal(parseTarget("  ", classes), null);
  assert.equal(percent(0.5416), "54.2%");
  assert.equal(coerceParam({ type: "int", min: 1, max: 50 }, "99"), 50);
  assert.equal(coerceParam({ type: "int", min: 1 }, "2.6"), 3);
  assert.equal(coerceParam({ type: "float", min: 0 }, "-1"), 0);
  assert.equal(coerceParam({ type: "float", default: null, nullable: true }, ""), null);
  assert.equal(coerceParam({ type: "int", default: 3 }, ""), undefined);
  assert.equal(coerceParam({ type: "int" }, "abc"), undefined);
  assert.equal(coerceParam({ type: "bool" }, true), true);
  assert.equal(coerceParam({ type: "choice", choices: ["slic", "quickshift"] }, "quickshift"), "quickshift");
  assert.equal(coerceParam({ type: "choice", choices: ["slic"] }, "nope"), undefined);
});

test("latest per frame: the first value of a quiet frame goes at once, then one (the newest) a frame", async () => {
  const { LatestPerFrame } = await import("../frames");
  const sent: number[] = [];
  const frames: Array<() => void> = [];
  const throttle = new LatestPerFrame<number>((v) => sent.push(v), (fn) => frames.push(fn));
  throttle.push(1);
  assert.deepEqual(sent, [1]); // a drag's first move does not wait for a frame
  throttle.push(2);
  throttle.push(3);
  assert.deepEqual(sent, [1]);
  assert.ok(throttle.waiting);
  frames.shift()!();
  assert.deepEqual(sent, [1, 3]); // only the newest of that frame
  frames.splice(0).forEach((fn) => fn());
  throttle.push(4); // a quiet frame again: at once
  assert.deepEqual(sent, [1, 3, 4]);
  throttle.push(5, true); // discrete inputs always go at once
  assert.deepEqual(sent, [1, 3, 4, 5]);
  assert.equal(throttle.waiting, false);
});
