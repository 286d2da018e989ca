// A labelling campaign's view (Python half: camwidget/widget/campaign.py): the widget's reveal game
// (js/reveal.ts, the same `game` / `reveal_map` / `reveal_step` traits and moves) with what a
// campaign adds around it: the progress line ("round 12 of 270 for ana …"), skip and undo. The
// kernel hands out the rounds; after a guess or a give-up the next round follows at once, and the
// status line says how the last one ended.

import { RevealGame, revealUpdater } from "./reveal";
import { StatusBar } from "./status";
import type { Model } from "./types";

const TRAITS = ["game", "reveal_map", "reveal_step", "image", "classes", "progress", "status", "error"];

export function renderCampaign({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const doc = el.ownerDocument;
  const send = (content: Record<string, unknown>) => model.send?.(content);
  const game = new RevealGame(doc, send, { close: false });
  const status = new StatusBar(doc);
  const progress = doc.createElement("div");
  progress.className = "cw-campaign-progress";
  progress.setAttribute("data-testid", "campaign-progress");
  const button = (label: string, testid: string, action: string) => {
    const b = doc.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("data-testid", testid);
    b.addEventListener("click", () => send({ action }));
    return b;
  };
  const skip = button("Skip", "campaign-skip", "skip");
  const undo = button("Undo last", "campaign-undo", "undo");
  const bar = doc.createElement("div");
  bar.className = "cw-label-form";
  bar.append(progress, skip, undo);
  const root = doc.createElement("div");
  root.className = "cw-root cw-campaign";
  root.setAttribute("data-testid", "campaign");
  root.append(bar, game.el, status.el, status.errorEl);
  el.replaceChildren(root);

  const showRound = revealUpdater(game, model);
  const update = () => {
    const state = showRound();
    skip.disabled = !state.active;
    progress.textContent = String(model.get("progress") ?? "");
    status.setStatus(String(model.get("status") ?? ""), false);
    status.setError(String(model.get("error") ?? ""));
    root.dataset.item = String((state as Record<string, unknown>).item ?? "");
  };
  const handlers = TRAITS.map((name) => {
    const cb = () => update();
    model.on(`change:${name}`, cb);
    return [`change:${name}`, cb] as const;
  });
  update();
  return () => {
    for (const [event, cb] of handlers) model.off(event, cb);
  };
}

export default { render: renderCampaign };
