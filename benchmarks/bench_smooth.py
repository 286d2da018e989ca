"""Smooth Grad-CAM++ at n = 16 vs torchcam's SmoothGradCAMpp(num_samples=16), resnet50 at 224².

One run, same machine, ratios printed (absolute CPU times mean little on a shared machine).
Both sides start from the image tensor and do everything: camwidget builds a Session (the clean
forward that every later layer / subset request reuses) and explains layer4; torchcam runs its
forward and its extractor. camwidget's side captures *every* selectable layer (76 on resnet50),
so after it every layer, channel subset and region is instant; torchcam's covers layer4 only.

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
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    image = cw.samples.load("chelsea")
    preprocess = cw.models.Preprocess()
    x = preprocess(image)
    target = int(model(x).argmax())  # also warms oneDNN up
    print(f"resnet50 (random weights), 224², n={args.n}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    def ours(batch_size: int = smooth.DEFAULT_BATCH_SIZE) -> cw.Session:
        session = cw.Session(model, image, preprocess=preprocess)
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

    if not args.no_sweep:
        print("sweep (one run each, fresh Session, all 76 layers' D1..D3 accumulated):")
        results = {}
        reference = None
        for fmt_name, fmt in FORMATS.items():
            smooth.MEMORY_FORMAT = fmt
            for bs in args.batch_sizes:
                box = {}
                seconds = timed(lambda: box.setdefault("session", ours(bs)))
                results[(bs, fmt_name)] = seconds
                # compare at an inner layer: before GAP → linear (layer4) every copy's gradient is the same
                inner = box["session"].explain("smooth-gradcam++", layer="layer3", target=target, n=args.n).map
                if reference is None:
                    reference = inner
                diff = float(abs(inner - reference).max() / max(reference.max(), 1e-12))
                print(f"  batch_size={bs:>2} {fmt_name:<13} {seconds:7.2f} s  ({seconds / args.n:.3f} s/copy, "
                      f"layer3 max rel. diff to the first {diff:.1e})")
        best = min(results, key=results.get)
        print(f"fastest: batch_size={best[0]}, {best[1]}")
        smooth.MEMORY_FORMAT = FORMATS[best[1]]
        batch_size = best[0]
    else:
        batch_size = smooth.DEFAULT_BATCH_SIZE
        best = None

    print(f"head-to-head, {args.repeats} repeats each, alternating (camwidget at batch_size={batch_size}, "
          f"{'channels_last' if smooth.MEMORY_FORMAT is torch.channels_last else 'contiguous'}):")
    mine, theirs = [], []
    for _ in range(args.repeats):
        mine.append(timed(lambda: ours(batch_size)))
        theirs.append(timed(torchcam))
    assert hook_count(model) == 0
    m, t = statistics.median(mine), statistics.median(theirs)
    print(f"camwidget smooth-gradcam++ n={args.n}: median {m:.2f} s ({m / forward:.1f} forwards)  runs {[round(v, 2) for v in mine]}")
    print(f"torchcam SmoothGradCAMpp  n={args.n}: median {t:.2f} s ({t / forward:.1f} forwards)  runs {[round(v, 2) for v in theirs]}")
    print(f"ratio camwidget / torchcam: {m / t:.2f}  (target <= 0.70)")


if __name__ == "__main__":
    main()
