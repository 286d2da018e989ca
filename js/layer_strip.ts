import { LatestPerFrame, nextFrame, type Schedule } from "./frames";
// The layer strip: the network's selectable layers in depth order as a horizontal row of stops,
// grouped by block (the block's name once, above its stops; each stop its short name and output
// shape). Drag along it (pointer events, one commit per animation frame at most) or step with the
// arrow keys / PageUp / PageDown / Home / End. The caption above the strip names the current stop
// in full (or the hovered one). Shift-click toggles a stop into / out of the fused set (the map
// shown is the fusion of those layers; `fuse_layers` in the model); a plain click or a key step
// returns to one layer. The keys the strip handles stay there, so a host (Notebook 7,
// JupyterLab's command mode) does not also act on them; Escape leaves the widget.
import type { LayerEntry } from "./types";

/** Index of the stop under `x` given each stop's [left, right) span; clamps to the ends. */
export function stopAt(x: number, spans: Array<[number, number]>): number {
  if (!spans.length) return -1;
  if (x < spans[0][0]) return 0;
  for (let i = 0; i < spans.length; i++) if (x < spans[i][1]) return i;
  return spans.length - 1;
}

/** The index a key press moves to, or null when the key is not a strip key. */
export function keyStep(key: string, index: number, count: number): number | null {
  if (count <= 0) return null;
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      return clamp(index + 1);
    case "ArrowLeft":
    case "ArrowUp":
      return clamp(index - 1);
    case "PageDown":
      return clamp(index + 5);
    case "PageUp":
      return clamp(index - 5);
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}

/** A stop's label: long names keep their informative end ("…5.0.conv_pw"). */
export function shortName(name: string, max = 12): string {
  return name.length <= max ? name : `…${name.slice(name.length - (max - 1))}`;
}

/**
 * Split a layer name into its block and the stop's name within it: the block is the name up to
 * its first numeric part ("blocks.5.3.conv_pw" → "blocks.5" + "3.conv_pw", "layer2.0.conv1" →
 * "layer2" + "0.conv1" when no part is numeric before the container index); a block's own output
 * is its stop "out". Top-level layers ("conv_stem", "bn2") have no block.
 */
export function splitName(name: string): { block: string; stop: string } {
  const parts = name.split(".");
  if (parts.length === 1) return { block: "", stop: name };
  let i = parts.findIndex((p) => /^\d+$/.test(p));
  if (i < 0) i = 0; // no numeric part: the first part is the block ("features.conv" → "features")
  const block = parts.slice(0, i + 1).join(".");
  const rest = parts.slice(i + 1).join(".");
  return { block, stop: rest || "out" };
}

/** Consecutive layers that share a block: `[block, [index, stop name][]]`, in depth order. */
export function groupLayers(names: string[]): Array<{ block: string; stops: Array<[number, string]> }> {
  const groups: Array<{ block: string; stops: Array<[number, string]> }> = [];
  names.forEach((name, i) => {
    const { block, stop } = splitName(name);
    const last = groups[groups.length - 1];
    if (last && last.block === block && block !== "") last.stops.push([i, stop]);
    else groups.push({ block, stops: [[i, stop]] });
  });
  return groups;
}

/** "blocks.5.3.conv_pw · 192×7×7 · depth 58" */
export function describeLayer(layer: LayerEntry | undefined): string {
  if (!layer) return "";
  const shape = shapeText(layer.shape);
  return [layer.name, shape, Number.isFinite(layer.depth) ? `depth ${layer.depth}` : ""].filter(Boolean).join(" · ");
}

export function shapeText(shape: number[] | undefined): string {
  return Array.isArray(shape) ? shape.join("×") : "";
}

/**
 * The fused set after a shift-click on stop `i`: the stops fused now (the current stop alone when
 * none are), with `i` added or removed; in depth order. One stop left means one layer again.
 */
export function toggleFused(fused: readonly number[], current: number, i: number): number[] {
  const set = new Set(fused.length ? fused : current >= 0 ? [current] : []);
  if (set.has(i)) set.delete(i);
  else set.add(i);
  return [...set].sort((a, b) => a - b);
}

export type { Schedule } from "./frames";

export class LayerStrip {
  /** The scrolling row of stops (the slider the user drags and steps with keys). */
  readonly el: HTMLElement;
  /** The strip with its caption: what goes on the page. */
  readonly box: HTMLElement;
  private caption: HTMLElement;
  private layers: LayerEntry[] = [];
  private stops: HTMLElement[] = [];
  private current = -1;
  private fused: number[] = [];
  private dragging = false;
  private frames: LatestPerFrame<number>;

  constructor(
    doc: Document,
    private onSelect: (name: string) => void,
    schedule: Schedule = nextFrame,
    /** A shift-click changed the fused set: two or more names, or `[]` and the one layer left. */
    private onFuse: (names: string[], layer: string) => void = () => {},
  ) {
    this.frames = new LatestPerFrame((i) => {
      if (this.layers[i]) this.onSelect(this.layers[i].name);
    }, schedule);
    this.el = doc.createElement("div");
    this.el.className = "cw-strip";
    this.el.setAttribute("data-testid", "layer-strip");
    this.el.setAttribute("role", "slider");
    this.el.setAttribute("aria-label", "Layer");
    this.el.tabIndex = 0;
    // Lumino hosts (Notebook 7; JupyterLab when it listens in the capture phase) match their
    // shortcuts before the strip sees the key; this attribute tells them not to while the strip
    // has focus. Escape is handled below, so the user can still leave.
    this.el.setAttribute("data-lm-suppress-shortcuts", "true");
    this.caption = doc.createElement("div");
    this.caption.className = "cw-strip-caption";
    this.caption.setAttribute("data-testid", "layer-caption");
    this.box = doc.createElement("div");
    this.box.className = "cw-strip-box";
    this.box.append(this.caption, this.el);
    this.el.addEventListener("pointerover", (e) => this.onHover(e as PointerEvent));
    this.el.addEventListener("pointerleave", () => this.showCaption(this.current));
    this.el.addEventListener("keydown", (e) => this.onKey(e as KeyboardEvent));
    this.el.addEventListener("pointerdown", (e) => this.onDown(e as PointerEvent));
    this.el.addEventListener("pointermove", (e) => this.onMove(e as PointerEvent));
    this.el.addEventListener("pointerup", (e) => this.onUp(e as PointerEvent));
    this.el.addEventListener("pointercancel", (e) => this.onUp(e as PointerEvent));
    // The strip is built before it is on the page: reveal the current stop once it has a size.
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.reveal()).observe(this.el);
  }

  get index(): number {
    return this.current;
  }

  setLayers(layers: LayerEntry[]): void {
    this.layers = Array.isArray(layers) ? layers : [];
    const doc = this.el.ownerDocument;
    this.el.replaceChildren();
    this.stops = [];
    for (const group of groupLayers(this.layers.map((l) => l.name))) {
      const box = doc.createElement("div");
      box.className = group.block ? "cw-group" : "cw-group cw-group-none";
      const head = doc.createElement("div");
      head.className = "cw-group-name";
      head.textContent = group.block || "\u00a0";
      if (group.block) head.title = group.block;
      const row = doc.createElement("div");
      row.className = "cw-group-stops";
      for (const [i, stopName] of group.stops) {
        const layer = this.layers[i];
        const stop = doc.createElement("div");
        stop.className = "cw-stop";
        stop.dataset.index = String(i);
        stop.dataset.layer = layer.name;
        stop.title = describeLayer(layer);
        const name = doc.createElement("span");
        name.className = "cw-stop-name";
        name.textContent = shortName(stopName, 13);
        const shape = doc.createElement("span");
        shape.className = "cw-stop-shape";
        shape.textContent = shapeText(layer.shape);
        stop.append(name, shape);
        row.append(stop);
        this.stops.push(stop);
      }
      box.append(head, row);
      this.el.append(box);
    }
    this.el.setAttribute("aria-valuemin", "0");
    this.el.setAttribute("aria-valuemax", String(Math.max(0, this.layers.length - 1)));
    const name = this.current >= 0 ? this.layers[this.current]?.name : undefined;
    const fused = this.fusedNames;
    this.current = -1;
    this.fused = [];
    if (name) this.setLayer(name);
    else this.showCaption(-1);
    this.setFused(fused);
  }

  /** The names of the fused layers (empty when one layer is shown). */
  get fusedNames(): string[] {
    return this.fused.map((i) => this.layers[i]?.name).filter((n): n is string => Boolean(n));
  }

  /** Follow the model's fused set (no commit): those stops are marked, the caption names them. */
  setFused(names: readonly string[] | null | undefined): void {
    const wanted = Array.isArray(names) ? names : [];
    const index = wanted.map((n) => this.layers.findIndex((l) => l.name === n)).filter((i) => i >= 0);
    this.fused = index.length >= 2 ? [...new Set(index)].sort((a, b) => a - b) : [];
    this.stops.forEach((stop, i) => stop.classList.toggle("cw-fused", this.fused.includes(i)));
    if (this.fused.length) this.el.dataset.fused = this.fusedNames.join(",");
    else delete this.el.dataset.fused;
    this.showCaption(this.current);
  }

  /** The stop elements, in depth order (one per layer). */
  get stopElements(): readonly HTMLElement[] {
    return this.stops;
  }

  private showCaption(i: number, hovered = false): void {
    const layer = this.layers[i];
    if (!hovered && this.fused.length) {
      this.caption.textContent = `Fused ${this.fused.length} layers: ${this.fusedNames.join(" + ")}`;
      this.caption.classList.remove("cw-hovered");
      return;
    }
    this.caption.textContent = layer ? `${hovered ? "→ " : "Layer "}${describeLayer(layer)}` : "Layer";
    this.caption.classList.toggle("cw-hovered", hovered && i !== this.current);
  }

  private onHover(e: PointerEvent): void {
    if (this.dragging) return;
    const stop = (e.target as HTMLElement | null)?.closest?.(".cw-stop") as HTMLElement | null;
    const i = stop ? Number(stop.dataset.index) : -1;
    this.showCaption(i >= 0 ? i : this.current, i >= 0);
  }

  /** Follow the model (no commit). */
  setLayer(name: string): void {
    const i = this.layers.findIndex((l) => l.name === name);
    this.highlight(i);
  }

  private highlight(i: number): void {
    if (i === this.current) return;
    this.stops[this.current]?.classList.remove("cw-active");
    this.stops[this.current]?.removeAttribute("aria-current");
    this.current = i;
    const stop = this.stops[i];
    if (!stop) {
      this.el.removeAttribute("aria-valuenow");
      this.el.removeAttribute("aria-valuetext");
      return;
    }
    stop.classList.add("cw-active");
    stop.setAttribute("aria-current", "true");
    this.el.setAttribute("aria-valuenow", String(i));
    const layer = this.layers[i];
    this.el.setAttribute("aria-valuetext", `${layer.name} ${shapeText(layer.shape)}`);
    this.el.dataset.layer = layer.name;
    this.showCaption(i);
    this.reveal();
  }

  /** Scroll the strip (only the strip, never the page) so the current stop is visible, with a
   * neighbour on each side where there is one. */
  reveal(): void {
    const stop = this.stops[this.current];
    const strip = this.el;
    if (!stop || !strip.clientWidth) return;
    const box = strip.getBoundingClientRect();
    const r = stop.getBoundingClientRect();
    const left = r.left - box.left + strip.scrollLeft; // the stop's offset inside the scrolled row
    const margin = Math.min(r.width, Math.max(0, (strip.clientWidth - r.width) / 2));
    if (left - margin < strip.scrollLeft || left + r.width + margin > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = Math.max(0, left - (strip.clientWidth - r.width) / 2);
    }
  }

  /** Select stop `i` in the view and tell the model (at most once per frame while dragging). */
  select(i: number, immediate = false): void {
    if (i < 0 || i >= this.layers.length || (i === this.current && !this.fused.length)) return;
    if (this.fused.length) this.setFused([]); // one layer again
    this.highlight(i);
    this.frames.push(i, immediate);
  }

  /** Shift-click on stop `i`: add it to the fused set or take it out (and tell the model). */
  toggle(i: number): void {
    if (i < 0 || i >= this.layers.length) return;
    const next = toggleFused(this.fused, this.current, i);
    if (next.length >= 2) {
      const names = next.map((k) => this.layers[k].name);
      if (!next.includes(this.current)) this.highlight(next[next.length - 1]); // as the kernel does
      this.setFused(names);
      this.onFuse(names, this.layers[this.current].name);
    } else if (next.length === 1) {
      this.setFused([]);
      this.highlight(next[0]);
      this.onFuse([], this.layers[next[0]].name);
    }
  }

  private spans(): Array<[number, number]> {
    return this.stops.map((s) => {
      const r = s.getBoundingClientRect();
      return [r.left, r.right] as [number, number];
    });
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "Escape") {
      // Leave the widget: focus goes back to the host's nearest focusable container (the
      // notebook, so its own shortcuts work again) and the event still reaches the host.
      const host = this.box.parentElement?.closest("[tabindex]") as HTMLElement | null;
      if (host && host !== this.el) host.focus?.();
      else this.el.blur?.();
      return;
    }
    const next = keyStep(e.key, this.current, this.layers.length);
    if (next === null) return;
    e.preventDefault();
    // The strip owns this key: a host listening further up (Notebook 7 and JupyterLab move
    // between cells on arrow keys in command mode) must not act on it too. Escape is not a strip
    // key and still reaches the host, which is how the user leaves the widget.
    e.stopPropagation();
    this.select(next, true);
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== undefined && e.button !== 0) return;
    if (e.shiftKey) {
      // Shift-click: toggle the stop under the pointer in the fused set; no drag.
      this.el.focus?.();
      this.toggle(stopAt(e.clientX, this.spans()));
      e.preventDefault();
      return;
    }
    this.dragging = true;
    try {
      this.el.setPointerCapture?.(e.pointerId);
    } catch {
      /* synthetic events have no active pointer */
    }
    this.el.focus?.();
    this.select(stopAt(e.clientX, this.spans()));
    e.preventDefault();
  }

  private onMove(e: PointerEvent): void {
    if (!this.dragging) return;
    const spans = this.spans();
    // Auto-scroll when dragging past the visible edge of a strip that overflows.
    const box = this.el.getBoundingClientRect();
    if (e.clientX > box.right - 12) this.el.scrollLeft += 16;
    else if (e.clientX < box.left + 12) this.el.scrollLeft -= 16;
    this.select(stopAt(e.clientX, spans));
  }

  private onUp(e: PointerEvent): void {
    if (!this.dragging) return;
    this.dragging = false;
    try {
      this.el.releasePointerCapture?.(e.pointerId);
    } catch {
      /* ignore */
    }
    if (this.frames.waiting) this.frames.flush();
  }
}
