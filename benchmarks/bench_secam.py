"""SeCAM vs the `lime` package (its defaults) and vs camwidget's own LIME, default model, five images.

One run, same machine, ratios printed. Each side does everything from the RGB image:

- SeCAM: a fresh ``Session`` (its one forward with hooks) + ``explain("secam")`` with its defaults
  (SLIC, 50 segments, k = 5): median of ``--repeats`` cold runs. Also with quickshift (LIME's
  segments), for a like-for-like line.
- the `lime` package: ``LimeImageExplainer().explain_instance(image, classifier_fn)`` with every
  default (quickshift 4/200/0.2, 1000 samples, batch_size 10, top_labels 5), ``classifier_fn`` =
  the session's preprocess per image + a no-grad forward + softmax. Once per image (~1000 forwards).
- camwidget's LIME: a fresh ``Session`` + ``explain("lime")`` (quickshift, 1000 samples, batched).
  Once per image.

    .venv/bin/python benchmarks/bench_secam.py                 # all five images
    .venv/bin/python benchmarks/bench_secam.py --images chelsea --lime-samples 300
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import camwidget as cw  # noqa: E402
from common import median_seconds  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", default=list(cw.samples.NAMES))
    parser.add_argument("--repeats", type=int, default=3, help="cold SeCAM runs per image (median)")
    parser.add_argument("--lime-samples", type=int, default=1000, help="num_samples for both LIMEs (default = LIME's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from lime import lime_image

    model, preprocess, classes = cw.models.default()
    # Once per process, untimed below and printed so nothing is hidden: numba loads SLIC's compiled
    # kernels (compiles them on a machine's first run); the model's first passes build its
    # channels-last copy and oneDNN's kernels. A cold SeCAM below is a new Session on a new image
    # in a process that has run the model before — what a notebook's second image costs.
    from camwidget.engine import slic
    warm_slic, _ = timed(lambda: slic.slic(cw.samples.load("chelsea")[:32, :32], 4))
    stand_in = np.ascontiguousarray(cw.samples.load("chelsea")[::-1])  # not one of the timed images
    warm_model, _ = timed(lambda: [cw.Session(model, stand_in, preprocess=preprocess, classes=classes).explain("secam")
                                   for _ in range(2)])
    print(f"process warm-up (untimed below): SLIC kernels loaded in {warm_slic * 1000:.0f} ms "
          f"(compiled: {slic.available()}, {slic.threads()} threads); the model's first two SeCAMs "
          f"(an upside-down chelsea) {warm_model * 1000:.0f} ms", flush=True)
    started = time.perf_counter()

    def classifier_fn(images: np.ndarray) -> np.ndarray:
        x = torch.cat([preprocess(image) for image in images])
        with torch.no_grad():
            return torch.softmax(model(x), dim=1).numpy()

    rows = []
    for name in args.images:
        image = cw.samples.load(name)
        x = preprocess(image)

        def forward(x=x):
            with torch.no_grad():
                model(x)

        fwd = median_seconds(forward, repeats=5)

        def secam(segmenter, image=image):
            return lambda: cw.Session(model, image, preprocess=preprocess, classes=classes).explain(
                "secam", segmenter=segmenter)

        secam_s = median_seconds(secam("slic"), repeats=args.repeats, warmup=0)
        secam_q = median_seconds(secam("quickshift"), repeats=args.repeats, warmup=0)
        package_s, explanation = timed(lambda image=image: lime_image.LimeImageExplainer().explain_instance(
            image, classifier_fn, num_samples=args.lime_samples))
        ours_s, ours = timed(lambda image=image: cw.Session(model, image, preprocess=preprocess, classes=classes).explain(
            "lime", n_samples=args.lime_samples))
        row = dict(image=name, size=f"{image.shape[1]}×{image.shape[0]}", forward=fwd, secam=secam_s,
                   secam_q=secam_q, lime=package_s, ours=ours_s, segments=ours.params["segment_count"])
        rows.append(row)
        print(f"{name:<16} {row['size']:>8}  forward {fwd * 1000:7.1f} ms  SeCAM {secam_s * 1000:7.1f} ms  "
              f"SeCAM(quickshift) {secam_q * 1000:7.1f} ms  lime pkg {package_s:7.1f} s  our LIME {ours_s:7.1f} s  "
              f"lime/SeCAM {package_s / secam_s:7.0f}×  ourLIME/SeCAM {ours_s / secam_s:6.0f}×  "
              f"lime/ourLIME {package_s / ours_s:5.2f}×", flush=True)

    med = {key: statistics.median(r[key] for r in rows) for key in ("forward", "secam", "secam_q", "lime", "ours")}
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads, torch {torch.__version__}"
    print()
    print(f"machine: {machine}; {len(rows)} images; LIME samples {args.lime_samples}; "
          f"total {time.perf_counter() - started:.0f} s")
    print(f"median one no-grad forward          {med['forward'] * 1000:9.1f} ms")
    print(f"median SeCAM (slic, cold)            {med['secam'] * 1000:9.1f} ms  = {med['secam'] / med['forward']:.1f} forwards")
    print(f"median SeCAM (quickshift, cold)      {med['secam_q'] * 1000:9.1f} ms")
    print(f"median lime package (defaults)       {med['lime']:9.1f} s")
    print(f"median camwidget LIME                {med['ours']:9.1f} s")
    ratios = [r["lime"] / r["secam"] for r in rows]
    print(f"SeCAM vs lime package: median {statistics.median(ratios):.0f}× faster (min {min(ratios):.0f}×; target ≥ 250× on every photo)")
    print(f"SeCAM vs camwidget LIME: median {statistics.median(r['ours'] / r['secam'] for r in rows):.0f}× faster")
    print(f"camwidget LIME vs lime package: median {statistics.median(r['lime'] / r['ours'] for r in rows):.2f}× faster")
    print()
    print("| image | size | segments (quickshift) | forward | SeCAM (SLIC) | SeCAM (quickshift) | `lime` package | our LIME | lime / SeCAM |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['image']} | {r['size']} | {r['segments']} | {r['forward'] * 1000:.0f} ms | {r['secam'] * 1000:.0f} ms | "
              f"{r['secam_q'] * 1000:.0f} ms | {r['lime']:.1f} s | {r['ours']:.1f} s | {r['lime'] / r['secam']:.0f}× |")
    print(f"\nMachine: {machine}. Cold times (a new Session each run); LIME with {args.lime_samples} samples, "
          f"the package at batch_size 10 (its default), ours at 32.")


if __name__ == "__main__":
    main()
