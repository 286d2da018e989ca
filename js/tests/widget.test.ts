// The whole view, rendered into happy-dom against a fake model: wiring, not pixels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Window } from "happy-dom";
import widget from "../widget";

const { render } = widget;
import { FakeModel } from "./fake_model";

const LAYERS = [
  { name: "conv1", shape: [8, 16, 16], depth: 0 },
  { name: "block1", shape: [16, 8, 8], depth: 1 },
  { name: "head", shape: [32, 4, 4], depth: 2 },
];

function setup(extra: Record<string, unknown> = {}) {
  const window = new Window();
  const doc = window.document as unknown as Document;
  const el = doc.createElement("div");
  doc.body.append(el);
  const model = new FakeModel({
    image: new DataView(new Uint8Array(4 * 4 * 3).buffer),
    image_shape: [4, 4],
    heatmap: new DataView(new Uint8Array(16).buffer),
    heatmap_meta: { shape: [4, 4], request: 0, layer: "head" },
    mask: new DataView(new ArrayBuffer(0)),
    channels_atlas: new DataView(new Uint8Array(3 * 4).buffer),
    atlas_meta: { layer: "head", order: [7, 2, 5], weights: [0.9, 0.5, 0.1], tile: [2, 2], total: 32, weight_kind: "weight" },
    layers: LAYERS,
    top: [
      { index: 3, name: "cat", score: 0.6, score_kind: "softmax probability" },
      { index: 1, name: "dog", score: 0.3, score_kind: "softmax probability" },
    ],
    classes: ["a", "dog", "c", "cat", "e"],
    methods: [
      { name: "gradcam", label: "Grad-CAM", params: {} },
      { name: "smooth", label: "Smooth", params: { n: { type: "int", default: 25, min: 1, label: "n" } } },
    ],
    layer: "head",
    method: "gradcam",
    target: 3,
    channels: null,
    region: null,
    params: {},
    request: 0,
    answered: 0,
    opacity: 0.5,
    colormap: "jet",
    status: "Grad-CAM · head",
    error: "",
    busy: false,
    ...extra,
  });
  const cleanup = render({ model, el: el as unknown as HTMLElement });
  const q = (id: string) => el.querySelector(`[data-testid=${id}]`) as unknown as HTMLElement;
  return { window, doc, el, model, cleanup, q };
}

test("render builds every test hook and follows the initial state", () => {
  const { q, el } = setup();
  for (const id of ["heatmap-canvas", "layer-strip", "class-select", "method-select", "region-selector", "channel-grid", "status"]) {
    assert.ok(q(id), id);
  }
  assert.equal(q("layer-strip").dataset.layer, "head");
  assert.equal(el.querySelectorAll(".cw-stop").length, 3);
  assert.equal(el.querySelector(".cw-stop .cw-stop-shape")!.textContent, "8×16×16");
  assert.equal((q("method-select") as unknown as HTMLSelectElement).value, "gradcam");
  assert.equal((q("class-select") as unknown as HTMLSelectElement).value, "3");
  assert.equal(el.querySelectorAll(".cw-tile").length, 3);
  assert.match(q("channel-grid").textContent ?? "", /top 3 of 32/);
  assert.match(q("status").textContent ?? "", /Grad-CAM · head/);
});

test("arrow keys on the strip send layer + cleared selection + request in one message", () => {
  const { q, model, window } = setup({ channels: [1], region: [0, 0, 2, 2] });
  model.clear();
  q("layer-strip").dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowLeft" }) as unknown as Event);
  assert.deepEqual(model.sets(), { layer: "block1", region: null, channels: null, request: 1 });
  assert.equal(model.saves(), 1);
  assert.equal(q("layer-strip").dataset.layer, "block1");
  assert.match(q("status").textContent ?? "", /computing/);
  // The kernel answers: no longer pending.
  model.kernelSets({ answered: 1, status: "Grad-CAM · block1" });
  assert.doesNotMatch(q("status").textContent ?? "", /computing/);
});

test("Python sets the layer: the strip follows without sending anything", () => {
  const { q, model, el } = setup();
  model.clear();
  model.kernelSets({ layer: "conv1" });
  assert.equal(q("layer-strip").dataset.layer, "conv1");
  assert.ok(el.querySelector(".cw-stop.cw-active")!.textContent!.includes("conv1"));
  assert.equal(model.saves(), 0);
});

test("shift-click on stops fuses layers; Python's fuse_layers marks them; a plain step returns to one layer", () => {
  const { q, model, el, window } = setup();
  const stops = [...el.querySelectorAll(".cw-stop")] as unknown as HTMLElement[];
  stops.forEach((s, i) => {
    s.getBoundingClientRect = () => ({ left: i * 50, right: i * 50 + 50, top: 0, bottom: 20, width: 50, height: 20 }) as DOMRect;
  });
  const down = (x: number, shiftKey: boolean) =>
    q("layer-strip").dispatchEvent(
      new window.PointerEvent("pointerdown", { clientX: x, clientY: 5, button: 0, pointerId: 1, shiftKey }) as unknown as Event,
    );
  model.clear();
  down(10, true); // conv1, while head is current
  assert.deepEqual(model.sets(), { fuse_layers: ["conv1", "head"], request: 1 });
  assert.deepEqual([...el.querySelectorAll(".cw-stop.cw-fused")].map((s) => (s as unknown as HTMLElement).dataset.layer), ["conv1", "head"]);
  assert.match(q("layer-caption").textContent ?? "", /Fused 2 layers: conv1 \+ head/);
  model.kernelSets({ fuse_layers: ["conv1", "head"], answered: 1 });
  assert.equal((q("fuse-gamma").parentElement as HTMLElement).hidden, false);
  model.clear();
  down(110, true); // head out again: conv1 alone, one layer
  assert.deepEqual(model.sets(), { layer: "conv1", fuse_layers: [], region: null, channels: null, request: 2 });
  assert.equal(el.querySelectorAll(".cw-stop.cw-fused").length, 0);
  assert.equal(q("layer-strip").dataset.layer, "conv1");
  // Python → view: the stops follow, nothing is sent.
  model.kernelSets({ layer: "conv1", fuse_layers: ["conv1", "block1"], answered: 2 });
  model.clear();
  assert.equal(q("layer-strip").dataset.fused, "conv1,block1");
  // A key step (here onto the stop already current would be a no-op; the arrow moves) ends the fusion.
  q("layer-strip").dispatchEvent(new window.KeyboardEvent("keydown", { key: "ArrowRight" }) as unknown as Event);
  assert.deepEqual(model.sets(), { layer: "block1", region: null, channels: null, fuse_layers: [], request: 3 });
  assert.equal(el.querySelectorAll(".cw-stop.cw-fused").length, 0);
});

test("thumbnails: click picks one, shift-click adds, buttons", () => {
  const { el, model, window } = setup();
  const tiles = el.querySelectorAll(".cw-tile");
  model.clear();
  (tiles[1] as unknown as HTMLElement).dispatchEvent(new window.MouseEvent("click") as unknown as Event);
  assert.deepEqual(model.sets().channels, [2]);
  (tiles[0] as unknown as HTMLElement).dispatchEvent(new window.MouseEvent("click", { shiftKey: true }) as unknown as Event);
  assert.deepEqual(model.sets().channels, [2, 7]);
  assert.equal(model.saves(), 2);
  (el.querySelector("button[data-action=all]") as unknown as HTMLElement).click();
  assert.equal(model.sets().channels, null);
  (el.querySelector(".cw-k") as unknown as HTMLInputElement).value = "2";
  (el.querySelector("button[data-action=top-k]") as unknown as HTMLElement).click();
  assert.deepEqual(model.sets().channels, [2, 7]);
  assert.ok(tiles[0].classList.contains("cw-selected") && tiles[2].classList.contains("cw-dim"));
});

test("secondary parameters fold behind more…; opened, they commit like the rest; Escape folds", () => {
  const methods = [
    { name: "gradcam", label: "Grad-CAM", params: {} },
    {
      name: "smooth", label: "Smooth", primary: ["n"],
      params: { n: { type: "int", default: 25, min: 1, label: "n" }, seed: { type: "int", default: 0, label: "seed" } },
    },
  ];
  const { q, model, el, window } = setup({ methods, method: "smooth" });
  const toggle = q("params-more-toggle") as unknown as HTMLButtonElement;
  const more = q("params-more");
  const seed = el.querySelector("input[data-param=seed]") as unknown as HTMLInputElement;
  assert.ok(toggle && more && seed && more.contains(seed as unknown as Node), "seed is folded");
  assert.ok(!more.contains(el.querySelector("input[data-param=n]") as unknown as Node), "n stays in view");
  assert.equal(more.hidden, true);
  assert.equal(toggle.getAttribute("aria-expanded"), "false");
  assert.match(toggle.textContent ?? "", /more… \(1\)/);
  toggle.click();
  assert.equal(more.hidden, false);
  assert.equal(toggle.getAttribute("aria-expanded"), "true");
  model.clear();
  seed.value = "7";
  seed.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.deepEqual(model.sets().params, { seed: 7 });
  model.kernelSets({ params: { seed: 7 } }); // the echo re-renders: the disclosure stays open
  assert.equal(q("params-more").hidden, false);
  q("params-more").dispatchEvent(new window.KeyboardEvent("keydown", { key: "Escape", bubbles: true }) as unknown as Event);
  assert.equal(q("params-more").hidden, true);
  // A method without folded parameters shows no toggle; one without `primary` shows every parameter.
  model.kernelSets({ method: "gradcam", params: {} });
  assert.equal(el.querySelector("[data-testid=params-more-toggle]"), null);
  model.kernelSets({ methods: [{ name: "smooth", label: "Smooth", params: methods[1].params }], method: "smooth" });
  assert.equal(el.querySelector("[data-testid=params-more-toggle]"), null);
  assert.ok(el.querySelector(".cw-params input[data-param=seed]"));
});

test("method and class pickers commit; params render from the schema", () => {
  const { q, model, el, window } = setup();
  const method = q("method-select") as unknown as HTMLSelectElement;
  model.clear();
  method.value = "smooth";
  method.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.deepEqual(model.sets(), { method: "smooth", params: {}, request: 1 });
  model.kernelSets({ method: "smooth", params: {} });
  const n = el.querySelector("input[data-param=n]") as unknown as HTMLInputElement;
  assert.ok(n, "the n control is rendered from the schema");
  assert.equal(n.value, "25");
  n.value = "0";
  n.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.deepEqual(model.sets().params, { n: 1 }); // clamped to min
  const cls = q("class-select") as unknown as HTMLSelectElement;
  cls.value = "1";
  cls.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.equal(model.sets().target, 1);
  const any = el.querySelector(".cw-class input") as unknown as HTMLInputElement;
  any.value = "tabby";
  any.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Enter" }) as unknown as Event);
  assert.equal(model.sets().target, "tabby"); // Python resolves names it does not know here
  // A target outside the top-5 gets its own option.
  model.kernelSets({ target: 4 });
  assert.equal(cls.value, "4");
});

test("colormap and opacity are view-only: no request id, never pending", () => {
  const { el, model, window, q } = setup();
  model.clear();
  const cmap = el.querySelector("[data-testid=colormap-select]") as unknown as HTMLSelectElement;
  cmap.value = "viridis";
  cmap.dispatchEvent(new window.Event("change") as unknown as Event);
  const opacity = el.querySelector("[data-testid=opacity]") as unknown as HTMLInputElement;
  opacity.value = "0.8";
  opacity.dispatchEvent(new window.Event("input") as unknown as Event);
  assert.deepEqual(model.sets(), { colormap: "viridis", opacity: 0.8 });
  assert.doesNotMatch(q("status").textContent ?? "", /computing/);
});

test("outline and hide-rest: shown only with a segment mask, view-only, repaint without a request", async () => {
  const { q, model, el, window } = setup({ outline: true, hide_rest: true });
  const root = el.querySelector(".cw-root") as unknown as HTMLElement;
  const outline = q("outline-toggle") as unknown as HTMLInputElement;
  const hideRest = q("hide-rest-toggle") as unknown as HTMLInputElement;
  assert.ok(outline && hideRest);
  const shown = (box: HTMLElement) => !(box.closest("label") as HTMLElement).hidden;
  assert.ok(!shown(outline) && !shown(hideRest), "no mask (Grad-CAM): the switches are hidden");
  // A SeCAM answer: the map at image size and a mask (bit 0 selected, bit 1 boundary).
  model.kernelSets({ request: 1 });
  model.kernelSets({
    mask: new DataView(new Uint8Array(16).fill(1).buffer),
    heatmap_meta: { shape: [4, 4], request: 1, layer: "head", method: "secam", mask_shape: [4, 4] },
    answered: 1,
  });
  await Promise.resolve();
  assert.ok(shown(outline) && shown(hideRest), "a segment answer shows the switches");
  assert.equal(outline.checked, true);
  assert.equal(hideRest.checked, true);
  model.clear();
  outline.checked = false;
  outline.dispatchEvent(new window.Event("change") as unknown as Event);
  hideRest.checked = false;
  hideRest.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.deepEqual(model.sets(), { outline: false, hide_rest: false }); // no request id
  assert.equal(model.saves(), 2);
  assert.doesNotMatch(q("status").textContent ?? "", /computing/);
  assert.equal(root.dataset.shownRequest, "1");
  // Python sets them: the boxes follow, nothing is sent.
  model.clear();
  model.kernelSets({ outline: true });
  assert.equal(outline.checked, true);
  assert.equal(hideRest.checked, false);
  assert.equal(model.saves(), 0);
  // Back to a method without a mask: hidden again.
  model.kernelSets({ request: 2 });
  model.kernelSets({
    mask: new DataView(new ArrayBuffer(0)),
    heatmap_meta: { shape: [4, 4], request: 2, layer: "head", method: "gradcam", mask_shape: [] },
    answered: 2,
  });
  await Promise.resolve();
  assert.ok(!shown(outline) && !shown(hideRest));
});

test("errors from the kernel show in the error area, as text, and can be dismissed", () => {
  const { el, model } = setup();
  const area = el.querySelector("[data-testid=error]") as unknown as HTMLElement;
  assert.equal(area.hidden, true);
  model.kernelSets({ error: "region: <b>outside</b> the grid" });
  assert.equal(area.hidden, false);
  assert.equal(area.querySelector("span")!.textContent, "region: <b>outside</b> the grid");
  assert.equal(area.querySelector("b"), null); // never parsed as HTML
  (area.querySelector("button") as unknown as HTMLElement).click();
  assert.equal(area.hidden, true);
});

test("cleanup removes every listener it added", () => {
  const { model, cleanup } = setup();
  assert.ok(model.listeners() > 0);
  cleanup();
  assert.equal(model.listeners(), 0);
});

test("region selector: a click clears the region; Python's region is followed", () => {
  const { q, model, window } = setup({ region: [0, 0, 2, 2] });
  model.clear();
  const canvas = q("region-selector");
  const ev = (type: string) =>
    new window.PointerEvent(type, { clientX: 5, clientY: 5, button: 0, pointerId: 1 }) as unknown as Event;
  canvas.dispatchEvent(ev("pointerdown"));
  canvas.dispatchEvent(ev("pointerup"));
  assert.deepEqual(model.sets(), { region: null, request: 1 });
  assert.equal(model.saves(), 1);
  // A second click with nothing selected sends nothing.
  canvas.dispatchEvent(ev("pointerdown"));
  canvas.dispatchEvent(ev("pointerup"));
  assert.equal(model.saves(), 1);
});

test("stale replies are not painted over newer ones", async () => {
  const { model, el } = setup();
  const root = el.querySelector(".cw-root") as unknown as HTMLElement;
  model.kernelSets({ request: 3 });
  model.kernelSets({ heatmap_meta: { shape: [4, 4], request: 3, layer: "block1" }, answered: 3 });
  await Promise.resolve();
  assert.equal(root.dataset.shownRequest, "3");
  model.kernelSets({ heatmap_meta: { shape: [4, 4], request: 2, layer: "conv1" } });
  await Promise.resolve();
  assert.equal(root.dataset.shownRequest, "3"); // the late reply for request 2 was dropped
  model.kernelSets({ heatmap_meta: { shape: [4, 4], request: 4, layer: "head" } });
  await Promise.resolve();
  assert.equal(root.dataset.shownRequest, "4");
});

test("segmentation: a drag on the output map sets target_box; the toggle switches to neurons", () => {
  const { q, model, window, el } = setup({ output_shape: [8, 8], target_box: null });
  model.clear();
  assert.equal(q("drag-mode").hidden, false);
  const box = q("output-box-selector");
  const neurons = q("region-selector");
  assert.equal(box.dataset.active, "true");
  assert.equal(neurons.dataset.active, "false");
  const ev = (type: string, x: number) =>
    new window.PointerEvent(type, { clientX: x, clientY: x, button: 0, pointerId: 1 }) as unknown as Event;
  box.dispatchEvent(ev("pointerdown", 5));
  box.dispatchEvent(ev("pointermove", 40));
  box.dispatchEvent(ev("pointerup", 40));
  // happy-dom has no layout (a 0×0 box): every point is the last cell
  assert.deepEqual(model.sets().target_box, [7, 7, 8, 8]);
  assert.equal(model.sets().region, undefined);
  model.clear();
  neurons.dispatchEvent(ev("pointerdown", 5));
  neurons.dispatchEvent(ev("pointerup", 5));
  assert.equal(model.saves(), 0, "the inactive neuron selector ignores the pointer");
  const radio = q("drag-neurons") as unknown as HTMLInputElement;
  radio.checked = true;
  radio.dispatchEvent(new window.Event("change") as unknown as Event);
  assert.equal(neurons.dataset.active, "true");
  assert.equal(box.dataset.active, "false");
  assert.equal((el.querySelector("[data-testid=score-kind]") as unknown as HTMLElement).textContent, "(softmax probability)");
});

test("a classifier shows no drag toggle; the neuron selector keeps the pointer", () => {
  const { q } = setup();
  assert.equal(q("drag-mode").hidden, true);
  assert.equal(q("region-selector").dataset.active, "true");
});
