// The "Faithfulness" panel: the deletion and insertion curves of the map on screen, drawn here
// from two short vectors (the `faithfulness_curves` trait; no image per frame), their AUCs and the
// average drop / increase; and the compare table (`compare_table`): methods × metrics for the
// current image, target and layer, filled in row by row, sortable by any column, a click on a
// row shows that method. The kernel half is camwidget/widget/faithfulness.py.

import type { PanelFactory } from "./panel";

export interface MetricEntry {
  value: number;
  higher_is_better: boolean;
  x?: number[];
  y?: number[];
}

export interface FaithfulnessState {
  state?: string;
  method?: string;
  layer?: string;
  steps?: number;
  metrics?: Record<string, MetricEntry>;
}

export interface CompareTable {
  state?: string;
  layer?: string;
  target?: unknown;
  metrics?: string[];
  higher_is_better?: Record<string, boolean>;
  methods?: string[];
  rows?: Array<Record<string, unknown>>;
}

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 180;
const HEIGHT = 90;

/** An SVG path through the points (x in [0, 1] → 0..width, y in [0, 1] → height..0). */
export function curvePath(x: number[], y: number[], width = WIDTH, height = HEIGHT): string {
  const n = Math.min(x.length, y.length);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const px = Math.max(0, Math.min(1, x[i])) * width;
    const py = (1 - Math.max(0, Math.min(1, y[i]))) * height;
    parts.push(`${i === 0 ? "M" : "L"}${px.toFixed(1)},${py.toFixed(1)}`);
  }
  return parts.join("");
}

/** The rows sorted by `column` (numbers; missing values last), best first unless `reverse`. */
export function sortRows(
  rows: Array<Record<string, unknown>>,
  column: string,
  higherIsBetter: boolean,
  reverse = false,
): Array<Record<string, unknown>> {
  const sign = (higherIsBetter ? -1 : 1) * (reverse ? -1 : 1);
  return [...rows].sort((a, b) => {
    const va = typeof a[column] === "number" ? (a[column] as number) : NaN;
    const vb = typeof b[column] === "number" ? (b[column] as number) : NaN;
    if (Number.isNaN(va) && Number.isNaN(vb)) return 0;
    if (Number.isNaN(va)) return 1;
    if (Number.isNaN(vb)) return -1;
    return sign * (va - vb);
  });
}

function formatValue(name: string, value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return name.startsWith("avg-") ? `${value.toFixed(1)}%` : value.toFixed(3);
}

/** Short column heads, so four metrics fit the panel (the full name is the head's tooltip). */
const SHORT: Record<string, string> = {
  deletion: "del", insertion: "ins", "avg-drop": "drop", "avg-increase": "incr", "road-morf": "MoRF", "road-lerf": "LeRF",
};
const COLOURS: Record<string, string> = { deletion: "#d62728", insertion: "#1f77b4" };
/** A curve's colour mixed with the text colour: darker on light themes, lighter on dark ones, so
 * the legend's text keeps WCAG AA contrast on either background. */
const legible = (colour: string) => `color-mix(in srgb, ${colour} 60%, var(--cw-fg))`;

/** The layer the view shows now, named as the compare table names it ("a + b" when fused). */
export function shownLayer(layer: unknown, fused: unknown): string {
  return Array.isArray(fused) && fused.length ? fused.join(" + ") : String(layer ?? "");
}

export const faithfulnessPanel: PanelFactory = ({ doc, model, commit, send }) => {
  const el = doc.createElement("div");
  el.className = "cw-faithfulness";
  el.setAttribute("data-testid", "faithfulness");
  const title = doc.createElement("div");
  title.className = "cw-faithfulness-title";
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("width", String(WIDTH * 1.5));
  svg.setAttribute("height", String(HEIGHT * 1.5));
  svg.setAttribute("data-testid", "faithfulness-curves");
  const frame = doc.createElementNS(SVG, "rect");
  frame.setAttribute("width", String(WIDTH));
  frame.setAttribute("height", String(HEIGHT));
  frame.setAttribute("fill", "none");
  frame.setAttribute("stroke", "currentColor");
  frame.setAttribute("stroke-opacity", "0.3");
  svg.appendChild(frame);
  const paths: Record<string, SVGPathElement> = {};
  for (const [name, colour] of Object.entries(COLOURS)) {
    const path = doc.createElementNS(SVG, "path") as SVGPathElement;
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", colour);
    path.style.stroke = legible(colour);
    path.setAttribute("stroke-width", "1.5");
    path.setAttribute("data-testid", `curve-${name}`);
    svg.appendChild(path);
    paths[name] = path;
  }
  const numbers = doc.createElement("div");
  numbers.className = "cw-faithfulness-numbers";
  numbers.setAttribute("data-testid", "faithfulness-numbers");
  const compareButton = doc.createElement("button");
  compareButton.textContent = "compare methods";
  compareButton.setAttribute("data-testid", "compare-button");
  compareButton.addEventListener("click", () => send({ kind: "compare" }));
  const table = doc.createElement("table");
  table.className = "cw-compare";
  table.setAttribute("data-testid", "compare-table");
  const caption = doc.createElement("div");
  caption.className = "cw-compare-caption";
  caption.setAttribute("data-testid", "compare-caption");
  el.append(title, svg, numbers, compareButton, caption, table);

  let sortColumn = "";
  let sortReverse = false;

  function drawCurves(state: FaithfulnessState) {
    const metrics = state.metrics ?? {};
    title.textContent = state.state === "computing" ? "faithfulness: computing…"
      : state.state === "done" ? `faithfulness · ${state.method ?? ""} · ${state.layer ?? ""} (${state.steps ?? ""} steps)`
      : "faithfulness";
    for (const name of Object.keys(paths)) {
      const m = metrics[name];
      paths[name].setAttribute("d", m && m.x && m.y ? curvePath(m.x, m.y) : "");
    }
    numbers.textContent = "";
    for (const [name, m] of Object.entries(metrics)) {
      const span = doc.createElement("span");
      span.className = "cw-metric";
      span.setAttribute("data-metric", name);
      if (COLOURS[name]) span.style.color = legible(COLOURS[name]); // the curve's colour: the legend
      span.textContent = `${name} ${m.higher_is_better ? "↑" : "↓"} ${formatValue(name, m.value)}`;
      numbers.appendChild(span);
    }
  }

  function drawTable(compare: CompareTable) {
    table.textContent = "";
    caption.textContent = "";
    const metrics = compare.metrics ?? [];
    const directions = compare.higher_is_better ?? {};
    if (!compare.rows) return;
    // A table for another layer or target stays readable, marked as such.
    const stale = compare.layer !== shownLayer(model.get("layer"), model.get("fuse_layers"))
      || (compare.target !== undefined && compare.target !== model.get("target"));
    caption.textContent = `at ${compare.layer ?? ""}${stale ? " (not the view's layer or class: compare again)" : ""}`;
    caption.classList.toggle("cw-stale", stale);
    table.classList.toggle("cw-stale", stale);
    const head = doc.createElement("tr");
    for (const column of ["method", ...metrics]) {
      const th = doc.createElement("th");
      const arrow = column === "method" ? "" : directions[column] === false ? " ↓" : directions[column] ? " ↑" : "";
      th.textContent = (SHORT[column] ?? column) + arrow + (column === sortColumn ? (sortReverse ? " ▴" : " ▾") : "");
      th.title = column;
      th.setAttribute("data-column", column);
      if (column !== "method") {
        th.addEventListener("click", () => {
          sortReverse = sortColumn === column ? !sortReverse : false;
          sortColumn = column;
          drawTable(compare);
        });
      }
      head.appendChild(th);
    }
    table.appendChild(head);
    const rows = sortColumn ? sortRows(compare.rows, sortColumn, directions[sortColumn] ?? true, sortReverse) : compare.rows;
    for (const row of rows) {
      const tr = doc.createElement("tr");
      tr.setAttribute("data-method", String(row.method));
      if (row.method === model.get("method")) tr.className = "cw-compare-current";
      for (const column of ["method", ...metrics]) {
        const td = doc.createElement("td");
        td.textContent = column === "method" ? String(row.method) : formatValue(column, row[column]);
        if (column === "method" && typeof row.error === "string") td.title = row.error;
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => commit({ method: String(row.method) }));
      table.appendChild(tr);
    }
    if (compare.state === "computing") {
      const tr = doc.createElement("tr");
      const td = doc.createElement("td");
      td.colSpan = metrics.length + 1;
      td.textContent = `computing ${compare.rows.length + 1} of ${(compare.methods ?? []).length}…`;
      tr.appendChild(td);
      table.appendChild(tr);
    }
  }

  return {
    el,
    traits: ["faithfulness_curves", "compare_table", "method", "layer", "fuse_layers", "target"],
    update() {
      drawCurves((model.get("faithfulness_curves") ?? {}) as FaithfulnessState);
      drawTable((model.get("compare_table") ?? {}) as CompareTable);
    },
  };
};
