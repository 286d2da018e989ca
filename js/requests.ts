// Request ids: every selection the user makes carries a fresh id; Python answers each heatmap with
// the id of the state it computed. Replies are painted in order only (a reply older than what is
// on screen is stale and dropped), and the view is "pending" until the newest request is answered.
import type { Model } from "./types";

export class RequestTracker {
  latest = 0; // newest id this view sent
  painted = -1; // id of the heatmap on screen

  constructor(private model: Model) {
    const current = Number(model.get("request")) || 0;
    this.latest = current;
  }

  /** Set traits and a fresh request id in one message. */
  commit(changes: Record<string, unknown>): number {
    const id = Math.max(this.latest, Number(this.model.get("request")) || 0) + 1;
    this.latest = id;
    for (const [k, v] of Object.entries(changes)) this.model.set(k, v);
    this.model.set("request", id);
    this.model.save_changes();
    return id;
  }

  /** Whether a reply for `id` should be painted (not older than the one on screen). */
  accept(id: number | undefined): boolean {
    const rid = typeof id === "number" && Number.isFinite(id) ? id : 0;
    if (rid < this.painted) return false;
    this.painted = rid;
    return true;
  }

  /** True while the newest request has not been answered (Python sets `answered` after each
   * request it handled, whether it produced a heatmap or an error). */
  pending(): boolean {
    const latest = Math.max(this.latest, Number(this.model.get("request")) || 0);
    const answered = Number(this.model.get("answered"));
    return (Number.isFinite(answered) ? answered : latest) < latest;
  }
}
