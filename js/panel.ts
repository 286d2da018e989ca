// What a panel is on the browser side: one TypeScript module exporting a `PanelFactory`,
// registered with one line in js/panels.ts (its Python half is camwidget/widget/<name>.py,
// registered in camwidget/widget/panels.py). See docs/develop.md, "Adding a panel".
import type { Model } from "./types";

/** What the host view gives a panel. */
export interface PanelHost {
  doc: Document;
  model: Model;
  /** Change the selection (layer, method, target, channels, region, params): the traits and a
   * fresh request id go out in one message, and the status line says the view is waiting. */
  commit(changes: Record<string, unknown>): void;
  /** Send an action to the kernel (`{kind, ...}`; the kind is registered by the Python panel). */
  send(content: Record<string, unknown>): void;
}

/** A mounted panel. */
export interface Panel {
  /** Its element, placed in the view's main area (hide it with `el.hidden`). */
  el: HTMLElement;
  /** The model traits it shows: `update()` runs once at start and after any of them changes. */
  traits: string[];
  /** Read the model and redraw. */
  update(): void;
  /** Called when the view is removed. */
  destroy?(): void;
}

export type PanelFactory = (host: PanelHost) => Panel;
