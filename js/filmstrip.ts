// The filmstrip: every stop of the layer strip shows a thumbnail of its own layer's map for the
// current method, target, region and channels — where the network "looks" at every depth. The
// kernel sends all of them at once after an answer (camwidget/widget/filmstrip.py): L × th × tw
// uint8 tiles in depth order, each scaled to its own peak, drawn here with the view's colormap.
import { asBytes } from "./bytes";
import { colorize, lut } from "./colormaps";
import type { PanelFactory } from "./panel";

export interface FilmstripMeta {
  method?: string;
  target?: number;
  layer?: string;
  layers?: string[];
  tile?: number[]; // [th, tw]
  peaks?: number[];
  blank?: boolean[];
}

/** The tiles of a filmstrip message, by layer name; empty when the bytes do not match the meta. */
export function unpackFilmstrip(bytes: Uint8Array, meta: FilmstripMeta): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const layers = Array.isArray(meta.layers) ? meta.layers : [];
  const [th, tw] = Array.isArray(meta.tile) ? meta.tile.map(Number) : [0, 0];
  const size = th * tw;
  if (!layers.length || !(size > 0) || bytes.length !== size * layers.length) return out;
  layers.forEach((name, i) => out.set(String(name), bytes.subarray(i * size, (i + 1) * size)));
  return out;
}

export const filmstripPanel: PanelFactory = ({ doc, model }) => {
  const el = doc.createElement("div");
  el.className = "cw-filmstrip";
  el.setAttribute("data-testid", "filmstrip");
  el.hidden = true; // the thumbnails live in the layer strip's stops
  return {
    el,
    traits: ["filmstrip", "filmstrip_meta", "colormap", "layers"],
    update() {
      const meta = (model.get("filmstrip_meta") ?? {}) as FilmstripMeta;
      const tiles = unpackFilmstrip(asBytes(model.get("filmstrip")), meta);
      const [th, tw] = Array.isArray(meta.tile) ? meta.tile.map(Number) : [0, 0];
      const table = lut(String(model.get("colormap") ?? "jet"));
      const root = el.closest(".cw-root") ?? el.parentElement;
      const stops = root ? [...root.querySelectorAll<HTMLElement>(".cw-stop")] : [];
      let drawn = 0;
      for (const stop of stops) {
        const tile = tiles.get(stop.dataset.layer ?? "");
        let canvas = stop.querySelector<HTMLCanvasElement>("canvas.cw-stop-thumb");
        if (!tile) {
          canvas?.remove();
          continue;
        }
        if (!canvas) {
          canvas = doc.createElement("canvas");
          canvas.className = "cw-stop-thumb";
          stop.prepend(canvas);
        }
        canvas.width = tw;
        canvas.height = th;
        const ctx = canvas.getContext?.("2d");
        if (ctx) {
          const img = ctx.createImageData(tw, th);
          img.data.set(colorize(tile, table));
          ctx.putImageData(img, 0, 0);
        }
        drawn += 1;
      }
      el.dataset.method = meta.method ?? "";
      el.dataset.layers = String(tiles.size);
      el.dataset.drawn = String(drawn);
    },
  };
};
