// Constants the kernel and the browser share, from one source: camwidget/widget/shared.json
// (the kernel reads the same file; esbuild bundles it here). Edit them there only.
import shared from "../camwidget/widget/shared.json";

/** Colormap names (each has a lookup table in js/lut_data.ts). */
export const COLORMAP_NAMES: readonly string[] = shared.colormaps;
/** The reveal game's steps: the share (percent) of a cluster map's pixels shown at step 0 … 5. */
export const REVEAL_PERCENT: readonly number[] = shared.reveal_percent;
/** The longest label text (characters) the label store takes. */
export const MAX_TEXT: number = shared.max_text;
/** A thumbnail's longer side is at most this many pixels. */
export const MAX_TILE_SIDE: number = shared.max_tile_side;
/** At most this many feature-map thumbnails travel. */
export const MAX_TILES: number = shared.max_tiles;
