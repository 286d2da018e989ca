// A region selector: a transparent canvas over the image. Dragging draws a rectangle that snaps to
// a grid — the current layer's h×w neurons, or a segmentation model's output pixels (the grid shows
// while the pointer is over the image, where its cells are big enough); the region is sent live
// (once per animation frame at most); a click without a drag clears it. Two can share the stage:
// only the active one takes the pointer; an inactive one still outlines its region, without dimming.
import type { Region } from "./types";
import { LatestPerFrame, nextFrame, type Schedule } from "./frames";

/** Grid cell [row, col] under a point given in CSS pixels relative to the element's box. */
export function cellAt(
  x: number,
  y: number,
  boxWidth: number,
  boxHeight: number,
  grid: [number, number],
): [number, number] {
  const [h, w] = grid;
  const col = Math.floor((x / Math.max(boxWidth, 1e-9)) * w);
  const row = Math.floor((y / Math.max(boxHeight, 1e-9)) * h);
  return [Math.max(0, Math.min(h - 1, row)), Math.max(0, Math.min(w - 1, col))];
}

/** The half-open region [row0, col0, row1, col1] spanned by two cells (inclusive). */
export function spanCells(a: [number, number], b: [number, number]): Region {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]) + 1, Math.max(a[1], b[1]) + 1];
}

/** A region from the model, or null if it is not a valid rectangle in `grid`. */
export function parseRegion(value: unknown, grid: [number, number] | null): Region | null {
  if (!Array.isArray(value) || value.length !== 4 || !grid) return null;
  const r = value.map(Number) as Region;
  if (!r.every(Number.isInteger)) return null;
  const [r0, c0, r1, c1] = r;
  if (r0 < 0 || c0 < 0 || r1 > grid[0] || c1 > grid[1] || r0 >= r1 || c0 >= c1) return null;
  return r;
}

export function sameRegion(a: Region | null, b: Region | null): boolean {
  if (a === null || b === null) return a === b;
  return a.every((v, i) => v === b[i]);
}

const CLICK_PX = 4;

export interface SelectorLook {
  testid: string;
  title: string;
  /** The outline's colour (the dashes are black). */
  stroke: string;
}

const NEURONS: SelectorLook = {
  testid: "region-selector",
  title: "Drag to explain a region of this layer's neurons; click to clear",
  stroke: "#ffffff",
};

export class RegionSelector {
  readonly canvas: HTMLCanvasElement;
  private grid: [number, number] | null = null;
  private region: Region | null = null;
  private start: [number, number] | null = null;
  private startXY: [number, number] = [0, 0];
  private moved = false;
  private hover = false;
  private active = true;
  private frames: LatestPerFrame<Region | null>;

  constructor(
    doc: Document,
    private onRegion: (region: Region | null) => void,
    schedule: Schedule = nextFrame,
    private look: SelectorLook = NEURONS,
  ) {
    this.frames = new LatestPerFrame((region) => this.onRegion(region), schedule);
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "cw-region";
    this.canvas.setAttribute("data-testid", look.testid);
    this.canvas.title = look.title;
    this.canvas.dataset.active = "true";
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.onDown(e as PointerEvent));
    c.addEventListener("pointermove", (e) => this.onMove(e as PointerEvent));
    c.addEventListener("pointerup", (e) => this.onUp(e as PointerEvent));
    c.addEventListener("pointercancel", () => this.cancel());
    c.addEventListener("pointerenter", () => {
      this.hover = true;
      this.draw();
    });
    c.addEventListener("pointerleave", () => {
      this.hover = false;
      this.draw();
    });
  }

  setSize(height: number, width: number): void {
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    this.draw();
  }

  /** The current layer's grid [h, w] (null: no spatial grid). */
  setGrid(grid: [number, number] | null): void {
    this.grid = grid;
    this.draw();
  }

  /** Whether this selector takes the pointer (an inactive one only outlines its region). */
  setActive(active: boolean): void {
    this.active = active;
    this.canvas.classList.toggle("cw-inactive", !active);
    this.canvas.dataset.active = String(active);
    if (!active) {
      this.start = null;
      this.hover = false;
    }
    this.draw();
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Follow the model. */
  setRegion(value: unknown): void {
    if (this.start) return; // the user is dragging: the drag wins
    this.region = parseRegion(value, this.grid);
    this.draw();
  }

  get value(): Region | null {
    return this.region;
  }

  private local(e: PointerEvent): [number, number, number, number] {
    const box = this.canvas.getBoundingClientRect();
    return [e.clientX - box.left, e.clientY - box.top, box.width, box.height];
  }

  private onDown(e: PointerEvent): void {
    if (!this.active || !this.grid || (e.button !== undefined && e.button !== 0)) return;
    const [x, y, bw, bh] = this.local(e);
    this.start = cellAt(x, y, bw, bh, this.grid);
    this.startXY = [e.clientX, e.clientY];
    this.moved = false;
    try {
      this.canvas.setPointerCapture?.(e.pointerId);
    } catch {
      /* synthetic pointer */
    }
    e.preventDefault();
  }

  private onMove(e: PointerEvent): void {
    if (!this.start || !this.grid) return;
    if (Math.abs(e.clientX - this.startXY[0]) + Math.abs(e.clientY - this.startXY[1]) > CLICK_PX) this.moved = true;
    if (!this.moved) return;
    const [x, y, bw, bh] = this.local(e);
    const next = spanCells(this.start, cellAt(x, y, bw, bh, this.grid));
    if (sameRegion(next, this.region)) return;
    this.region = next;
    this.draw();
    this.send(next, false);
  }

  private onUp(e: PointerEvent): void {
    if (!this.start) return;
    const wasDrag = this.moved;
    this.onMove(e);
    this.start = null;
    try {
      this.canvas.releasePointerCapture?.(e.pointerId);
    } catch {
      /* ignore */
    }
    if (!wasDrag && !this.moved) {
      // A click clears the region.
      if (this.region !== null) {
        this.region = null;
        this.draw();
        this.send(null, true);
      }
      return;
    }
    this.send(this.region, true);
  }

  private cancel(): void {
    this.start = null;
  }

  private send(region: Region | null, immediate: boolean): void {
    this.frames.push(region, immediate);
  }

  draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const W = this.canvas.width;
    const H = this.canvas.height;
    ctx.clearRect(0, 0, W, H);
    if (!this.grid) return;
    const [h, w] = this.grid;
    const cw = W / w;
    const ch = H / h;
    const dragging = this.start !== null;
    if (this.active && (this.hover || dragging) && Math.min(cw, ch) >= 4) {
      ctx.strokeStyle = "rgba(255,255,255,0.28)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let c = 1; c < w; c++) {
        const x = Math.round(c * cw) + 0.5;
        ctx.moveTo(x, 0);
        ctx.lineTo(x, H);
      }
      for (let r = 1; r < h; r++) {
        const y = Math.round(r * ch) + 0.5;
        ctx.moveTo(0, y);
        ctx.lineTo(W, y);
      }
      ctx.stroke();
    }
    if (this.region) {
      const [r0, c0, r1, c1] = this.region;
      const x = c0 * cw;
      const y = r0 * ch;
      const rw = (c1 - c0) * cw;
      const rh = (r1 - r0) * ch;
      // Dim outside the region (the active selector only), outline it.
      if (this.active) {
        ctx.fillStyle = "rgba(0,0,0,0.35)";
        ctx.fillRect(0, 0, W, y);
        ctx.fillRect(0, y + rh, W, H - y - rh);
        ctx.fillRect(0, y, x, rh);
        ctx.fillRect(x + rw, y, W - x - rw, rh);
      }
      ctx.lineWidth = Math.max(2, W / 200);
      ctx.strokeStyle = this.look.stroke;
      ctx.strokeRect(x, y, rw, rh);
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = "#000000";
      ctx.strokeRect(x, y, rw, rh);
      ctx.setLineDash([]);
    }
  }
}
