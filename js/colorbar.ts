// The colour bar under the image: the colormap blended at the view's opacity (as the overlay is),
// the raw value range of the map on screen at its ends, and one line saying what the colours mean
// for the method. The map travels min-max scaled to 0..255 over [min(0, min), max(0, max)] (see
// camwidget/_wire.py `to_uint8`), so those are the values the bar's ends stand for.
import { lut } from "./colormaps";
import type { HeatmapMeta } from "./types";

/** What the colours stand for, per method (the high end of the bar). */
export const MEANING: Record<string, string> = {
  cam: "class evidence: ReLU of the classifier-weighted feature maps",
  gradcam: "class evidence: ReLU of the gradient-weighted feature maps",
  "gradcam++": "class evidence: ReLU of the α-weighted feature maps",
  "smooth-gradcam++": "class evidence, averaged over noisy copies of the image",
  secam: "class evidence averaged per superpixel; the top-k segments outlined",
  lime: "each superpixel's weight in LIME's local linear model",
  inv: "the cluster's feature maps, Grad-CAM weighted",
  neurons: "how strongly each pixel drives the selected neurons (|input gradient|)",
};

/** What the high end of the bar means for `method` (a generic line for unknown ones). */
export function meaning(method: string | undefined): string {
  return (method && MEANING[method]) || "low → high";
}

/** A short, readable number: 3 significant digits, exponent notation when very small or large. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return Number(v.toPrecision(3)).toString();
}

/** The values the bar's two ends stand for, from the raw range of the map; null when unknown. */
export function barRange(meta: HeatmapMeta): [number, number] | null {
  const lo = Number(meta.min);
  const hi = Number(meta.max);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  return [Math.min(0, lo), Math.max(0, hi)];
}

export class ColorBar {
  readonly el: HTMLElement;
  private canvas: HTMLCanvasElement;
  private lo: HTMLElement;
  private hi: HTMLElement;
  private text: HTMLElement;
  /** Where the view's own controls go (colormap, opacity, segment outlines): beside the meaning. */
  readonly controls: HTMLElement;
  private colormap = "jet";
  private opacity = 0.5;

  constructor(doc: Document) {
    this.el = doc.createElement("div");
    this.el.className = "cw-colorbar";
    this.el.setAttribute("data-testid", "colorbar");
    this.lo = doc.createElement("span");
    this.lo.className = "cw-colorbar-lo";
    this.lo.setAttribute("data-testid", "colorbar-min");
    this.hi = doc.createElement("span");
    this.hi.className = "cw-colorbar-hi";
    this.hi.setAttribute("data-testid", "colorbar-max");
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "cw-colorbar-ramp";
    this.canvas.width = 256;
    this.canvas.height = 1;
    this.text = doc.createElement("span");
    this.text.className = "cw-colorbar-text";
    this.text.setAttribute("data-testid", "colorbar-meaning");
    const ramp = doc.createElement("span");
    ramp.className = "cw-colorbar-scale";
    ramp.append(this.lo, this.canvas, this.hi);
    this.controls = doc.createElement("span");
    this.controls.className = "cw-colorbar-controls";
    const line = doc.createElement("span");
    line.className = "cw-colorbar-line";
    line.append(this.text, this.controls);
    this.el.append(ramp, line);
    this.draw();
  }

  /** The view's colormap and opacity changed: redraw the ramp (browser only). */
  setView(colormap: string, opacity: number): void {
    this.colormap = colormap;
    this.opacity = Math.max(0, Math.min(1, Number.isFinite(opacity) ? opacity : 0.5));
    this.draw();
  }

  /** A new map is on screen: its raw range and its method. */
  setMeta(meta: HeatmapMeta): void {
    const range = barRange(meta);
    const blank = Boolean(meta.blank);
    this.lo.textContent = range ? formatValue(range[0]) : "";
    this.hi.textContent = range ? formatValue(range[1]) : "";
    const raw = range ? `map min ${formatValue(Number(meta.min))}, max ${formatValue(Number(meta.max))}` : "";
    this.el.title = raw;
    this.el.dataset.min = range ? String(meta.min) : "";
    this.el.dataset.max = range ? String(meta.max) : "";
    this.text.textContent = blank ? "blank map: nothing positive for this class here" : meaning(meta.method);
    this.el.classList.toggle("cw-blank", blank);
    this.el.classList.toggle("cw-no-map", !meta.method);
  }

  private draw(): void {
    const ctx = this.canvas.getContext?.("2d");
    if (!ctx) return;
    const table = lut(this.colormap);
    const img = ctx.createImageData(256, 1);
    // Blended over a mid grey at the view's opacity, as the overlay blends it over the photo.
    const a = this.opacity;
    const grey = 128 * (1 - a);
    for (let i = 0; i < 256; i++) {
      img.data[i * 4] = grey + table[i * 3] * a;
      img.data[i * 4 + 1] = grey + table[i * 3 + 1] * a;
      img.data[i * 4 + 2] = grey + table[i * 3 + 2] * a;
      img.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    this.canvas.dataset.colormap = this.colormap;
    this.canvas.dataset.opacity = String(this.opacity);
  }
}
