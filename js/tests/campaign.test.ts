// A campaign's view: the widget's reveal game with the progress line, skip and undo around it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Window } from "happy-dom";
import { renderCampaign } from "../campaign";
import { FakeModel } from "./fake_model";

const GAME = { active: true, layer: "features.0", cluster: 1, cluster_id: "c1", weight: 0.5, shape: [2, 2],
  percent: [2, 4.5, 8, 13, 20, 30], choices: ["cat", "cup"], outcome: null, answer: null, item: "objects-0" };

test("the campaign view shows the round, the progress line and sends skip, undo and guesses", () => {
  const document = new Window().document as unknown as Document;
  const el = document.createElement("div");
  const model = new FakeModel({ game: GAME, reveal_map: new Uint8Array([255, 0, 0, 0]), reveal_step: 0,
    image: new Uint8Array(12), classes: ["cat", "cup"], progress: "round 1 of 4 for ana", status: "which class?", error: "" });
  const remove = renderCampaign({ model, el });
  const q = (id: string) => el.querySelector(`[data-testid=${id}]`) as unknown as HTMLElement;
  assert.equal(q("campaign-progress").textContent, "round 1 of 4 for ana");
  assert.equal(q("reveal-close"), null, "a campaign serves rounds: no close button");
  assert.equal(q("reveal-game").hidden, false);
  assert.equal(el.querySelectorAll("[data-testid=reveal-guess-select] option").length, 2);
  q("campaign-skip").click();
  q("campaign-undo").click();
  (q("reveal-text") as HTMLInputElement).value = "fur";
  q("reveal-guess").click();
  assert.deepEqual(model.calls.filter((c) => c[0] === "send").map((c) => c[1]),
    [{ action: "skip" }, { action: "undo" }, { action: "guess", guess: "cat", text: "fur" }]);
  model.kernelSets({ game: {}, reveal_map: new Uint8Array(0), progress: "4 rounds of 4 for ana", error: "undo: nothing to undo yet" });
  assert.equal(q("reveal-game").hidden, true, "no round left: the game is hidden");
  assert.equal((q("campaign-skip") as HTMLButtonElement).disabled, true);
  assert.equal(q("campaign-progress").textContent, "4 rounds of 4 for ana");
  assert.ok(q("error").textContent?.includes("nothing to undo"));
  remove();
});
