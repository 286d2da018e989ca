import { LatestPerFrame, nextFrame, type Schedule } from "./frames";
// The layer strip: the network's selectable layers in depth order as a horizontal row of stops,
// each showing the layer's name and output shape. Drag along it (pointer events, one commit per
// animation frame at most) or step with the arrow keys / Home / End.
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

export function shapeText(shape: number[] | undefined): string {
  return Array.isArray(shape) ? shape.join("×") : "";
}

export type { Schedule } from "./frames";

export class LayerStrip {
  readonly el: HTMLElement;
  private layers: LayerEntry[] = [];
  private stops: HTMLElement[] = [];
  private current = -1;
  private dragging = false;
  private frames: LatestPerFrame<number>;

  constructor(
    doc: Document,
    private onSelect: (name: string) => void,
    schedule: Schedule = nextFrame,
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
    this.stops = this.layers.map((layer, i) => {
      const stop = doc.createElement("div");
      stop.className = "cw-stop";
      stop.dataset.index = String(i);
      stop.dataset.layer = layer.name;
      stop.title = `${layer.name}  ${shapeText(layer.shape)}  (depth ${layer.depth})`;
      const name = doc.createElement("span");
      name.className = "cw-stop-name";
      name.textContent = shortName(layer.name);
      const shape = doc.createElement("span");
      shape.className = "cw-stop-shape";
      shape.textContent = shapeText(layer.shape);
      stop.append(name, shape);
      this.el.append(stop);
      return stop;
    });
    this.el.setAttribute("aria-valuemin", "0");
    this.el.setAttribute("aria-valuemax", String(Math.max(0, this.layers.length - 1)));
    const name = this.current >= 0 ? this.layers[this.current]?.name : undefined;
    this.current = -1;
    if (name) this.setLayer(name);
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
    this.reveal();
  }

  /** Scroll the strip (only the strip, never the page) so the current stop is visible. */
  reveal(): void {
    const stop = this.stops[this.current];
    const strip = this.el;
    if (!stop || !strip.clientWidth) return;
    const left = stop.offsetLeft - strip.offsetLeft;
    if (left < strip.scrollLeft || left + stop.offsetWidth > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = Math.max(0, left - (strip.clientWidth - stop.offsetWidth) / 2);
    }
  }

  /** Select stop `i` in the view and tell the model (at most once per frame while dragging). */
  select(i: number, immediate = false): void {
    if (i < 0 || i >= this.layers.length || i === this.current) return;
    this.highlight(i);
    this.frames.push(i, immediate);
  }

  private spans(): Array<[number, number]> {
    return this.stops.map((s) => {
      const r = s.getBoundingClientRect();
      return [r.left, r.right] as [number, number];
    });
  }

  private onKey(e: KeyboardEvent): void {
    const next = keyStep(e.key, this.current, this.layers.length);
    if (next === null) return;
    e.preventDefault();
    this.select(next, true);
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== undefined && e.button !== 0) return;
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
