"""Engine speed and agreement (issue 2): layer switches, first explanation, one-layer Grad-CAM vs peers.

Run: .venv/bin/python benchmarks/bench_engine.py   (or ./dev bench)
Every time is a median, printed as a ratio to one no-grad forward pass and to the peers in the
same run: these machines are noisy, a lone absolute time means little.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import camwidget as cw  # noqa: E402
from common import forward_seconds, interleaved_medians, line, machine, median_seconds, page_faults  # noqa: E402


def bench(name: str, model: torch.nn.Module, preprocess, classes, layer: str) -> None:
    from captum.attr import LayerGradCam
    from pytorch_grad_cam import GradCAM as PGCGradCAM, GradCAMPlusPlus as PGCGradCAMPP
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchcam.methods import GradCAM as TorchcamGradCAM

    image = cw.samples.load("chelsea")
    x = preprocess(image)
    same_input = lambda _image: x  # noqa: E731  every tool starts from the same tensor
    fwd = forward_seconds(model, x, repeats=15)
    print(f"\n== {name} at {tuple(x.shape[-2:])}, layer {layer!r}  ({machine()})")
    print(line("no-grad forward (the unit for the cached rows)", fwd, fwd))

    session = cw.Session(model, image, preprocess=same_input, classes=classes)
    target = session.resolve_target(None)
    session.explain("gradcam", layer=layer, target=target)
    names = [i.name for i in session.layers]
    state = {"i": 0}

    def switch():
        state["i"] += 1
        session.explain("gradcam++", layer=names[state["i"] % len(names)], target=target)

    print(line(f"layer switch, cached session ({len(names)} layers)", median_seconds(switch, 50, 5), fwd))
    region = (0, 0, 3, 3)
    print(line("region + channel subset change, cached", median_seconds(
        lambda: session.explain("gradcam", layer=layer, target=target, region=region, channels=list(range(0, 64))), 50, 5), fwd))

    def first_map():  # a new image: the requested layer's map, its backward stops at that layer
        cw.Session(model, image, preprocess=same_input, classes=classes).explain("gradcam", layer=layer, target=target)

    def first_all():  # ... then every other layer finished (what the widget does in the background)
        session = cw.Session(model, image, preprocess=same_input, classes=classes)
        session.explain("gradcam", layer=layer, target=target)
        session.prefetch_gradients(target)

    def all_at_once():  # one backward to every layer before the first map (the previous path)
        session = cw.Session(model, image, preprocess=same_input, classes=classes)
        session.prefetch_gradients(target)
        session.explain("gradcam", layer=layer, target=target)

    def plain_full_backward():  # the floor: a forward with autograd and a backward to the input, no hooks
        leaf = x.clone().requires_grad_(True)
        torch.autograd.grad(model(leaf)[0, target], leaf)

    def retained_full_backward():  # the floor, keeping the graph for another target (as a session must)
        leaf = x.clone().requires_grad_(True)
        torch.autograd.grad(model(leaf)[0, target], leaf, retain_graph=True)

    # the same floor on the channels-last copy the session runs (engine/channels_last.py): what is
    # left of camwidget's own overhead once the layout gain is set aside
    from camwidget.engine import channels_last
    twin = channels_last.twin(model, session.input, lambda out: out)

    def copy_full_backward():
        leaf = x.clone().requires_grad_(True)
        torch.autograd.grad(twin(leaf)[0, target], leaf)

    def ours_one():
        return cw.Session(model, image, preprocess=same_input, classes=classes, layers=[layer]).explain(
            "gradcam", layer=layer, target=target)

    module = dict(model.named_modules())[layer]

    def torchcam_one():
        with TorchcamGradCAM(model, target_layer=layer) as extractor:
            scores = model(x)
            return extractor(target, scores)

    captum = LayerGradCam(model, module)

    def captum_one():
        return captum.attribute(x, target=target, relu_attributions=True)

    def no_grad_forward():
        with torch.no_grad():
            model(x)

    # one round-robin run, so load drift hits every row alike; the interleaved forward is the unit
    rows = {
        "forward": no_grad_forward, "first map": first_map, "first": first_all, "at once": all_at_once,
        "floor": plain_full_backward, "retained": retained_full_backward,
        **({"copy floor": copy_full_backward} if twin is not None else {}),
        "ours": ours_one, "torchcam": torchcam_one, "captum": captum_one,
    }
    medians = interleaved_medians(rows, 11, warmup=2)
    faults = {name: page_faults(rows[name]) for name in ("floor", "retained", "first", "at once", "copy floor") if name in rows}
    unit, floor = medians["forward"], medians["floor"]

    def both(label: str, key: str) -> str:
        return f"{line(label, medians[key], unit)}  {medians[key] / floor:6.3f} × floor  {faults[key]:6d} page faults"

    print(line("no-grad forward, interleaved (the unit below)", unit, unit))
    print(line(f"first map of a new image ({layer}, backward to it only)", medians["first map"], unit))
    print(both(f"first map, then every layer ready ({len(names)})", "first"))
    print(both("  every layer in one backward before the first map", "at once"))
    print(both("  floor: plain forward + full backward, no hooks", "floor"))
    print(both("  the floor with retain_graph=True", "retained"))
    if "copy floor" in medians:
        print(both("  the floor on the session's channels-last copy", "copy floor"))
    print(line("one-layer Grad-CAM, camwidget", medians["ours"], unit))
    print(line("one-layer Grad-CAM, torchcam GradCAM", medians["torchcam"], unit))
    print(line("one-layer Grad-CAM, Captum LayerGradCam", medians["captum"], unit))
    print(f"{'ratio first map / forward':<58} {medians['first map'] / unit:8.3f}   (target <= 1.3)")
    print(f"{'ratio every layer ready / floor':<58} {medians['first'] / floor:8.3f}   (target <= 1.0)")
    if "copy floor" in medians:
        label = "  (every layer ready / the copy's floor)"
        print(f"{label:<58} {medians['first'] / medians['copy floor']:8.3f}")
    print(f"{'ratio camwidget / torchcam':<58} {medians['ours'] / medians['torchcam']:8.3f}   (target <= 1.0)")
    print(f"{'ratio camwidget / Captum':<58} {medians['ours'] / medians['captum']:8.3f}   (target <= 1.0)")

    for method, peer in (("gradcam", PGCGradCAM), ("gradcam++", PGCGradCAMPP)):
        with peer(model=model, target_layers=[module]) as cam:
            theirs = cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(target)])[0]
        ours = session.explain(method, layer=layer, target=target).upsampled(theirs.shape)
        corr = float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])
        print(f"{'agreement with pytorch-grad-cam ' + peer.__name__ + ' (corr)':<58} {corr:8.5f}   (target >= 0.999)")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's; 1 keeps a crowded machine from thrashing)")
    parser.add_argument("--models", nargs="+", default=["lite0", "resnet50"], choices=["lite0", "resnet50"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if "lite0" in args.models:
        model, preprocess, classes = cw.models.default()
        bench("EfficientNet-Lite0 (ImageNet weights)", model, preprocess, classes, "bn2")
    if "resnet50" in args.models:
        model, preprocess, classes = cw.models.torchvision("resnet50")  # random weights: speed only
        bench("resnet50 (random weights)", model, preprocess, classes, "layer4")


if __name__ == "__main__":
    main()
