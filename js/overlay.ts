// The overlay: the image with the heatmap on top, on one <canvas>. The heatmap arrives as a uint8
// map at feature (or display) resolution; it is upsampled with the canvas' bilinear smoothing as a
// grey image, then colour-mapped and blended per pixel here, so colormap and opacity are view-only.
import { blend, lut } from "./colormaps";
import { checkShape } from "./bytes";

export interface HeatmapInput {
  bytes: Uint8Array;
  shape: unknown;
  mask?: Uint8Array;
  maskShape?: unknown;
  blank?: boolean;
}

export class Overlay {
  readonly canvas: HTMLCanvasElement;
  private image: Uint8ClampedArray | null = null; // RGBA pixels of the image
  private width = 0;
  private height = 0;
  private heat: HeatmapInput | null = null;
  private upsampled: Uint8ClampedArray | null = null; // RGBA of the grey map at image size
  private mask: Uint8Array | null = null;
  opacity = 0.5;
  colormap = "jet";
  outline = true; // segment boundaries (segment methods only)
  hideRest = true; // dim what lies outside the selected segments (segment methods only)
  onPaint: (() => void) | null = null;
  // The two scratch canvases of upsample(), made once (a reply used to create two per paint).
  private small: HTMLCanvasElement | null = null;
  private big: HTMLCanvasElement | null = null;

  constructor(doc: Document) {
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "cw-heatmap";
    this.canvas.dataset.testid = "heatmap-canvas";
    this.canvas.setAttribute("data-testid", "heatmap-canvas");
  }

  get size(): [number, number] {
    return [this.height, this.width];
  }

  /** RGB uint8 bytes, `shape` = [H, W]. Returns an error message or null. */
  setImage(rgb: Uint8Array, shape: unknown): string | null {
    const hw = checkShape(shape, rgb.length, 3);
    if (!hw) return rgb.length ? "image bytes do not match image_shape" : null;
    const [h, w] = hw;
    this.height = h;
    this.width = w;
    this.canvas.width = w;
    this.canvas.height = h;
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let p = 0, q = 0; p < w * h; p++, q += 3) {
      rgba[p * 4] = rgb[q];
      rgba[p * 4 + 1] = rgb[q + 1];
      rgba[p * 4 + 2] = rgb[q + 2];
      rgba[p * 4 + 3] = 255;
    }
    this.image = rgba;
    this.upsampled = null;
    if (this.heat) this.upsample();
    this.draw();
    return null;
  }

  /** A new heatmap (uint8, `shape` = [h, w]); empty bytes clear it. Returns an error or null. */
  setHeatmap(input: HeatmapInput): string | null {
    if (!input.bytes.length) {
      this.heat = null;
      this.upsampled = null;
      this.mask = null;
      this.draw();
      return null;
    }
    if (!checkShape(input.shape, input.bytes.length)) return "heatmap bytes do not match its shape";
    this.heat = input;
    this.mask = null;
    if (input.mask && input.mask.length) {
      const ms = checkShape(input.maskShape, input.mask.length);
      if (ms && ms[0] === this.height && ms[1] === this.width) this.mask = input.mask;
    }
    this.upsample();
    this.draw();
    return null;
  }

  /** The answer on screen carries a segment mask (SeCAM, LIME): outline and hide-rest apply. */
  get hasMask(): boolean {
    return this.mask !== null;
  }

  setView(opacity: number, colormap: string, outline = true, hideRest = true): void {
    this.opacity = Number.isFinite(opacity) ? opacity : 0.5;
    this.colormap = colormap;
    this.outline = outline;
    this.hideRest = hideRest;
    this.draw();
  }

  /** Grey map → image size through the canvas' smoothing (bilinear). */
  private upsample(): void {
    this.upsampled = null;
    const heat = this.heat;
    if (!heat || !this.width) return;
    const hw = checkShape(heat.shape, heat.bytes.length);
    if (!hw) return;
    const [h, w] = hw;
    const doc = this.canvas.ownerDocument;
    const small = (this.small ??= doc.createElement("canvas"));
    const big = (this.big ??= doc.createElement("canvas"));
    if (small.width !== w || small.height !== h) [small.width, small.height] = [w, h];
    if (big.width !== this.width || big.height !== this.height) [big.width, big.height] = [this.width, this.height];
    const sctx = small.getContext("2d");
    const bctx = big.getContext("2d", { willReadFrequently: true }); // read back every paint
    if (!sctx || !bctx) return; // no canvas backend (unit tests): nothing to draw
    const grey = new Uint8ClampedArray(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      const v = heat.bytes[p];
      grey[p * 4] = v;
      grey[p * 4 + 1] = v;
      grey[p * 4 + 2] = v;
      grey[p * 4 + 3] = 255;
    }
    sctx.putImageData(makeImageData(grey, w, h), 0, 0);
    bctx.imageSmoothingEnabled = true;
    bctx.imageSmoothingQuality = "high";
    bctx.drawImage(small, 0, 0, this.width, this.height);
    this.upsampled = bctx.getImageData(0, 0, this.width, this.height).data;
  }

  draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (!ctx || !this.image) return;
    if (!this.upsampled || this.heat?.blank) {
      ctx.putImageData(makeImageData(this.image, this.width, this.height), 0, 0);
    } else {
      const out = new Uint8ClampedArray(this.image);
      blend(out, this.upsampled, 4, lut(this.colormap), this.opacity, this.mask, this.outline, this.hideRest);
      ctx.putImageData(makeImageData(out, this.width, this.height), 0, 0);
    }
    this.onPaint?.();
  }
}

function makeImageData(data: Uint8ClampedArray, w: number, h: number): ImageData {
  return new ImageData(data as unknown as Uint8ClampedArray<ArrayBuffer>, w, h);
}
