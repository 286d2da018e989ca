"""Smooth Grad-CAM++ at n = 16 vs torchcam's SmoothGradCAMpp(num_samples=16), resnet50 at 224².

One run, same machine, ratios printed (absolute CPU times mean little on a shared machine).
Both sides start from the image and do everything: camwidget builds a Session (the clean forward
that every later layer / subset request reuses) and explains layer4 — its noisy passes capture
layer4 and deeper only, and the backward stops there, as torchcam's does; torchcam runs its
forward and its extractor. A third line times camwidget with *every* layer's derivatives ready
(76 layers on resnet50: a full backward per batch), after which any layer, subset and region is
instant.

    .venv/bin/python benchmarks/bench_smooth.py            # sweep + head-to-head
    .venv/bin/python benchmarks/bench_smooth.py --no-sweep # head-to-head at the defaults
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision

import camwidget as cw
from camwidget.engine import hook_count
from camwidget.engine.methods import smooth

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--sweep-rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    image = cw.samples.load("chelsea")
    preprocess = cw.models.Preprocess()
    x = preprocess(image)
    target = int(model(x).argmax())  # also warms oneDNN up
    layers = len(cw.Session(model, image, preprocess=preprocess).layers)
    print(f"resnet50 (random weights), 224², n={args.n}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    def ours(batch_size: int, every_layer: bool = False) -> cw.Session:
        session = cw.Session(model, image, preprocess=preprocess)
        if every_layer:
            smooth.smoothed_derivatives(session, target, n=args.n, batch_size=batch_size)
        session.explain("smooth-gradcam++", layer="layer4", target=target, n=args.n, batch_size=batch_size)
        return session

    def torchcam() -> torch.Tensor:
        from torchcam.methods import SmoothGradCAMpp

        with SmoothGradCAMpp(model, target_layer="layer4", num_samples=args.n) as extractor:
            scores = model(x.clone())
            (cam,) = extractor(target, scores)
        return cam

    with torch.no_grad():
        forward = statistics.median(timed(lambda: model(x)) for _ in range(5))
    print(f"one no-grad forward (batch 1): {forward:.3f} s")

    batch_size = smooth.DEFAULT_BATCH_SIZE
    if not args.no_sweep:
        # round-robin over the configurations, so a change in the machine's load hits them all
        print(f"sweep: fresh Session + smooth-gradcam++ at layer4, {args.sweep_rounds} interleaved rounds, median")
        configs = [(bs, name) for name in FORMATS for bs in args.batch_sizes]
        runs: dict = {c: [] for c in configs}
        for _ in range(args.sweep_rounds):
            for bs, name in configs:
                smooth.MEMORY_FORMAT = FORMATS[name]
                runs[(bs, name)].append(timed(lambda bs=bs: ours(bs)))
        results = {c: statistics.median(v) for c, v in runs.items()}
        for (bs, name), seconds in results.items():
            print(f"  batch_size={bs:>2} {name:<13} {seconds:7.2f} s  ({seconds / args.n:.3f} s/copy)  "
                  f"runs {[round(v, 2) for v in runs[(bs, name)]]}")
        batch_size, fmt_name = min(results, key=results.get)
        print(f"fastest: batch_size={batch_size}, {fmt_name}")
        smooth.MEMORY_FORMAT = FORMATS[fmt_name]
        # the formats must agree where the gradient depends on the noise (an inner layer)
        maps = {}
        for name, fmt in FORMATS.items():
            smooth.MEMORY_FORMAT, session = fmt, cw.Session(model, image, preprocess=preprocess)
            maps[name] = session.explain("smooth-gradcam++", layer="layer3", target=target, n=2, batch_size=2).map
        smooth.MEMORY_FORMAT = FORMATS[fmt_name]
        diff = abs(maps["channels_last"] - maps["contiguous"]).max() / max(maps["contiguous"].max(), 1e-12)
        print(f"channels_last vs contiguous at layer3 (n=2): max rel. diff {diff:.1e}")

    fmt = "channels_last" if smooth.MEMORY_FORMAT is torch.channels_last else "contiguous"
    print(f"head-to-head, {args.repeats} repeats each, alternating; camwidget at batch_size={batch_size}, {fmt}:")
    deep, every, theirs = [], [], []
    for _ in range(args.repeats):
        deep.append(timed(lambda: ours(batch_size)))
        theirs.append(timed(torchcam))
        box = {}
        every.append(timed(lambda box=box: box.setdefault("session", ours(batch_size, every_layer=True))))
    other = timed(lambda: box["session"].explain("smooth-gradcam++", layer="layer2.1.conv2", target=target, n=args.n,
                                                  channels=list(range(0, 128, 2)), region=(4, 4, 20, 20)))
    assert hook_count(model) == 0
    d, e, t = (statistics.median(v) for v in (deep, every, theirs))
    print(f"torchcam SmoothGradCAMpp layer4          n={args.n}: median {t:6.2f} s ({t / forward:4.1f} forwards)  runs {[round(v, 2) for v in theirs]}")
    print(f"camwidget smooth-gradcam++ layer4        n={args.n}: median {d:6.2f} s ({d / forward:4.1f} forwards)  runs {[round(v, 2) for v in deep]}")
    print(f"camwidget, every layer ready ({layers} layers) n={args.n}: median {e:6.2f} s ({e / forward:4.1f} forwards)  runs {[round(v, 2) for v in every]}")
    print(f"  then another layer + channel subset + region from the cache: {other * 1000:.1f} ms ({other / forward:.3f} forwards)")
    print(f"ratio camwidget / torchcam, layer4: {d / t:.2f}  (target <= 0.55)")
    print(f"ratio camwidget every layer / torchcam layer4 only: {e / t:.2f}")


if __name__ == "__main__":
    main()
