// A fake anywidget model: get/set/on/off/save_changes/send, recording every call.
import type { Callback, Model } from "../types";

export type Call = [string, ...unknown[]];

export class FakeModel implements Model {
  calls: Call[] = [];
  private handlers = new Map<string, Set<Callback>>();

  constructor(public state: Record<string, unknown> = {}) {}

  get(name: string): any {
    return this.state[name];
  }
  set(name: string, value: unknown): void {
    this.calls.push(["set", name, value]);
    this.state[name] = value;
  }
  on(event: string, cb: Callback): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }
  off(event?: string | null, cb?: Callback | null): void {
    if (!event) this.handlers.clear();
    else if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }
  save_changes(): void {
    this.calls.push(["save_changes"]);
  }
  send(content: unknown): void {
    this.calls.push(["send", content]);
  }

  /** What the kernel does: set traits, then fire their change events. */
  kernelSets(changes: Record<string, unknown>): void {
    Object.assign(this.state, changes);
    for (const k of Object.keys(changes)) for (const cb of this.handlers.get(`change:${k}`) ?? []) cb();
  }

  listeners(): number {
    let n = 0;
    for (const s of this.handlers.values()) n += s.size;
    return n;
  }

  /** The traits set since the last `clear()`, and how many messages went out. */
  sets(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const c of this.calls) if (c[0] === "set") out[c[1] as string] = c[2];
    return out;
  }
  saves(): number {
    return this.calls.filter((c) => c[0] === "save_changes").length;
  }
  clear(): void {
    this.calls = [];
  }
}
