"""The rest of the CAM family and the faithfulness metrics, against pytorch-grad-cam and torchcam.

Run: .venv/bin/python benchmarks/bench_metrics.py [--size 224] [--repeats 1]
Every row is timed in the same run as the peers it is compared with, round-robin, and printed as a
ratio (these machines are noisy; a lone absolute time means little). Rows:

1. a method switch among the cached methods (XGrad-CAM, LayerCAM, HiResCAM, Grad-CAM element-wise,
   EigenCAM, EigenGrad-CAM) on a cached session, as a multiple of one no-grad forward (target ≤ 0.05);
2. Score-CAM on resnet50 (random weights) ``layer4`` — 2048 masked passes — from the image, against
   pytorch-grad-cam's ``ScoreCAM`` and torchcam's ``ScoreCAM`` at the same batch size (targets ≤ 0.5
   and ≤ 0.7);
3. deletion + insertion at 100 steps on the same map (zero baselines, torchcam's default) against
   torchcam's ``DeletionInsertionMetric`` (target ≤ 0.5);
4. ROAD MoRF + LeRF at four percentiles against pytorch-grad-cam's ``ROADMostRelevantFirstAverage`` +
   ``ROADLeastRelevantFirstAverage`` (target ≤ 0.5).

``--size`` shrinks the model input of rows 2–4 (Score-CAM's 2048 resnet50 passes at 224² take
minutes per tool on a 2-core CPU); every tool gets the same input, so the ratios stay like for like.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import forward_seconds, interleaved_medians, line, machine, median_seconds

import camwidget as cw

CACHED = ["xgradcam", "layercam", "hirescam", "gradcam-elementwise", "eigencam", "eigengradcam"]


class FixedCam:
    """A torchcam CAM extractor returning a given map, so torchcam's metrics score *our* map."""

    def __init__(self, model, cam):
        self.model, self.cam = model, cam

    def __call__(self, class_idx=None, scores=None, normalized=True, **kwargs):
        return [self.cam]

    def fuse_cams(self, cams):
        return cams[0]

    @contextmanager
    def _hooks_off(self):
        yield

    def disable_hooks(self):
        pass

    def enable_hooks(self):
        pass


def cached_switches() -> None:
    model, preprocess, classes = cw.models.default()
    image = cw.samples.load("chelsea")
    x = preprocess(image)
    fwd = forward_seconds(model, x, repeats=15)
    print(f"\n== cached method switch, default model (EfficientNet-Lite0) at 224², layer bn2  ({machine()})")
    print(line("no-grad forward (the unit)", fwd, fwd))
    session = cw.Session(model, image, preprocess=preprocess, classes=classes)
    target = session.resolve_target(None)
    session.explain("gradcam", layer="bn2", target=target)
    state = {"i": 0}

    def switch():
        state["i"] += 1
        session.explain(CACHED[state["i"] % len(CACHED)], layer="bn2", target=target)

    print(line("switch among the six cached methods (target <= 0.05)", median_seconds(switch, 60, 6), fwd))
    for method in CACHED:
        print(line(f"  {method}", median_seconds(
            lambda method=method: session.explain(method, layer="bn2", target=target), 20, 2), fwd))


def scorecam(size: int, batch_size: int, repeats: int) -> None:
    from pytorch_grad_cam import ScoreCAM as PGCScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchcam.methods import ScoreCAM as TorchcamScoreCAM

    torch.manual_seed(0)
    model, _, _ = cw.models.torchvision("resnet50")
    preprocess = cw.models.Preprocess(size=(size, size))
    image = cw.samples.load("chelsea")
    x = preprocess(image)
    with torch.no_grad():
        target = int(model(x).argmax())
    fwd = forward_seconds(model, x, repeats=5)
    print(f"\n== Score-CAM, resnet50 (random weights) layer4, {size}², batch {batch_size}, 2048 masked passes")
    print(line("no-grad forward (batch 1)", fwd, fwd))

    def ours():
        cw.Session(model, image, preprocess=preprocess, layers=["layer4"]).explain(
            "scorecam", layer="layer4", target=target, batch_size=batch_size)

    def pgc():
        with PGCScoreCAM(model=model, target_layers=[model.layer4]) as cam:
            cam.batch_size = batch_size
            import tqdm

            tqdm_init, tqdm.tqdm = tqdm.tqdm, partial(tqdm.tqdm, disable=True)  # its bar, silenced
            try:
                cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(target)])
            finally:
                tqdm.tqdm = tqdm_init

    def torchcam():
        with TorchcamScoreCAM(model, target_layer="layer4", batch_size=batch_size, input_shape=(3, size, size)) as extractor:
            with torch.no_grad():
                scores = model(x.clone())
            extractor(target, scores)

    times = interleaved_medians({"ours": ours, "pytorch-grad-cam": pgc, "torchcam": torchcam}, repeats=repeats, warmup=0)
    print(line("pytorch-grad-cam ScoreCAM", times["pytorch-grad-cam"], fwd))
    print(line("torchcam ScoreCAM", times["torchcam"], fwd))
    print(line("camwidget scorecam (fresh Session, from the image)", times["ours"], fwd))
    print(f"ratio camwidget / pytorch-grad-cam: {times['ours'] / times['pytorch-grad-cam']:.2f}  (target <= 0.50)")
    print(f"ratio camwidget / torchcam:         {times['ours'] / times['torchcam']:.2f}  (target <= 0.70)")


def metrics(size: int, repeats: int) -> None:
    from pytorch_grad_cam.metrics.road import (
        ROADLeastRelevantFirstAverage,
        ROADMostRelevantFirstAverage,
    )
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
    from torchcam.metrics import DeletionInsertionMetric

    model, _, classes = cw.models.default()
    preprocess = cw.models.Preprocess(size=(size, size))
    image = cw.samples.load("chelsea")
    session = cw.Session(model, image, preprocess=preprocess, classes=classes)
    e = session.explain("gradcam", layer="bn2")
    x = session.input.clone()
    cam = torch.from_numpy(e.upsampled(tuple(x.shape[-2:])))[None]
    fwd = forward_seconds(model, x, repeats=9)
    percentiles = [20, 40, 60, 80]
    print(f"\n== metrics of one Grad-CAM map, default model at {size}² (every tool scores the same map)")
    print(line("no-grad forward (batch 1)", fwd, fwd))

    def fresh():  # a new Session (its forward included) so no cached result is reused
        return cw.Session(model, image, preprocess=preprocess, classes=classes)

    def ours_di():
        s = fresh()
        s.evaluate(cw.Explanation(e.map, None, e.method, e.layer, e.target, e.image_size), ["deletion", "insertion"],
                   steps=100, baseline="zero", batch_size=32)

    def torchcam_di():
        metric = DeletionInsertionMetric(FixedCam(model, cam), partial(torch.softmax, dim=-1), steps=100, batch_size=32)
        metric.update(x.clone(), class_idx=e.target)

    def ours_road():
        s = fresh()
        s.evaluate(cw.Explanation(e.map, None, e.method, e.layer, e.target, e.image_size), ["road-morf", "road-lerf"],
                   percentiles=percentiles)

    def pgc_road():
        targets = [ClassifierOutputSoftmaxTarget(e.target)]
        ROADMostRelevantFirstAverage(percentiles)(x.clone(), cam.numpy(), targets, model)
        ROADLeastRelevantFirstAverage(percentiles)(x.clone(), cam.numpy(), targets, model)

    times = interleaved_medians({"ours_di": ours_di, "torchcam_di": torchcam_di, "ours_road": ours_road,
                                 "pgc_road": pgc_road}, repeats=repeats, warmup=1)
    print(line("torchcam DeletionInsertionMetric, steps=100", times["torchcam_di"], fwd))
    print(line("camwidget deletion + insertion, steps=100", times["ours_di"], fwd))
    print(f"ratio camwidget / torchcam (deletion + insertion): {times['ours_di'] / times['torchcam_di']:.2f}  (target <= 0.50)")
    print(line("pytorch-grad-cam ROAD MoRF + LeRF, 4 percentiles", times["pgc_road"], fwd))
    print(line("camwidget road-morf + road-lerf, 4 percentiles", times["ours_road"], fwd))
    print(f"ratio camwidget / pytorch-grad-cam (ROAD): {times['ours_road'] / times['pgc_road']:.2f}  (target <= 0.50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224, help="model input size for rows 2-4 (default 224)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each peer row (default 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-scorecam", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    cached_switches()
    metrics(args.size, args.repeats)
    if not args.skip_scorecam:
        scorecam(args.size, args.batch_size, args.repeats)
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
