/**
 * Latest value per animation frame: a drag produces many values; only the newest reaches the
 * kernel, at most once a frame (DESIGN §4, "latest wins", throttled at the browser edge). The
 * first value after a quiet frame goes out at once (leading edge), so a drag's first move and a
 * discrete input never wait for a frame; values arriving within the same frame are held and the
 * newest is sent on the next one.
 */
export type Schedule = (fn: () => void) => void;

export const nextFrame: Schedule = (fn) =>
  typeof requestAnimationFrame === "function" ? requestAnimationFrame(() => fn()) : setTimeout(fn, 0);

export class LatestPerFrame<T> {
  private held: { value: T } | null = null;
  private scheduled = false;

  constructor(
    private send: (value: T) => void,
    private schedule: Schedule = nextFrame,
  ) {}

  /** Hold `value` as the newest; send it now (`immediate`, or the first in a quiet frame) or on
   * the next frame. */
  push(value: T, immediate = false): void {
    this.held = { value };
    if (immediate) {
      this.flush();
      return;
    }
    if (this.scheduled) return; // something went out this frame: the newest goes on the next
    this.flush();
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Whether a value is held and not sent yet. */
  get waiting(): boolean {
    return this.held !== null;
  }

  /** Send the held value, if any. */
  flush(): void {
    const held = this.held;
    this.held = null;
    if (held) this.send(held.value);
  }
}
