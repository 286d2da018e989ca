"""INV clustering timed next to one forward pass, and scikit-learn's t-SNE against openTSNE.

    python benchmarks/bench_clusters.py [--repeats 3] [--threads 2]

Clustering is timed on a session whose activations and gradients are already cached (what a
person waits for after the first explanation); each repeat uses a new seed so the cache cannot
answer. The forward pass is one no-grad forward of the same model on the same input.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def median_time(fn, repeats: int) -> float:
    return timed_runs(fn, repeats)[0]


def timed_runs(fn, repeats: int) -> tuple[float, list]:
    """The median time of ``repeats`` calls ``fn(i)`` and what each call returned."""
    times, results = [], []
    for i in range(repeats):
        start = time.perf_counter()
        results.append(fn(i))
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def forward_time(session, repeats: int) -> float:
    def run(_):
        with torch.no_grad():
            session.model(session.input)
    run(0)
    return median_time(run, max(repeats, 5))


def tsne_inputs(session, layer: str, prune: bool = True) -> np.ndarray:
    from camwidget.engine import clusters as inv

    activations = session.activations(layer)
    weights = inv.map_weights(activations, session.gradients(layer))
    keep = np.flatnonzero(weights > inv.drop_threshold(len(weights))) if prune else np.arange(len(weights))
    return inv.features(activations.float().numpy()[keep], 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import torchvision

    import camwidget as cw
    from camwidget.engine import clusters as inv

    image = cw.samples.load("chelsea")
    model, preprocess, classes = cw.models.default()
    default = cw.Session(model, image, preprocess=preprocess, classes=classes)
    nine = inv.convolutional_layers(default)
    default.gradients(nine[-1])  # forward + backward once, outside the timings
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None).eval()
    r50 = cw.Session(resnet, image, layers=["layer4"])
    r50.gradients("layer4")

    print(f"INV clustering (median of {args.repeats}, {args.threads} threads, t-SNE: {inv.TSNE_BACKEND})")
    rows = [
        ("default model, last nine conv layers", default, nine),
        ("resnet50 layer4 (2048 maps)", r50, ["layer4"]),
    ]
    for label, session, layers in rows:
        fwd = forward_time(session, args.repeats)
        t = median_time(lambda i, session=session, layers=layers: inv.clusters_for_layers(session, layers, seed=1000 + i),
                        args.repeats)
        survivors = [len(inv.cluster_layer(session, n, seed=1000).survivors) for n in layers]
        counts = [len(inv.cluster_layer(session, n, seed=1000).clusters) for n in layers]
        print(f"  {label}: clustering {t * 1e3:8.1f} ms | one forward (no grad) {fwd * 1e3:7.1f} ms | "
              f"ratio {t / fwd:6.1f}× | maps kept {sum(survivors)} | clusters {sum(counts)}")

    print("t-SNE alone, same input (PCA features of the surviving maps), seed 0; deterministic = every "
          "repeat gave the identical embedding; 'sklearn' uses its default OpenMP threads")
    inputs = [
        ("default model, last nine conv layers", [tsne_inputs(default, n) for n in nine]),
        ("resnet50 layer4 survivors", [tsne_inputs(r50, "layer4")]),
        ("resnet50 layer4, all 2048 maps (no pruning)", [tsne_inputs(r50, "layer4", prune=False)]),
    ]
    for label, points in inputs:
        repeats = args.repeats if sum(len(p) for p in points) < 2000 else 1
        cells = []
        for backend, threads in (("sklearn", None), ("sklearn", 1), ("opentsne", 1)):
            def run(_, threads=threads, backend=backend, points=points):
                with threadpool_limits(limits=threads):
                    return [inv.embed(p, 0, backend) for p in points]
            t, runs = timed_runs(run, repeats)
            same = all(np.array_equal(a, b) for r in runs[1:] for a, b in zip(runs[0], r))
            cells.append((t, same if repeats > 1 else "n/a (1 run)"))
        (ts, ds), (t1, d1), (to, do) = cells
        print(f"  {label} ({sum(len(p) for p in points)} points, median of {repeats}): "
              f"sklearn {ts * 1e3:.0f} ms (deterministic {ds}) | sklearn 1 thread {t1 * 1e3:.0f} ms | "
              f"openTSNE 1 thread {to * 1e3:.0f} ms (deterministic {do}) | "
              f"sklearn / openTSNE {ts / to:.1f}×, 1 thread each {t1 / to:.1f}×")


if __name__ == "__main__":
    main()
