// The feature-map grid: thumbnails of the current layer's feature maps sorted by their weight for
// the target (at most the top N travel; the header says so). Click picks one map, shift-click adds
// or removes one; "top-k" and "all" buttons. `null` channels means all of them.
import { asBytes } from "./bytes";
import type { PanelFactory } from "./panel";
import type { AtlasMeta } from "./types";
import { colorize, lut } from "./colormaps";

/** The next channel subset after clicking `channel` (shift = toggle). null = all channels. */
export function clickSelection(current: number[] | null, channel: number, shift: boolean): number[] | null {
  if (!shift) {
    if (current && current.length === 1 && current[0] === channel) return null;
    return [channel];
  }
  const set = new Set(current ?? []);
  if (set.has(channel)) set.delete(channel);
  else set.add(channel);
  if (!set.size) return null;
  return [...set].sort((a, b) => a - b);
}

export function topK(order: number[], k: number): number[] | null {
  const n = Math.max(1, Math.floor(k));
  if (!order.length) return null;
  return order.slice(0, n).sort((a, b) => a - b);
}

export function parseChannels(value: unknown): number[] | null {
  if (!Array.isArray(value)) return null;
  return value.map(Number).filter(Number.isInteger);
}

export function formatWeight(w: number): string {
  if (!Number.isFinite(w)) return "–";
  const a = Math.abs(w);
  if (a === 0) return "0";
  if (a >= 1000 || a < 0.01) return w.toExponential(1);
  return w.toPrecision(3);
}

export class ChannelGrid {
  readonly el: HTMLElement;
  private header: HTMLElement;
  private tiles: HTMLElement;
  private kInput: HTMLInputElement;
  private meta: AtlasMeta = {};
  private bytes: Uint8Array = new Uint8Array(0);
  private selection: number[] | null = null;
  private colormap = "viridis";

  constructor(doc: Document, private onChannels: (channels: number[] | null) => void) {
    this.el = doc.createElement("div");
    this.el.className = "cw-grid";
    this.el.setAttribute("data-testid", "channel-grid");
    const bar = doc.createElement("div");
    bar.className = "cw-grid-bar";
    this.header = doc.createElement("span");
    this.header.className = "cw-grid-header";
    const topBtn = doc.createElement("button");
    topBtn.type = "button";
    topBtn.textContent = "top-k";
    topBtn.title = "Keep only the k feature maps with the largest weight";
    topBtn.dataset.action = "top-k";
    this.kInput = doc.createElement("input");
    this.kInput.type = "number";
    this.kInput.min = "1";
    this.kInput.value = "8";
    this.kInput.className = "cw-k";
    this.kInput.setAttribute("aria-label", "k");
    const allBtn = doc.createElement("button");
    allBtn.type = "button";
    allBtn.textContent = "all";
    allBtn.title = "Use every feature map";
    allBtn.dataset.action = "all";
    topBtn.addEventListener("click", () => {
      const k = Number(this.kInput.value) || 8;
      this.commit(topK(this.meta.order ?? [], k));
    });
    allBtn.addEventListener("click", () => this.commit(null));
    const actions = doc.createElement("span");
    actions.className = "cw-grid-actions"; // the three controls wrap together, never apart
    actions.append(topBtn, this.kInput, allBtn);
    bar.append(this.header, actions);
    this.tiles = doc.createElement("div");
    this.tiles.className = "cw-tiles";
    this.el.append(bar, this.tiles);
  }

  setAtlas(bytes: Uint8Array, meta: AtlasMeta): void {
    this.bytes = bytes;
    this.meta = meta ?? {};
    this.el.dataset.layer = this.meta.layer ?? "";
    this.render();
  }

  setSelection(value: unknown): void {
    this.selection = parseChannels(value);
    this.markSelection();
  }

  setColormap(name: string): void {
    if (name === this.colormap) return;
    this.colormap = name;
    this.render();
  }

  private commit(channels: number[] | null): void {
    this.selection = channels;
    this.markSelection();
    this.onChannels(channels);
  }

  private render(): void {
    const doc = this.el.ownerDocument;
    const order = this.meta.order ?? [];
    const weights = this.meta.weights ?? [];
    const [th, tw] = this.meta.tile ?? [0, 0];
    const size = th * tw;
    const n = size > 0 ? Math.min(order.length, Math.floor(this.bytes.length / size)) : 0;
    const total = this.meta.total ?? n;
    const kind = this.meta.weight_kind ? ` by ${this.meta.weight_kind}` : "";
    this.header.textContent =
      n < total ? `Feature maps: top ${n} of ${total}${kind}` : `Feature maps: ${total}${kind}`;
    const table = lut(this.colormap);
    const tiles: HTMLElement[] = [];
    for (let i = 0; i < n; i++) {
      const channel = order[i];
      const tile = doc.createElement("div");
      tile.className = "cw-tile";
      tile.dataset.channel = String(channel);
      tile.setAttribute("role", "button");
      tile.tabIndex = -1;
      tile.title = `channel ${channel} — weight ${weights[i]} (shift-click to add/remove)`;
      const canvas = doc.createElement("canvas");
      canvas.width = tw;
      canvas.height = th;
      const ctx = canvas.getContext("2d");
      if (ctx && typeof ImageData !== "undefined") {
        const px = colorize(this.bytes.subarray(i * size, (i + 1) * size), table);
        ctx.putImageData(new ImageData(px as unknown as Uint8ClampedArray<ArrayBuffer>, tw, th), 0, 0);
      }
      const label = doc.createElement("span");
      label.className = "cw-tile-label";
      label.textContent = `#${channel}`;
      const weight = doc.createElement("span");
      weight.className = "cw-tile-weight";
      weight.textContent = formatWeight(Number(weights[i]));
      tile.append(canvas, label, weight);
      tile.addEventListener("click", (e) => {
        this.commit(clickSelection(this.selection, channel, (e as MouseEvent).shiftKey));
      });
      tiles.push(tile);
    }
    this.tiles.replaceChildren(...tiles);
    this.markSelection();
  }

  private markSelection(): void {
    const sel = this.selection ? new Set(this.selection) : null;
    for (const tile of Array.from(this.tiles.children) as HTMLElement[]) {
      const ch = Number(tile.dataset.channel);
      const on = sel ? sel.has(ch) : false;
      tile.classList.toggle("cw-selected", on);
      tile.classList.toggle("cw-dim", sel !== null && !on);
      tile.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const shown = new Set(this.meta.order ?? []);
    const hidden = this.selection ? this.selection.filter((c) => !shown.has(c)).length : 0;
    this.el.dataset.selected = this.selection ? this.selection.join(",") : "all";
    this.el.title = hidden ? `${hidden} selected maps are not among the thumbnails shown` : "";
  }
}

/** The feature-map grid: shown unless the method is INV (Python half: camwidget/widget/maps.py). */
export const mapsPanel: PanelFactory = ({ doc, model, commit }) => {
  const grid = new ChannelGrid(doc, (channels) => commit({ channels }));
  let atlas: unknown = null;
  let meta: unknown = null;
  return {
    el: grid.el,
    traits: ["channels_atlas", "atlas_meta", "channels", "method", "colormap"],
    update() {
      grid.el.hidden = model.get("method") === "inv";
      grid.setColormap(String(model.get("colormap") ?? "jet"));
      if (model.get("channels_atlas") !== atlas || model.get("atlas_meta") !== meta) {
        atlas = model.get("channels_atlas");
        meta = model.get("atlas_meta");
        grid.setAtlas(asBytes(atlas), (meta ?? {}) as AtlasMeta);
      }
      grid.setSelection(model.get("channels"));
    },
  };
};
