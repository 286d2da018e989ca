// The clusters view (INV): the current layer's clusters of feature maps as thumbnails with their
// weights, heaviest first. Click one to overlay it (params.cluster), write what it shows, see the
// labels already given with their scores, or play the reveal game on it. Label text is user text:
// it is only ever set with textContent.
import { asBytes } from "./bytes";
import { colorize, lut } from "./colormaps";
import type { PanelFactory } from "./panel";
import { MAX_TEXT } from "./shared";

export interface ClusterEntry {
  index: number;
  id: string;
  weight: number;
  channels: number;
}

export interface ClustersMeta {
  layer?: string;
  target?: number;
  seed?: number;
  tile?: number[];
  clusters?: ClusterEntry[];
}

export interface LabelRow {
  cluster_id: string;
  cluster: number;
  label: string;
  score: number;
  annotations: number;
  correct: boolean;
}

export interface ClusterActions {
  pick(index: number): void;
  label(index: number, text: string): void;
  play(index: number): void;
  annotator(name: string): void;
}

/** "12.3 %" for a cluster weight in percent. */
export function formatPercent(w: number): string {
  if (!Number.isFinite(w)) return "–";
  return `${w >= 10 ? w.toFixed(0) : w.toFixed(1)} %`;
}

/** The label rows of one cluster (by id), best score first. */
export function labelsOf(rows: LabelRow[], id: string): LabelRow[] {
  return rows.filter((r) => r.cluster_id === id).sort((a, b) => b.score - a.score || a.label.localeCompare(b.label));
}

/** How many whole tiles of `tile` = [th, tw] the bytes hold, at most `count`. */
export function tileCount(bytes: number, tile: number[] | undefined, count: number): number {
  const [th, tw] = tile ?? [0, 0];
  const size = th * tw;
  return size > 0 ? Math.min(count, Math.floor(bytes / size)) : 0;
}

export class ClustersPanel {
  readonly el: HTMLElement;
  private header: HTMLElement;
  private tiles: HTMLElement;
  private input: HTMLInputElement;
  private who: HTMLInputElement;
  private list: HTMLElement;
  private forLabel: HTMLElement;
  private meta: ClustersMeta = {};
  private bytes: Uint8Array = new Uint8Array(0);
  private rows: LabelRow[] = [];
  private selected = 0;
  private colormap = "jet";

  constructor(doc: Document, private actions: ClusterActions) {
    this.el = doc.createElement("div");
    this.el.className = "cw-clusters";
    this.el.setAttribute("data-testid", "clusters-view");
    this.header = doc.createElement("div");
    this.header.className = "cw-grid-header";
    this.tiles = doc.createElement("div");
    this.tiles.className = "cw-tiles cw-cluster-tiles";

    const form = doc.createElement("div");
    form.className = "cw-label-form";
    this.forLabel = doc.createElement("span");
    this.forLabel.className = "cw-label-for";
    this.input = doc.createElement("input");
    this.input.type = "text";
    this.input.maxLength = MAX_TEXT;
    this.input.placeholder = "what does this cluster show?";
    this.input.setAttribute("aria-label", "Label");
    this.input.setAttribute("data-testid", "label-input");
    const submit = doc.createElement("button");
    submit.type = "button";
    submit.textContent = "Add label";
    submit.setAttribute("data-testid", "label-submit");
    const send = () => {
      this.actions.label(this.selected, this.input.value);
      this.input.value = "";
    };
    submit.addEventListener("click", send);
    this.input.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") {
        e.preventDefault();
        send();
      }
    });
    form.append(this.forLabel, this.input, submit);

    const row = doc.createElement("div");
    row.className = "cw-label-form";
    this.who = doc.createElement("input");
    this.who.type = "text";
    this.who.placeholder = "your name (optional)";
    this.who.setAttribute("aria-label", "Annotator");
    this.who.setAttribute("data-testid", "annotator");
    this.who.addEventListener("change", () => this.actions.annotator(this.who.value.trim()));
    const play = doc.createElement("button");
    play.type = "button";
    play.textContent = "▶ Reveal game";
    play.title = "Guess the class from this cluster's most important pixels";
    play.setAttribute("data-testid", "play-reveal");
    play.addEventListener("click", () => this.actions.play(this.selected));
    row.append(this.who, play);

    const title = doc.createElement("div");
    title.className = "cw-grid-header";
    title.textContent = "Labels (score)";
    this.list = doc.createElement("ul");
    this.list.className = "cw-labels";
    this.list.setAttribute("data-testid", "label-list");
    this.el.append(this.header, this.tiles, form, row, title, this.list);
  }

  setClusters(bytes: Uint8Array, meta: ClustersMeta): void {
    this.bytes = bytes;
    this.meta = meta ?? {};
    this.el.dataset.layer = this.meta.layer ?? "";
    this.render();
  }

  setSelected(index: unknown): void {
    const i = Number(index);
    this.selected = Number.isInteger(i) && i >= 0 ? i : 0;
    this.mark();
    this.renderLabels();
  }

  setLabels(rows: unknown): void {
    this.rows = Array.isArray(rows) ? (rows as LabelRow[]) : [];
    this.renderLabels();
  }

  setAnnotator(name: unknown): void {
    const text = typeof name === "string" ? name : "";
    if (this.who.value.trim() !== text) this.who.value = text;
  }

  setColormap(name: string): void {
    if (name === this.colormap) return;
    this.colormap = name;
    this.render();
  }

  private entries(): ClusterEntry[] {
    return this.meta.clusters ?? [];
  }

  private render(): void {
    const doc = this.el.ownerDocument;
    const entries = this.entries();
    const [th, tw] = this.meta.tile ?? [0, 0];
    const n = tileCount(this.bytes.length, this.meta.tile, entries.length);
    this.header.textContent = entries.length
      ? `Clusters of ${this.meta.layer ?? "this layer"}: ${entries.length}, by weight`
      : "Clusters: none on this layer (no feature map has a positive weight)";
    const table = lut(this.colormap);
    const tiles: HTMLElement[] = [];
    for (let i = 0; i < n; i++) {
      const c = entries[i];
      const tile = doc.createElement("div");
      tile.className = "cw-tile cw-cluster";
      tile.dataset.cluster = String(c.index);
      tile.setAttribute("role", "button");
      tile.setAttribute("data-testid", "cluster-tile");
      tile.title = `cluster ${c.index}: ${c.channels} feature maps, ${formatPercent(c.weight)} of the layer's weight`;
      const canvas = doc.createElement("canvas");
      canvas.width = tw;
      canvas.height = th;
      const ctx = canvas.getContext("2d");
      if (ctx && typeof ImageData !== "undefined") {
        const px = colorize(this.bytes.subarray(i * th * tw, (i + 1) * th * tw), table);
        ctx.putImageData(new ImageData(px as unknown as Uint8ClampedArray<ArrayBuffer>, tw, th), 0, 0);
      }
      const label = doc.createElement("span");
      label.className = "cw-tile-label";
      label.textContent = `#${c.index} · ${c.channels} maps`;
      const weight = doc.createElement("span");
      weight.className = "cw-tile-weight";
      weight.textContent = formatPercent(Number(c.weight));
      tile.append(canvas, label, weight);
      tile.addEventListener("click", () => {
        this.setSelected(c.index);
        this.actions.pick(c.index);
      });
      tiles.push(tile);
    }
    this.tiles.replaceChildren(...tiles);
    this.mark();
    this.renderLabels();
  }

  private mark(): void {
    for (const tile of Array.from(this.tiles.children) as HTMLElement[]) {
      const on = Number(tile.dataset.cluster) === this.selected;
      tile.classList.toggle("cw-selected", on);
      tile.setAttribute("aria-pressed", on ? "true" : "false");
    }
    this.el.dataset.selected = String(this.selected);
    this.forLabel.textContent = `#${this.selected}`;
  }

  private renderLabels(): void {
    const doc = this.el.ownerDocument;
    const current = this.entries().find((c) => c.index === this.selected);
    const items: HTMLElement[] = [];
    for (const r of this.rows) {
      const li = doc.createElement("li");
      li.className = "cw-label";
      li.dataset.cluster = String(r.cluster);
      li.classList.toggle("cw-current", current !== undefined && r.cluster_id === current.id);
      const which = doc.createElement("span");
      which.className = "cw-label-cluster";
      which.textContent = r.cluster >= 0 ? `#${r.cluster}` : "?";
      const text = doc.createElement("span");
      text.className = "cw-label-text";
      text.textContent = r.label; // user text: never innerHTML
      const score = doc.createElement("span");
      score.className = "cw-label-score";
      score.textContent = `${Number(r.score).toFixed(2)}${r.correct ? " ✓" : ""} (${r.annotations}×)`;
      li.append(which, text, score);
      items.push(li);
    }
    if (!items.length) {
      const li = doc.createElement("li");
      li.className = "cw-label cw-empty";
      li.textContent = "no labels yet";
      items.push(li);
    }
    this.list.replaceChildren(...items);
  }
}

/** The clusters panel: shown while the method is INV (Python half: camwidget/widget/clusters.py). */
export const clustersPanel: PanelFactory = ({ doc, model, commit, send }) => {
  const view = new ClustersPanel(doc, {
    pick: (cluster) => commit({ params: { ...(model.get("params") ?? {}), cluster } }),
    label: (cluster, text) => send({ kind: "label", cluster, text }),
    play: (cluster) => send({ kind: "game", action: "start", cluster }),
    annotator: (name) => {
      model.set("annotator", name);
      model.save_changes();
    },
  });
  let atlas: unknown = null;
  let meta: unknown = null;
  return {
    el: view.el,
    traits: ["clusters_atlas", "clusters_meta", "labels", "annotator", "method", "params", "colormap"],
    update() {
      view.el.hidden = model.get("method") !== "inv";
      view.setColormap(String(model.get("colormap") ?? "jet"));
      if (model.get("clusters_atlas") !== atlas || model.get("clusters_meta") !== meta) {
        atlas = model.get("clusters_atlas");
        meta = model.get("clusters_meta");
        view.setClusters(asBytes(atlas), (meta ?? {}) as ClustersMeta);
      }
      view.setLabels(model.get("labels"));
      view.setAnnotator(model.get("annotator"));
      view.setSelected((model.get("params") ?? {}).cluster ?? 0);
    },
  };
};
