// camwidget's frontend entry point: builds the view from the small modules and wires them to the
// anywidget model. Every user selection goes out through one `commit` (traits + a fresh request
// id, one message); everything the kernel sends comes in through `change:` events, each handler
// bound once (`bind` runs it at start and on change). The panels of js/panels.ts (feature maps,
// clusters, reveal game) mount themselves through the same host; see docs/develop.md.
import { asBytes } from "./bytes";
import { COLORMAPS } from "./colormaps";
import { Overlay } from "./overlay";
import { LayerStrip } from "./layer_strip";
import { RegionSelector } from "./region";
import { ClassPicker } from "./class_picker";
import { DragMode } from "./drag_mode";
import { MethodPicker } from "./method_picker";
import { StatusBar } from "./status";
import { ColorBar } from "./colorbar";
import { RequestTracker } from "./requests";
import type { PanelHost } from "./panel";
import { PANELS } from "./panels";
import type { GameState } from "./reveal";
import type { Callback, HeatmapMeta, LayerEntry, Model } from "./types";

export interface PaintMark {
  request: number;
  layer: string | undefined;
  t: number; // when the canvas was painted (performance.now())
  received: number; // when the reply that was painted arrived
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

function gridOf(layers: LayerEntry[], name: string): [number, number] | null {
  const shape = layers.find((l) => l.name === name)?.shape;
  if (!shape || shape.length < 3) return null;
  return [shape[shape.length - 2], shape[shape.length - 1]];
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const doc = el.ownerDocument;
  const tracker = new RequestTracker(model);
  const handlers: Array<[string, Callback]> = [];
  // While a commit sets its traits, the handlers those changes fire are held and run once each
  // after its message has gone: the request leaves before any redraw (a strip step's redraws
  // took ~2 ms of a key press before the send).
  let held: Set<Callback> | null = null;
  const on = (events: string, cb: Callback) => {
    const run: Callback = (...args) => (held ? held.add(cb) : cb(...args));
    for (const ev of events.split(" ")) {
      model.on(ev, run);
      handlers.push([ev, run]);
    }
  };
  const commit = (changes: Record<string, unknown>) => {
    held = new Set();
    try {
      tracker.commit(changes);
    } finally {
      const later = held;
      held = null;
      later.add(refreshStatus); // "computing…" (once, if the request's own handler holds it too)
      for (const cb of later) cb();
    }
  };
  /** Run `fn` now and whenever one of `traits` changes (one wiring per handler). */
  const bind = (traits: string[], fn: () => void) => {
    on(traits.map((t) => `change:${t}`).join(" "), fn);
    fn();
  };
  const layers = (): LayerEntry[] => model.get("layers") ?? [];

  // ---- modules ---------------------------------------------------------------------------------
  const status = new StatusBar(doc);
  const overlay = new Overlay(doc);
  const colorbar = new ColorBar(doc);
  const region = new RegionSelector(doc, (r) => {
    commit({ region: r });
  });
  // A segmentation model: a second selector on the output map's pixels (target_box), and the
  // toggle that says which of the two a drag sets.
  const outputBox = new RegionSelector(doc, (box) => {
    commit({ target_box: box });
  }, undefined, {
    testid: "output-box-selector",
    title: "Drag a box of the output map: explain the class's score summed over it; click to clear",
    stroke: "#ffd400",
  });
  const dragMode = new DragMode(doc, (mode) => {
    region.setActive(mode === "neurons");
    outputBox.setActive(mode === "output");
  });
  outputBox.setActive(false);
  const fusing = () => (model.get("fuse_layers") ?? []).length > 0;
  const strip = new LayerStrip(
    doc,
    (name) => {
      // A plain step ends a fusion (also on the stop already current); the region selector
      // follows from the held layer and region handlers.
      commit({ layer: name, region: null, channels: null, ...(fusing() ? { fuse_layers: [] } : {}) });
    },
    undefined,
    (names, layer) => {
      region.setGrid(gridOf(layers(), layer));
      region.setRegion(null);
      commit(names.length ? { fuse_layers: names } : { layer, fuse_layers: [], region: null, channels: null });
    },
  );
  // LayerCAM's tanh scaling of the fused maps (shown while layers are fused).
  const gammaBox = doc.createElement("input");
  gammaBox.type = "checkbox";
  gammaBox.setAttribute("data-testid", "fuse-gamma");
  gammaBox.title = "LayerCAM's scaling tanh(2 · M / max M) of each map before fusing (lifts shallow layers)";
  gammaBox.addEventListener("change", () => {
    commit({ fuse_gamma: gammaBox.checked ? 2 : null });
  });
  const gammaLabel = doc.createElement("label");
  gammaLabel.className = "cw-fuse-gamma";
  const gammaText = doc.createElement("span");
  gammaText.textContent = "tanh scaling (LayerCAM)";
  gammaLabel.append(gammaBox, gammaText);
  gammaLabel.hidden = true;
  strip.box.insertBefore(gammaLabel, strip.el);
  const classes = new ClassPicker(doc, (target) => {
    commit({ target });
  });
  const methods = new MethodPicker(
    doc,
    (method) => {
      commit({ method, params: {} });
    },
    (params) => {
      commit({ params });
    },
  );

  // The panels (feature maps, clusters, reveal game): actions go to the kernel as custom messages.
  const host: PanelHost = {
    doc,
    model,
    commit: (changes) => {
      commit(changes);
    },
    send: (content) => model.send?.(content),
  };
  const panels = PANELS.map((make) => make(host));
  let lastMethod = "gradcam++";
  const tabs = doc.createElement("div");
  tabs.className = "cw-tabs";
  tabs.setAttribute("role", "tablist");
  const tab = (text: string, testid: string, onClick: () => void) => {
    const b = doc.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("role", "tab");
    b.setAttribute("data-testid", testid);
    b.addEventListener("click", onClick);
    tabs.append(b);
    return b;
  };
  const mapsTab = tab("Feature maps", "tab-maps", () => {
    if (model.get("method") !== "inv") return;
    commit({ method: lastMethod, params: {} });
  });
  const clustersTab = tab("Clusters", "tab-clusters", () => {
    if (model.get("method") === "inv") return;
    commit({ method: "inv", params: { cluster: 0 } });
  });

  // View-only controls: they set synced traits but never a request id, so no kernel work.
  const cmap = doc.createElement("select");
  cmap.setAttribute("data-testid", "colormap-select");
  cmap.setAttribute("aria-label", "Colormap");
  for (const name of COLORMAPS) {
    const o = doc.createElement("option");
    o.value = name;
    o.textContent = name;
    cmap.append(o);
  }
  cmap.addEventListener("change", () => {
    model.set("colormap", cmap.value);
    model.save_changes();
    applyView();
  });
  const opacity = doc.createElement("input");
  opacity.type = "range";
  opacity.min = "0";
  opacity.max = "1";
  opacity.step = "0.01";
  opacity.setAttribute("data-testid", "opacity");
  opacity.setAttribute("aria-label", "Opacity");
  opacity.addEventListener("input", () => {
    model.set("opacity", Number(opacity.value));
    model.save_changes();
    applyView();
  });
  const viewLabel = (text: string, control: HTMLElement, after = false) => {
    const l = doc.createElement("label");
    const s = doc.createElement("span");
    s.textContent = text;
    if (after) l.append(control, s);
    else l.append(s, control);
    return l;
  };
  // Segment methods (SeCAM, LIME): boundaries and dimming of the unselected segments, view-only.
  const checkbox = (testid: string, trait: string, title: string) => {
    const box = doc.createElement("input");
    box.type = "checkbox";
    box.setAttribute("data-testid", testid);
    box.title = title;
    box.addEventListener("change", () => {
      model.set(trait, box.checked);
      model.save_changes();
      applyView();
    });
    return box;
  };
  const outline = checkbox("outline-toggle", "outline", "Draw the segment boundaries");
  const hideRest = checkbox("hide-rest-toggle", "hide_rest", "Dim everything outside the selected segments");
  const segmentControls = [
    viewLabel("Outline", outline, true),
    viewLabel("Hide rest", hideRest, true),
  ];
  for (const l of segmentControls) {
    l.classList.add("cw-segment-view");
    l.hidden = true;
  }

  // ---- layout ----------------------------------------------------------------------------------
  const root = doc.createElement("div");
  root.className = "cw-root";
  const toolbar = doc.createElement("div");
  toolbar.className = "cw-toolbar";
  toolbar.append(methods.el, classes.el, dragMode.el);
  // The view-only controls sit with the colour bar they change.
  colorbar.controls.append(viewLabel("Colormap", cmap), viewLabel("Opacity", opacity), ...segmentControls);
  const stage = doc.createElement("div");
  stage.className = "cw-stage";
  stage.append(overlay.canvas, region.canvas, outputBox.canvas);
  const figure = doc.createElement("div");
  figure.className = "cw-figure";
  figure.append(stage, colorbar.el);
  const main = doc.createElement("div");
  main.className = "cw-main";
  main.append(figure, ...panels.map((p) => p.el));
  root.append(toolbar, tabs, main, strip.box, status.el, status.errorEl);
  el.replaceChildren(root);

  // ---- model → view ----------------------------------------------------------------------------
  let paints = 0;
  overlay.onPaint = () => {
    const meta: HeatmapMeta = model.get("heatmap_meta") ?? {};
    const mark: PaintMark = { request: Number(meta.request ?? 0), layer: meta.layer, t: now(), received };
    paints += 1;
    root.dataset.paints = String(paints);
    root.dataset.paintedLayer = meta.layer ?? "";
    root.dataset.paintedMethod = meta.method ?? "";
    root.dataset.paintedRequest = String(mark.request);
    root.dataset.computeMs = String(meta.compute_ms ?? "");
    root.dataset.kernelMs = String(meta.kernel_ms ?? "");
    const g = globalThis as unknown as { __camwidgetPaints?: PaintMark[] };
    (g.__camwidgetPaints ??= []).push(mark);
    if (g.__camwidgetPaints.length > 1000) g.__camwidgetPaints.splice(0, 500);
    if (typeof CustomEvent === "function") root.dispatchEvent(new CustomEvent("camwidget:paint", { detail: mark }));
  };

  const applyView = () => {
    const name = String(model.get("colormap") ?? "jet");
    const alpha = Number(model.get("opacity") ?? 0.5);
    const showOutline = model.get("outline") ?? true;
    const dimRest = model.get("hide_rest") ?? true;
    cmap.value = name;
    opacity.value = String(alpha);
    outline.checked = Boolean(showOutline);
    hideRest.checked = Boolean(dimRest);
    overlay.setView(alpha, name, Boolean(showOutline), Boolean(dimRest));
    colorbar.setView(name, alpha);
  };

  const applyImage = () => {
    const err = overlay.setImage(asBytes(model.get("image")), model.get("image_shape"));
    const [h, w] = overlay.size;
    region.setSize(h, w);
    outputBox.setSize(h, w);
    if (h && w) root.style.setProperty("--cw-aspect", String(w / h)); // the layout sizes the image by its height too
    if (err) status.setError(err);
  };

  let paintQueued = false;
  let received = 0;
  const applyHeatmap = () => {
    paintQueued = false;
    const meta: HeatmapMeta = model.get("heatmap_meta") ?? {};
    if (!tracker.accept(meta.request)) return; // stale: older than what is on screen
    root.dataset.shownRequest = String(meta.request ?? 0);
    const err = overlay.setHeatmap({
      bytes: asBytes(model.get("heatmap")),
      shape: meta.shape,
      mask: asBytes(model.get("mask")),
      maskShape: meta.mask_shape,
      blank: Boolean(meta.blank),
    });
    if (err) status.setError(err);
    colorbar.setMeta(meta);
    // Outline and hide-rest apply only to answers that carry a segment mask.
    for (const l of segmentControls) l.hidden = !overlay.hasMask;
    refreshStatus();
  };
  // Several traits of one reply arrive in one message; paint once after all of them are set.
  const queueHeatmap = () => {
    if (paintQueued) return;
    received = now();
    paintQueued = true;
    Promise.resolve().then(applyHeatmap);
  };

  const applyLayers = () => {
    strip.setLayers(layers());
    applyLayer();
    strip.setFused(model.get("fuse_layers") ?? []);
  };
  const applyLayer = () => {
    const name = String(model.get("layer") ?? "");
    strip.setLayer(name);
    region.setGrid(gridOf(layers(), name));
    region.setRegion(model.get("region"));
  };

  const refreshStatus = () => {
    const busy = Boolean(model.get("busy")) || tracker.pending();
    const text = String(model.get("status") ?? "");
    status.setStatus(busy && !model.get("busy") ? `${text} · computing…` : text, busy);
    status.setProgress(Number(model.get("progress") ?? -1), Boolean(model.get("busy")));
  };

  // Which view shows: the clusters view while the method is INV, the game while a round is on
  // (each panel hides itself; the core hides the stage and the class picker during a round).
  const applyMode = () => {
    const method = String(model.get("method") ?? "");
    if (method && method !== "inv") lastMethod = method;
    const inv = method === "inv";
    const g: GameState = model.get("game") ?? {};
    const playing = Boolean(g.active);
    figure.hidden = playing;
    classes.el.hidden = playing; // the class picker would give the answer away
    mapsTab.setAttribute("aria-selected", String(!inv));
    clustersTab.setAttribute("aria-selected", String(inv));
    root.dataset.view = playing ? "game" : inv ? "clusters" : "maps";
  };

  bind(["image", "image_shape"], applyImage);
  bind(["opacity", "colormap", "outline", "hide_rest"], applyView);
  bind(["layers"], applyLayers);
  bind(["layer"], applyLayer);
  bind(["fuse_layers", "fuse_gamma"], () => {
    strip.setFused(model.get("fuse_layers") ?? []);
    gammaLabel.hidden = !fusing();
    gammaBox.checked = model.get("fuse_gamma") != null;
  });
  bind(["region"], () => region.setRegion(model.get("region")));
  bind(["output_shape"], () => {
    const shape = model.get("output_shape");
    const grid = Array.isArray(shape) && shape.length === 2 ? ([Number(shape[0]), Number(shape[1])] as [number, number]) : null;
    outputBox.setGrid(grid);
    outputBox.setRegion(model.get("target_box"));
    dragMode.setAvailable(grid !== null);
  });
  bind(["target_box"], () => outputBox.setRegion(model.get("target_box")));
  bind(["classes"], () => classes.setClasses(model.get("classes") ?? null));
  bind(["top"], () => classes.setTop(model.get("top") ?? []));
  bind(["target"], () => classes.setTarget(model.get("target")));
  bind(["methods"], () => methods.setMethods(model.get("methods") ?? []));
  bind(["method", "params"], () => methods.setMethod(String(model.get("method") ?? ""), model.get("params")));
  bind(["method", "params", "game"], applyMode);
  for (const p of panels) bind(p.traits, () => p.update());
  bind(["error"], () => status.setError(String(model.get("error") ?? "")));
  on("change:heatmap change:heatmap_meta change:mask", queueHeatmap);
  applyHeatmap();
  bind(["status", "busy", "progress", "answered", "request"], refreshStatus);

  return () => {
    for (const [ev, cb] of handlers) model.off(ev, cb);
    for (const p of panels) p.destroy?.();
  };
}

// anywidget takes the default export only (a named `render` export is deprecated).
export default { render };
