// The Faithfulness panel draws the curves from the trait's vectors and sorts / clicks the compare table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Window } from "happy-dom";
import { curvePath, faithfulnessPanel, sortRows } from "../faithfulness";
import { FakeModel } from "./fake_model";

test("curvePath maps fractions and probabilities onto the box", () => {
  assert.equal(curvePath([0, 0.5, 1], [1, 0.5, 0], 100, 50), "M0.0,0.0L50.0,25.0L100.0,50.0");
});

test("sortRows puts the best first and missing values last", () => {
  const rows = [{ method: "a", deletion: 0.3 }, { method: "b" }, { method: "c", deletion: 0.1 }];
  assert.deepEqual(sortRows(rows, "deletion", false).map((r) => r.method), ["c", "a", "b"]);
  assert.deepEqual(sortRows(rows, "deletion", false, true).map((r) => r.method), ["a", "c", "b"]);
});

test("the panel draws curves and numbers, sends compare, and a row click commits its method", () => {
  const window = new Window();
  const doc = window.document as unknown as Document;
  const model = new FakeModel({ method: "gradcam", layer: "bn2", fuse_layers: [], target: 3 });
  const committed: Array<Record<string, unknown>> = [];
  const sent: Array<Record<string, unknown>> = [];
  const panel = faithfulnessPanel({ doc, model, commit: (c) => committed.push(c), send: (c) => sent.push(c) });
  panel.update();
  model.state.faithfulness_curves = {
    state: "done", method: "gradcam", layer: "bn2", steps: 2,
    metrics: {
      deletion: { value: 0.2, higher_is_better: false, x: [0, 0.5, 1], y: [0.9, 0.2, 0.01] },
      insertion: { value: 0.6, higher_is_better: true, x: [0, 0.5, 1], y: [0.1, 0.7, 0.9] },
      "avg-drop": { value: 12.5, higher_is_better: false },
    },
  };
  model.state.compare_table = {
    state: "done", layer: "bn2", target: 3, metrics: ["deletion", "insertion"], higher_is_better: { deletion: false, insertion: true },
    methods: ["gradcam", "layercam"],
    rows: [{ method: "gradcam", deletion: 0.2, insertion: 0.6 }, { method: "layercam", deletion: 0.1, insertion: 0.7 }],
  };
  panel.update();
  const path = panel.el.querySelector('[data-testid="curve-deletion"]')!;
  assert.ok(path.getAttribute("d")!.startsWith("M0.0,9.0"));
  assert.match(panel.el.querySelector('[data-testid="faithfulness-numbers"]')!.textContent!, /avg-drop ↓ 12\.5%/);
  (panel.el.querySelector('[data-testid="compare-button"]') as unknown as HTMLElement).click();
  assert.deepEqual(sent, [{ kind: "compare" }]);
  (panel.el.querySelector('th[data-column="deletion"]') as unknown as HTMLElement).click();
  const order = [...panel.el.querySelectorAll("tr[data-method]")].map((tr) => tr.getAttribute("data-method"));
  assert.deepEqual(order, ["layercam", "gradcam"]);
  (panel.el.querySelector('tr[data-method="layercam"]') as unknown as HTMLElement).click();
  assert.deepEqual(committed, [{ method: "layercam" }]);
  const caption = panel.el.querySelector('[data-testid="compare-caption"]')!;
  assert.equal(caption.textContent, "at bn2");
  assert.equal(panel.el.querySelector('th[data-column="deletion"]')!.getAttribute("title"), "deletion");
  // The view moved to fused layers: the table is marked as another layer's.
  model.state.fuse_layers = ["blocks.5", "bn2"];
  panel.update();
  assert.match(caption.textContent!, /^at bn2 \(not the view's layer/);
  assert.ok(panel.el.querySelector("table")!.classList.contains("cw-stale"));
});
