"""Browser benchmark: a step of the layer strip → the new heatmap painted on the canvas.

Headless Chromium (Debian's) on JupyterLab on this machine, the default model on chelsea,
Grad-CAM++ (the widget's default): the page steps the strip with the arrow keys (one step at a
time, waiting for the paint) and times each step from the key press to the canvas paint that
shows the new layer, with the frontend's own performance.now() marks. Printed next to the same
session's no-grad forward time, measured in the same kernel.

    .venv/bin/python benchmarks/bench_widget.py [--steps 40]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
import lab  # noqa: E402

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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="strip steps per pass (at least 30)")
    args = parser.parse_args()
    chromium = lab.chromium_path()
    if chromium is None:
        print("bench_widget: skipped, chromium is not installed (apt-get install chromium)")
        return 0
    with lab.opened_notebook(chromium, "bench.ipynb", CELLS) as (_server, page, nb, _page_errors):
        page.wait_for_function("() => Number(document.querySelector('.cw-root')?.dataset.paints) >= 1", timeout=120_000)
        info = json.loads(nb.run(1, timeout=300).strip().splitlines()[-1])
        page.locator("[data-testid=layer-strip]").focus()
        steps = max(30, args.steps)
        first = page.evaluate(STEP_JS, ["ArrowLeft", steps])
        again = page.evaluate(STEP_JS, ["ArrowRight", steps])
        errors = nb.error_outputs()
    if errors:
        print("bench_widget: the notebook reported errors:\n" + "\n".join(errors))
        return 1
    forward = info["forward_ms"]
    print(
        f"bench_widget: layer-strip step → heatmap painted; headless Chromium + JupyterLab, "
        f"EfficientNet-Lite0 on chelsea ({info['layers']} layers), Grad-CAM++"
    )
    for label, rows in (("first visit of each layer", first), ("revisit (cached layer)", again)):
        ms = [r["ms"] for r in rows]
        med, p95 = statistics.median(ms), pct(ms, 95)
        reply = statistics.median(r["reply"] for r in rows)
        paint = statistics.median(r["paint"] for r in rows)
        compute = statistics.median(r["compute"] for r in rows)
        kernel = statistics.median(r["kernel"] for r in rows)
        print(
            f"  {label:<27} steps {len(ms):>3}  median {med:7.1f} ms  p95 {p95:7.1f} ms  "
            f"= {med / forward:.2f}× forward  (medians: round trip {reply:.1f} ms, in the kernel "
            f"{kernel:.1f} ms, session.explain {compute:.1f} ms; paint {paint:.1f} ms)"
        )
    print(f"  no-grad forward, same session: median {forward:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
