// Binary traits arrive as DataView (ipywidgets 8), ArrayBuffer or a typed array depending on the
// host; normalise them to a Uint8Array view without copying.

export function asBytes(value: unknown): Uint8Array {
  if (value == null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    const v = value as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  // Some hosts hand over {buffer: ArrayBuffer}.
  const maybe = value as { buffer?: unknown };
  if (maybe && maybe.buffer instanceof ArrayBuffer) return new Uint8Array(maybe.buffer);
  return new Uint8Array(0);
}

/** A 2-D shape [h, w] (or longer, using the first two) that matches `n` bytes × `channels`, else null. */
export function checkShape(shape: unknown, n: number, channels = 1): [number, number] | null {
  if (!Array.isArray(shape) || shape.length < 2) return null;
  const h = Number(shape[0]);
  const w = Number(shape[1]);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) return null;
  if (h * w * channels !== n) return null;
  return [h, w];
}
