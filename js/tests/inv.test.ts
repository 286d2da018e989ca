// The clusters view and the reveal game: pure helpers, the panels, and their wiring in the widget.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Window } from "happy-dom";
import { ClustersPanel, formatPercent, labelsOf, tileCount, type LabelRow } from "../clusters";
import { REVEAL_PERCENT, RevealGame, revealPixels, revealThreshold } from "../reveal";
import widget from "../widget";

const { render } = widget;
import { FakeModel } from "./fake_model";

function doc(): Document {
  return new Window().document as unknown as Document;
}

const META = {
  layer: "head",
  tile: [2, 2],
  clusters: [
    { index: 0, id: "aaa", weight: 61.5, channels: 9 },
    { index: 1, id: "bbb", weight: 38.5, channels: 4 },
  ],
};

test("revealThreshold keeps the top percent of pixels (ties included)", () => {
  const values = new Uint8Array(100).map((_, i) => i);
  assert.equal(revealThreshold(values, 2), 98);
  assert.equal(revealThreshold(values, 30), 70);
  assert.equal(revealThreshold(new Uint8Array(50), 2), 0); // a constant map shows everything
  let previous = 256;
  for (const p of REVEAL_PERCENT) {
    const t = revealThreshold(values, p);
    assert.ok(t <= previous, "each step shows at least as much as the one before");
    previous = t;
  }
});

test("revealPixels shows the image only where the map passes the threshold", () => {
  const image = new Uint8Array([10, 20, 30, 40, 50, 60]);
  const px = revealPixels(image, new Uint8Array([200, 5]), 100);
  assert.deepEqual([...px.slice(0, 4)], [10, 20, 30, 255]);
  assert.notDeepEqual([...px.slice(4, 7)], [40, 50, 60]);
});

test("cluster helpers: percent, tile count, labels of one cluster", () => {
  assert.equal(formatPercent(61.54), "62 %");
  assert.equal(formatPercent(3.21), "3.2 %");
  assert.equal(tileCount(8, [2, 2], 5), 2);
  assert.equal(tileCount(8, undefined, 5), 0);
  const rows: LabelRow[] = [
    { cluster_id: "a", cluster: 0, label: "fur", score: 0.2, annotations: 1, correct: false },
    { cluster_id: "b", cluster: 1, label: "x", score: 0.9, annotations: 1, correct: true },
    { cluster_id: "a", cluster: 0, label: "ears", score: 0.7, annotations: 2, correct: true },
  ];
  assert.deepEqual(labelsOf(rows, "a").map((r) => r.label), ["ears", "fur"]);
});

test("ClustersPanel: thumbnails with weights, click picks, labels as text only", () => {
  const calls: unknown[][] = [];
  const panel = new ClustersPanel(doc(), {
    pick: (i) => calls.push(["pick", i]),
    label: (i, text) => calls.push(["label", i, text]),
    play: (i) => calls.push(["play", i]),
    annotator: (n) => calls.push(["annotator", n]),
  });
  panel.setClusters(new Uint8Array(8), META);
  const tiles = panel.el.querySelectorAll("[data-testid=cluster-tile]");
  assert.equal(tiles.length, 2);
  assert.match(tiles[0].textContent ?? "", /62 %/);
  (tiles[1] as unknown as HTMLElement).click();
  assert.deepEqual(calls.pop(), ["pick", 1]);
  assert.equal(panel.el.dataset.selected, "1");
  const input = panel.el.querySelector("[data-testid=label-input]") as unknown as HTMLInputElement;
  input.value = "striped fur";
  (panel.el.querySelector("[data-testid=label-submit]") as unknown as HTMLElement).click();
  assert.deepEqual(calls.pop(), ["label", 1, "striped fur"]);
  assert.equal(input.value, "");
  (panel.el.querySelector("[data-testid=play-reveal]") as unknown as HTMLElement).click();
  assert.deepEqual(calls.pop(), ["play", 1]);
  const evil = "<img src=x onerror=alert(1)>";
  panel.setLabels([{ cluster_id: "bbb", cluster: 1, label: evil, score: 0.45, annotations: 1, correct: true }]);
  const list = panel.el.querySelector("[data-testid=label-list]") as unknown as HTMLElement;
  assert.equal(list.querySelector("img"), null, "label text is never parsed as HTML");
  assert.match(list.textContent ?? "", /<img src=x/);
  assert.match(list.textContent ?? "", /0\.45 ✓/);
});

test("RevealGame: steps, guesses and the outcome", () => {
  const sent: unknown[] = [];
  const game = new RevealGame(doc(), (a) => sent.push(a));
  const map = new Uint8Array(100).map((_, i) => i);
  game.setImage(new Uint8Array(300).fill(9));
  game.setGame({ active: true, layer: "head", cluster: 0, cluster_id: "aaa", shape: [10, 10], choices: ["cat", "dog"] }, map, 0);
  const q = (id: string) => game.el.querySelector(`[data-testid=${id}]`) as unknown as HTMLInputElement;
  assert.match(q("reveal-step").textContent ?? "", /step 0 of 5 · 2 % of pixels/);
  q("reveal-more").click();
  assert.deepEqual(sent.pop(), { action: "more" });
  game.setGame({ active: true, layer: "head", cluster: 0, cluster_id: "aaa", shape: [10, 10], choices: ["cat", "dog"] }, map, 5);
  assert.equal(q("reveal-more").disabled, true, "no step after 30 %");
  assert.equal(q("reveal-guess-select").querySelectorAll("option").length, 2);
  q("reveal-guess-select").value = "dog";
  q("reveal-text").value = "pointy ears";
  q("reveal-guess").click();
  assert.deepEqual(sent.pop(), { action: "guess", guess: "dog", text: "pointy ears" });
  q("reveal-guess-name").value = "tabby";
  q("reveal-guess").click();
  assert.deepEqual(sent.pop(), { action: "guess", guess: "tabby", text: "pointy ears" });
  q("reveal-give-up").click();
  assert.deepEqual(sent.pop(), { action: "give-up", text: "pointy ears" });
  game.setGame({ active: true, layer: "head", cluster: 0, cluster_id: "aaa", shape: [10, 10], choices: ["cat", "dog"], outcome: "loss", answer: "<b>cat</b>" }, map, 2);
  assert.equal(game.el.dataset.outcome, "loss");
  assert.match(q("reveal-result").textContent ?? "", /Not quite\. It was <b>cat<\/b> \(recorded at step 2\)/);
  assert.equal(q("reveal-guess").disabled, true);
});

test("the widget: the Clusters tab asks for INV, the panels follow the method and the game", () => {
  const window = new Window();
  const d = window.document as unknown as Document;
  const el = d.createElement("div");
  const model = new FakeModel({
    image: new Uint8Array(4 * 4 * 3), image_shape: [4, 4], heatmap: new Uint8Array(16),
    heatmap_meta: { shape: [4, 4], request: 0, layer: "head" }, layers: [{ name: "head", shape: [32, 4, 4], depth: 0 }],
    methods: [{ name: "gradcam", label: "Grad-CAM", params: {} }, { name: "inv", label: "INV cluster", params: {} }],
    layer: "head", method: "gradcam", params: {}, request: 0, answered: 0, top: [], classes: ["cat", "dog"],
  });
  render({ model, el: el as unknown as HTMLElement });
  const q = (id: string) => el.querySelector(`[data-testid=${id}]`) as unknown as HTMLElement;
  assert.equal(q("clusters-view").hidden, true);
  assert.equal(q("channel-grid").hidden, false);
  q("tab-clusters").click();
  assert.equal(model.sets().method, "inv");
  assert.deepEqual(model.sets().params, { cluster: 0 });
  model.kernelSets({ method: "inv", clusters_atlas: new Uint8Array(8), clusters_meta: META });
  assert.equal(q("clusters-view").hidden, false);
  assert.equal(q("channel-grid").hidden, true);
  model.clear();
  (el.querySelectorAll("[data-testid=cluster-tile]")[1] as unknown as HTMLElement).click();
  assert.deepEqual(model.sets().params, { cluster: 1 });
  (q("label-input") as HTMLInputElement).value = "whiskers";
  q("label-submit").click();
  assert.deepEqual(model.calls.find((c) => c[0] === "send"), ["send", { kind: "label", cluster: 1, text: "whiskers" }]);
  model.kernelSets({ game: { active: true, layer: "head", cluster: 1, cluster_id: "bbb", shape: [4, 4], choices: ["cat"] }, reveal_map: new Uint8Array(16) });
  assert.equal(el.querySelector(".cw-root")?.getAttribute("data-view"), "game");
  assert.equal(q("reveal-game").hidden, false);
  assert.equal((el.querySelector(".cw-class") as unknown as HTMLElement).hidden, true, "the class picker would give the answer away");
  model.clear();
  q("reveal-more").click();
  assert.deepEqual(model.calls, [["send", { kind: "game", action: "more" }]]);
  q("tab-maps").click();
  assert.equal(model.sets().method, "gradcam", "back to the method used before INV");
});

test("partial maps (Smooth Grad-CAM++ batches) paint as they come, with progress, and the final one replaces them", async () => {
  const window = new Window();
  const d = window.document as unknown as Document;
  const el = d.createElement("div");
  const model = new FakeModel({
    image: new Uint8Array(4 * 4 * 3), image_shape: [4, 4], heatmap: new Uint8Array(16),
    heatmap_meta: { shape: [4, 4], request: 0, layer: "head" }, layers: [{ name: "head", shape: [32, 4, 4], depth: 0 }],
    methods: [], layer: "head", method: "smooth", params: {}, request: 5, answered: 4, top: [], classes: [],
  });
  render({ model, el: el as unknown as HTMLElement });
  const root = el.querySelector(".cw-root") as unknown as HTMLElement;
  const bar = el.querySelector("progress") as unknown as HTMLProgressElement;
  for (const done of [8, 16]) {
    model.kernelSets({
      heatmap: new Uint8Array(16).fill(done),
      heatmap_meta: { shape: [4, 4], request: 5, layer: "head", partial: true, done, total: 25 },
      busy: true, progress: done / 25, status: `computing Smooth… ${done}/25 (refining)`,
    });
    await Promise.resolve();
    assert.equal(root.dataset.shownRequest, "5");
    assert.match(el.querySelector("[data-testid=status]")?.textContent ?? "", new RegExp(`${done}/25`));
    assert.equal(bar.hidden, false);
    assert.ok(Math.abs(bar.value - done / 25) < 1e-6);
  }
  model.kernelSets({ heatmap: new Uint8Array(16).fill(200), heatmap_meta: { shape: [4, 4], request: 5, layer: "head" }, busy: false, progress: -1, answered: 5 });
  await Promise.resolve();
  assert.equal(root.dataset.shownRequest, "5");
  assert.equal(bar.hidden, true);
  // A partial map of a superseded request never paints over a newer answer.
  model.kernelSets({ request: 6 });
  model.kernelSets({ heatmap_meta: { shape: [4, 4], request: 6, layer: "head" }, answered: 6 });
  await Promise.resolve();
  model.kernelSets({ heatmap_meta: { shape: [4, 4], request: 5, layer: "head", partial: true, done: 24, total: 25 } });
  await Promise.resolve();
  assert.equal(root.dataset.shownRequest, "6");
});
