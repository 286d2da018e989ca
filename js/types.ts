// The slice of the anywidget model interface camwidget uses (AFM: get/set/on/off/save_changes/send).
// Keeping it this small lets the unit tests drive every module with a fake model that records calls.

export type Callback = (...args: unknown[]) => void;

export interface Model {
  get(name: string): any;
  set(name: string, value: unknown): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  save_changes(): void;
  send?(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
}

/** One selectable layer, as Python's `layers` trait lists it (depth order). */
export interface LayerEntry {
  name: string;
  shape: number[]; // [C, h, w]
  depth: number;
}

/** Region in the layer's h×w grid: [row0, col0, row1, col1], half-open. */
export type Region = [number, number, number, number];

/** One parameter's schema, exactly as `camwidget.engine.methods` emits it (tests/test_widget_shared.py checks). */
export interface ParamSchema {
  type?: "int" | "float" | "bool" | "choice";
  default?: unknown;
  min?: number;
  max?: number;
  limit?: number; // a soft upper bound: the kernel refuses more unless raised with raise_limit()
  choices?: unknown[];
  nullable?: boolean;
  label?: string;
}

export interface MethodEntry {
  name: string;
  label: string;
  params: Record<string, ParamSchema>;
  primary?: string[]; // shown at once (engine/methods/disclosure.py); the rest fold behind "more…"
}

export interface TopEntry {
  index: number;
  name: string;
  score: number;
  score_kind: string; // "softmax probability", "sigmoid probability" (multi-label), "share of output pixels" (segmentation)
}

export interface HeatmapMeta {
  shape?: number[];
  request?: number;
  layer?: string;
  method?: string;
  target?: number;
  target_name?: string;
  blank?: boolean;
  min?: number; // the raw range of the map on screen (the colour bar)
  max?: number;
  mask_shape?: number[];
  compute_ms?: number;
  kernel_ms?: number;
  partial?: boolean; // a slow method's result so far (Smooth Grad-CAM++ after a batch)
  done?: number;
  total?: number;
}

export interface AtlasMeta {
  layer?: string;
  order?: number[];
  weights?: number[];
  tile?: number[]; // [th, tw]
  total?: number;
  weight_kind?: string;
}
