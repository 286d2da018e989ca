"""Browser benchmark: camwidget's interactions next to the floor, a do-nothing widget, one page and run.

Headless Chromium (Debian's) on JupyterLab on this machine, the default model on chelsea,
Grad-CAM++ (the widget's default). In the same notebook and run, **the floor**: a minimal anywidget
whose key press sets a trait, whose kernel observer answers with a 49-byte ``Bytes`` trait and
whose frontend paints a 7×7 canvas from it — the round trip through JupyterLab no widget can beat.
Timed with the page's own ``performance.now()`` marks, from the input event to the paint:

- layer-strip steps with the arrow keys, one at a time (first visits, then revisits), and the
  floor's key presses: medians, p95 and camwidget / floor;
- a method switch among cached gradient methods (Grad-CAM ↔ Grad-CAM++ at one layer);
- a drag along the strip and a region drag, one pointer move per animation frame: moves sent and
  answers painted per second.

    .venv/bin/python benchmarks/bench_widget.py [--steps 40] [--dump steps.json]

``--dump`` writes every step's timings (total, reply, paint, kernel, per layer) to find a tail.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
import lab  # noqa: E402

FLOOR_ESM = "export default { render({ model, el }) {\n  const c = document.createElement(\"canvas\"); c.width = 7; c.height = 7; c.tabIndex = 0;\n  c.dataset.testid = \"floor\"; c.style.width = \"70px\"; el.append(c);\n  const ctx = c.getContext(\"2d\");\n  c.addEventListener(\"keydown\", () => { model.set(\"step\", model.get(\"step\") + 1); model.save_changes(); });\n  model.on(\"change:heatmap\", () => {\n    const v = model.get(\"heatmap\");\n    const b = v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v.buffer ?? v);\n    const img = ctx.createImageData(7, 7);\n    for (let i = 0; i < 49; i++) { img.data[4 * i] = b[i]; img.data[4 * i + 3] = 255; }\n    ctx.putImageData(img, 0, 0);\n    c.dispatchEvent(new CustomEvent(\"floor:paint\", { detail: { step: b[0], t: performance.now() } }));\n  });\n} };\n"

CELLS = [
    "import camwidget as cw\nw = cw.explore()\nw",
    # The forward time of the same session, measured in the same kernel after the widget is up.
    "import json, time, torch\n"
    "w.wait(120)\n"
    "s = w.session\n"
    "times = []\n"
    "with torch.no_grad():\n"
    "    s.model(s.input)\n"
    "    for _ in range(15):\n"
    "        t0 = time.perf_counter(); s.model(s.input); times.append(time.perf_counter() - t0)\n"
    "print(json.dumps({'forward_ms': sorted(times)[len(times) // 2] * 1000, 'layers': len(s.layers)}))",
    # The floor: key press → trait → kernel observer → 49-byte Bytes trait → canvas painted.
    "import anywidget, traitlets\n"
    "class Floor(anywidget.AnyWidget):\n"
    "    _esm = " + repr(FLOOR_ESM) + "\n"
    "    step = traitlets.Int(0).tag(sync=True)\n"
    "    heatmap = traitlets.Bytes(b'').tag(sync=True)\n"
    "    @traitlets.observe('step')\n"
    "    def _answer(self, change):\n"
    "        self.heatmap = bytes((change.new + i) % 256 for i in range(49))\n"
    "floor = Floor()\n"
    "floor",
]

STEP_JS = """
async ([key, count]) => {
  const strip = document.querySelector('[data-testid=layer-strip]');
  const root = document.querySelector('.cw-root');
  const out = [];
  for (let i = 0; i < count; i++) {
    const before = strip.dataset.layer;
    const painted = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no paint within 30 s')), 30000);
      const onPaint = (ev) => {
        if (ev.detail.layer === strip.dataset.layer && strip.dataset.layer !== before) {
          clearTimeout(timer);
          root.removeEventListener('camwidget:paint', onPaint);
          resolve([ev.detail.received, ev.detail.t, Number(root.dataset.computeMs), Number(root.dataset.kernelMs)]);
        }
      };
      root.addEventListener('camwidget:paint', onPaint);
    });
    const t0 = performance.now();
    strip.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
    if (strip.dataset.layer === before) break;  // the end of the strip
    const [received, t1, compute, kernel] = await painted;
    out.push({layer: strip.dataset.layer, ms: t1 - t0, reply: received - t0, paint: t1 - received, compute, kernel});
  }
  return out;
}
"""


FLOOR_JS = """
async (count) => {
  const c = document.querySelector('[data-testid=floor]');
  const out = [];
  for (let i = 0; i < count; i++) {
    const painted = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('floor: no paint within 30 s')), 30000);
      const onPaint = (ev) => { clearTimeout(timer); c.removeEventListener('floor:paint', onPaint); resolve(ev.detail.t); };
      c.addEventListener('floor:paint', onPaint);
    });
    const t0 = performance.now();
    c.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
    out.push((await painted) - t0);
  }
  return out;
}
"""

# One pointer move per animation frame for `ms`, sweeping `points` back and forth; counts the
# frames, the paints and how many distinct requests were answered.
DRAG_JS = """
async ([selector, points, ms]) => {
  const el = document.querySelector(selector);
  const root = document.querySelector('.cw-root');
  const answered = new Set(); let paints = 0;
  const onPaint = (ev) => { paints += 1; answered.add(ev.detail.request); };
  root.addEventListener('camwidget:paint', onPaint);
  const ev = (type, [x, y]) => el.dispatchEvent(new PointerEvent(type, {
    clientX: x, clientY: y, bubbles: true, pointerId: 1, button: 0, buttons: 1, isPrimary: true}));
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  ev('pointerdown', points[0]);
  const t0 = performance.now(); let frames = 0, i = 0, dir = 1;
  while (performance.now() - t0 < ms) {
    await frame(); frames += 1;
    i += dir; if (i >= points.length - 1 || i <= 0) dir = -dir;
    ev('pointermove', points[Math.max(0, Math.min(points.length - 1, i))]);
  }
  ev('pointerup', points[Math.max(0, Math.min(points.length - 1, i))]);
  const elapsed = (performance.now() - t0) / 1000;
  const during = answered.size;
  await new Promise((r) => setTimeout(r, 1500));
  root.removeEventListener('camwidget:paint', onPaint);
  return {frames, elapsed, paints, answered: during};
}
"""

METHOD_JS = """
async (count) => {
  const select = document.querySelector('[data-testid=method-select]');
  const root = document.querySelector('.cw-root');
  const out = [];
  for (let i = 0; i < count; i++) {
    const want = select.value === 'gradcam' ? 'gradcam++' : 'gradcam';
    const painted = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no paint within 30 s')), 30000);
      const onPaint = () => {
        if (root.dataset.paintedMethod === want) {
          clearTimeout(timer); root.removeEventListener('camwidget:paint', onPaint); resolve(performance.now());
        }
      };
      root.addEventListener('camwidget:paint', onPaint);
    });
    const t0 = performance.now();
    select.value = want;
    select.dispatchEvent(new Event('change', {bubbles: true}));
    out.push((await painted) - t0);
  }
  return out;
}
"""

STOPS_JS = """
() => [...document.querySelectorAll('[data-testid=layer-strip] .cw-stop')].slice(-12).map((s) => {
  s.scrollIntoView({block: 'nearest', inline: 'nearest'});
  const r = s.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2];
})
"""

REGION_JS = """
() => { const r = document.querySelector('[data-testid=region-selector]').getBoundingClientRect();
        return [r.left, r.top, r.width, r.height]; }
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="strip steps per pass (at least 30)")
    parser.add_argument("--dump", default=None, help="write every step's timings (JSON) to this file")
    args = parser.parse_args()
    chromium = lab.chromium_path()
    if chromium is None:
        print("bench_widget: skipped, chromium is not installed (apt-get install chromium)")
        return 0
    steps = max(30, args.steps)
    with lab.opened_notebook(chromium, "bench.ipynb", CELLS) as (_server, page, nb, _page_errors):
        page.wait_for_function("() => Number(document.querySelector('.cw-root')?.dataset.paints) >= 1", timeout=120_000)
        info = json.loads(nb.run(1, timeout=300).strip().splitlines()[-1])
        nb.run(2, timeout=120)
        page.wait_for_selector("[data-testid=floor]", timeout=60_000)
        page.evaluate(FLOOR_JS, 5)  # warm-up
        floor = page.evaluate(FLOOR_JS, steps)
        page.locator("[data-testid=layer-strip]").focus()
        first = page.evaluate(STEP_JS, ["ArrowLeft", steps])
        again = page.evaluate(STEP_JS, ["ArrowRight", steps])
        floor += page.evaluate(FLOOR_JS, steps)  # the floor before and after camwidget's rows
        strip_drag = page.evaluate(DRAG_JS, ["[data-testid=layer-strip]", page.evaluate(STOPS_JS), 3000])
        x, y, w, h = page.evaluate(REGION_JS)
        points = [[x + 0.1 * w, y + 0.1 * h]] + [[x + (0.3 + 0.05 * i) * w, y + (0.3 + 0.05 * i) * h] for i in range(12)]
        region_drag = page.evaluate(DRAG_JS, ["[data-testid=region-selector]", points, 3000])
        page.evaluate(DRAG_JS, ["[data-testid=region-selector]", [[x + 2, y + 2]], 50])  # a click clears it
        page.evaluate(METHOD_JS, 4)  # both methods computed once at this layer: the rest are cached
        methods = page.evaluate(METHOD_JS, max(20, steps // 2))
        errors = nb.error_outputs()
    if errors:
        print("bench_widget: the notebook reported errors:\n" + "\n".join(errors))
        return 1
    if args.dump:
        Path(args.dump).write_text(json.dumps({"floor": floor, "first": first, "again": again, "methods": methods}))
    f_med, f_p95 = statistics.median(floor), pct(floor, 95)
    print(
        "bench_widget: input → answer painted; headless Chromium + JupyterLab, one page and run; "
        f"EfficientNet-Lite0 on chelsea ({info['layers']} layers), Grad-CAM++"
    )
    print(f"  {'floor: key → Bytes(49) → canvas':<30} n {len(floor):>3}  median {f_med:6.1f} ms  p95 {f_p95:6.1f} ms")
    for label, rows in (("layer step, first visit", first), ("layer step, revisit (cached)", again)):
        ms = [r["ms"] for r in rows]
        med, p95 = statistics.median(ms), pct(ms, 95)
        print(
            f"  {label:<30} n {len(ms):>3}  median {med:6.1f} ms  p95 {p95:6.1f} ms  = {med / f_med:.2f}× / "
            f"{p95 / f_p95:.2f}× the floor's  (medians: round trip {statistics.median(r['reply'] for r in rows):.1f} ms, "
            f"in the kernel {statistics.median(r['kernel'] for r in rows):.1f} ms, session.explain "
            f"{statistics.median(r['compute'] for r in rows):.1f} ms, paint {statistics.median(r['paint'] for r in rows):.1f} ms)"
        )
    med, p95 = statistics.median(methods), pct(methods, 95)
    print(f"  {'method switch, cached':<30} n {len(methods):>3}  median {med:6.1f} ms  p95 {p95:6.1f} ms  "
          f"= {med / f_med:.2f}× / {p95 / f_p95:.2f}× the floor's")
    for label, d in (("drag along the strip", strip_drag), ("region drag", region_drag)):
        print(f"  {label:<30} {d['elapsed']:.1f} s: {d['frames'] / d['elapsed']:5.1f} moves/s sent (one a frame), "
              f"{d['answered'] / d['elapsed']:5.1f} answers/s painted")
    print(f"  no-grad forward, same session: median {info['forward_ms']:.1f} ms")
    print("  (targets: a step's median <= 1.3× the floor's, its p95 <= 1.5× the floor's p95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
