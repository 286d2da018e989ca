"""The filmstrip (every layer's map for one selection) timed next to one no-grad forward pass.

    python benchmarks/bench_filmstrip.py [--repeats 5] [--threads 2]

On the default model (EfficientNet-Lite0, 67 selectable layers) on chelsea, after the first
explanation (the session holds the activations and the one backward's gradients): what the widget
computes after each answer. The goal: ≤ 2 × one no-grad forward of the same model and input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

import camwidget as cw
from camwidget.engine.filmstrip import filmstrip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_seconds  # noqa: E402




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        torch.set_num_threads(args.threads)
        model, preprocess, classes = cw.models.default()
        session = cw.Session(model, cw.samples.load("chelsea"), preprocess=preprocess, classes=classes)
        session.explain("gradcam++", target=281)  # the answer: forward + the one backward, cached

        def forward():
            with torch.no_grad():
                session.model(session.input)

        forward()
        t_forward = median_seconds(forward, max(args.repeats, 5), warmup=0)
        rows = []
        for method, region in (("gradcam++", None), ("gradcam", None), ("gradcam++", (1, 2, 4, 6))):
            strip = filmstrip(session, method, 281, region=region, region_layer="bn2")  # warm
            t = median_seconds(lambda m=method, r=region: filmstrip(session, m, 281, region=r, region_layer="bn2"), args.repeats, warmup=0)
            rows.append((method, region, len(strip.layers), t))
    print(f"one no-grad forward: {t_forward * 1000:.1f} ms ({args.threads} threads)")
    for method, region, n, t in rows:
        where = f", region {region} on bn2" if region else ""
        print(f"filmstrip {method}{where}: {n} layers in {t * 1000:.1f} ms = {t / t_forward:.2f} × forward (goal ≤ 2)")


if __name__ == "__main__":
    main()
