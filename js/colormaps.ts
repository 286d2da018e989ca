// Colormaps as 256-entry RGB lookup tables. Applying one is per-pixel arithmetic in the browser:
// choosing a colormap or an opacity never reaches the kernel.
import { LUT_HEX } from "./lut_data";
import { COLORMAP_NAMES } from "./shared";

/** The colormaps the kernel accepts (camwidget/widget/shared.json), in its order. */
export const COLORMAPS: string[] = [...COLORMAP_NAMES];

const cache = new Map<string, Uint8Array>();

/** The 768-byte RGB table of a colormap (jet when the name is unknown). */
export function lut(name: string): Uint8Array {
  const key = name in LUT_HEX ? name : "jet";
  let table = cache.get(key);
  if (!table) {
    const hex = LUT_HEX[key];
    table = new Uint8Array(768);
    for (let i = 0; i < 768; i++) table[i] = parseInt(hex.substr(i * 2, 2), 16);
    cache.set(key, table);
  }
  return table;
}

/** How much of its brightness a pixel outside the selected segments keeps ("hide rest"). */
export const DIM = 0.35;
/** How far a segment boundary (not the selection's edge) is lightened towards white. */
export const EDGE = 0.45;

/**
 * Blend a colour-mapped scalar field over an RGBA image, in place.
 * `values` holds one uint8 per pixel (already upsampled to the image), `rgba` the image pixels;
 * `alpha` in [0, 1]. `mask` (optional, one byte per pixel): bit 0 = pixel inside a selected
 * segment, bit 1 = segment boundary, bit 2 = edge of the selection. With a mask, `hideRest` dims
 * the pixels outside the selected segments (like LIME's `hide_rest`) and `outline` draws the
 * selection's edge in white and the other segment boundaries as faint light lines; both view-only.
 */
export function blend(
  rgba: Uint8ClampedArray | Uint8Array,
  values: Uint8Array | Uint8ClampedArray,
  valueStride: number,
  table: Uint8Array,
  alpha: number,
  mask?: Uint8Array | null,
  outline = true,
  hideRest = true,
): void {
  const a = Math.max(0, Math.min(1, alpha));
  const b = 1 - a;
  const n = rgba.length >> 2;
  for (let p = 0; p < n; p++) {
    const o = p << 2;
    const v = values[p * valueStride] * 3;
    let r = rgba[o] * b + table[v] * a;
    let g = rgba[o + 1] * b + table[v + 1] * a;
    let bl = rgba[o + 2] * b + table[v + 2] * a;
    if (mask) {
      const m = mask[p];
      if (hideRest && !(m & 1)) {
        r *= DIM; g *= DIM; bl *= DIM;
      }
      if (outline && m & 4) {
        r = 255; g = 255; bl = 255;
      } else if (outline && m & 2) {
        r += (255 - r) * EDGE; g += (255 - g) * EDGE; bl += (255 - bl) * EDGE;
      }
    }
    rgba[o] = r;
    rgba[o + 1] = g;
    rgba[o + 2] = bl;
    rgba[o + 3] = 255;
  }
}

/** Colour-map a uint8 field into fresh RGBA pixels (thumbnails, colorbar). */
export function colorize(values: Uint8Array, table: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let p = 0; p < values.length; p++) {
    const v = values[p] * 3;
    out[p * 4] = table[v];
    out[p * 4 + 1] = table[v + 1];
    out[p * 4 + 2] = table[v + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}
