// The reveal game ("Deep Reveal"): the image seen only through a cluster's top 2 % of pixels, then
// 4.5, 8, 13, 20, 30 % as the player asks for more. The kernel sends the cluster's map once per
// round (uint8 at display size); the threshold per step is computed here exactly as
// camwidget.widget.wire.reveal_threshold does. Actions (more, guess, give up) go to the kernel, which
// records them in the label store; the game state comes back in the `game` trait.

import { asBytes } from "./bytes";
import type { PanelFactory } from "./panel";
import type { Model } from "./types";
import { MAX_TEXT, REVEAL_PERCENT } from "./shared";

export { REVEAL_PERCENT };

export interface GameState {
  active?: boolean;
  layer?: string;
  cluster?: number;
  cluster_id?: string;
  weight?: number;
  shape?: number[];
  percent?: number[];
  choices?: string[];
  outcome?: string | null;
  answer?: string | null;
  guess?: string | number | null;
}

/** The uint8 level t such that pixels ≥ t are (at least) the top `percent` % of `values`. */
export function revealThreshold(values: Uint8Array, percent: number): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < values.length; i++) counts[values[i]]++;
  const want = Math.max(1, Math.ceil((values.length * percent) / 100));
  let seen = 0;
  for (let t = 255; t >= 0; t--) {
    seen += counts[t];
    if (seen >= want) return t;
  }
  return 0;
}

/** RGBA pixels of `image` (RGB) where `values` ≥ `threshold`, a dark backdrop elsewhere. */
export function revealPixels(image: Uint8Array, values: Uint8Array, threshold: number): Uint8ClampedArray {
  const n = values.length;
  const out = new Uint8ClampedArray(n * 4);
  const full = image.length >= n * 3;
  for (let i = 0; i < n; i++) {
    const shown = values[i] >= threshold && full;
    out[i * 4] = shown ? image[i * 3] : 28;
    out[i * 4 + 1] = shown ? image[i * 3 + 1] : 28;
    out[i * 4 + 2] = shown ? image[i * 3 + 2] : 34;
    out[i * 4 + 3] = 255;
  }
  return out;
}

export type GameAction = Record<string, unknown> & { action: string };

export interface RevealOptions {
  /** Show the "Close game" button (the widget's game; a campaign serves rounds until none is left). */
  close?: boolean;
}

export class RevealGame {
  readonly el: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private info: HTMLElement;
  private more: HTMLButtonElement;
  private select: HTMLSelectElement;
  private byName: HTMLInputElement;
  private names: HTMLDataListElement;
  private text: HTMLInputElement;
  private result: HTMLElement;
  private controls: HTMLElement[] = [];
  private game: GameState = {};
  private step = 0;
  private map: Uint8Array = new Uint8Array(0);
  private image: Uint8Array = new Uint8Array(0);
  private static lists = 0;

  constructor(doc: Document, private send: (action: GameAction) => void, options: RevealOptions = {}) {
    this.el = doc.createElement("div");
    this.el.className = "cw-game";
    this.el.setAttribute("data-testid", "reveal-game");
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "cw-heatmap cw-reveal";
    this.canvas.setAttribute("data-testid", "reveal-canvas");
    this.info = doc.createElement("div");
    this.info.className = "cw-game-info";
    this.info.setAttribute("data-testid", "reveal-step");
    const button = (label: string, testid: string, onClick: () => void) => {
      const b = doc.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.setAttribute("data-testid", testid);
      b.addEventListener("click", onClick);
      return b;
    };
    this.more = button("Reveal more", "reveal-more", () => this.send({ action: "more" }));
    this.select = doc.createElement("select");
    this.select.setAttribute("aria-label", "Guess");
    this.select.setAttribute("data-testid", "reveal-guess-select");
    this.byName = doc.createElement("input");
    this.byName.type = "text";
    this.byName.placeholder = "…or any class by name";
    this.byName.setAttribute("aria-label", "Guess by name");
    this.byName.setAttribute("data-testid", "reveal-guess-name");
    this.names = doc.createElement("datalist");
    this.names.id = `cw-reveal-classes-${++RevealGame.lists}`;
    this.byName.setAttribute("list", this.names.id);
    this.text = doc.createElement("input");
    this.text.type = "text";
    this.text.maxLength = MAX_TEXT;
    this.text.placeholder = "what do you see? (characteristics)";
    this.text.setAttribute("aria-label", "Characteristics");
    this.text.setAttribute("data-testid", "reveal-text");
    const guess = button("Guess", "reveal-guess", () =>
      this.send({ action: "guess", guess: this.byName.value.trim() || this.select.value, text: this.text.value }),
    );
    const giveUp = button("Give up", "reveal-give-up", () => this.send({ action: "give-up", text: this.text.value }));
    const close = button("Close game", "reveal-close", () => this.send({ action: "end" }));
    this.result = doc.createElement("div");
    this.result.className = "cw-game-result";
    this.result.setAttribute("data-testid", "reveal-result");
    this.controls = [this.more, this.select, this.byName, this.text, guess, giveUp];
    const row1 = doc.createElement("div");
    row1.className = "cw-label-form";
    row1.append(this.info, this.more);
    const row2 = doc.createElement("div");
    row2.className = "cw-label-form";
    row2.append(this.select, this.byName, this.names);
    const row3 = doc.createElement("div");
    row3.className = "cw-label-form";
    row3.append(this.text, guess, giveUp);
    if (options.close ?? true) row3.append(close);
    this.el.append(this.canvas, row1, row2, row3, this.result);
  }

  setImage(image: Uint8Array): void {
    this.image = image;
    this.paint();
  }

  setClasses(names: string[] | null): void {
    const doc = this.el.ownerDocument;
    this.names.replaceChildren(
      ...(names ?? []).map((n) => {
        const o = doc.createElement("option");
        o.value = n;
        return o;
      }),
    );
  }

  setGame(game: GameState, map: Uint8Array, step: number): void {
    const doc = this.el.ownerDocument;
    const choicesChanged = JSON.stringify(game.choices ?? []) !== JSON.stringify(this.game.choices ?? []);
    const newRound = game.cluster_id !== this.game.cluster_id || game.layer !== this.game.layer || (!game.outcome && Boolean(this.game.outcome));
    this.game = game ?? {};
    this.map = map;
    this.step = Math.max(0, Math.min(REVEAL_PERCENT.length - 1, Math.floor(Number(step) || 0)));
    if (choicesChanged) {
      this.select.replaceChildren(
        ...(game.choices ?? []).map((name) => {
          const o = doc.createElement("option");
          o.value = name;
          o.textContent = name;
          return o;
        }),
      );
    }
    if (newRound) {
      this.text.value = "";
      this.byName.value = "";
    }
    const over = Boolean(game.outcome);
    for (const c of this.controls) (c as HTMLInputElement).disabled = over;
    this.more.disabled = over || this.step >= REVEAL_PERCENT.length - 1;
    const percent = (game.percent ?? REVEAL_PERCENT)[this.step];
    this.info.textContent = `Cluster #${game.cluster ?? "?"} of ${game.layer ?? "?"} · step ${this.step} of ${REVEAL_PERCENT.length - 1} · ${percent} % of pixels`;
    this.el.dataset.step = String(this.step);
    this.el.dataset.outcome = game.outcome ?? "";
    const verdict: Record<string, string> = { win: "Right! ", loss: "Not quite. ", "give-up": "Given up. " };
    this.result.textContent = over ? `${verdict[game.outcome as string] ?? ""}It was ${game.answer ?? "?"} (recorded at step ${this.step}).` : "";
    this.paint();
  }

  private paint(): void {
    const [h, w] = this.game.shape ?? [0, 0];
    if (!h || !w || this.map.length !== h * w) return;
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    const ctx = this.canvas.getContext("2d");
    if (!ctx || typeof ImageData === "undefined") return;
    const percent = (this.game.percent ?? REVEAL_PERCENT)[this.step];
    // After the round, the whole image: the player sees what the cluster was looking at.
    const t = this.game.outcome ? 0 : revealThreshold(this.map, percent);
    const px = revealPixels(this.image, this.map, t);
    ctx.putImageData(new ImageData(px as unknown as Uint8ClampedArray<ArrayBuffer>, w, h), 0, 0);
  }
}

/** A function that shows the model's round in `view` (the image and the class names only when
 * they changed) and returns the round; the reveal panel and a campaign's view both use it. */
export function revealUpdater(view: RevealGame, model: Model): () => GameState {
  let image: unknown = null;
  let classes: unknown = null;
  return () => {
    if (model.get("image") !== image) {
      image = model.get("image");
      view.setImage(asBytes(image));
    }
    if (model.get("classes") !== classes) {
      classes = model.get("classes");
      view.setClasses((classes as string[] | null) ?? null);
    }
    const game: GameState = model.get("game") ?? {};
    view.setGame(game, asBytes(model.get("reveal_map")), Number(model.get("reveal_step") ?? 0));
    view.el.hidden = !game.active;
    return game;
  };
}

/** The reveal game panel: shown while a round is on (Python half: camwidget/widget/reveal.py). */
export const revealPanel: PanelFactory = ({ doc, model, send }) => {
  const view = new RevealGame(doc, (action) => send({ kind: "game", ...action }));
  const update = revealUpdater(view, model);
  return {
    el: view.el,
    traits: ["game", "reveal_map", "reveal_step", "image", "classes"],
    update() {
      update();
    },
  };
};
