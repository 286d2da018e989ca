"""Vision transformers: vit_b_16 at 224² (random weights; speed does not depend on them).

Run: .venv/bin/python benchmarks/bench_transformers.py
Rows, each a median of round-robin runs in one process, as a ratio to one no-grad forward:
- first explanation with every block ready: a new Session, its default layer (the penultimate
  block: one backward of the top class to every layer) and Grad-CAM there — the goal is ≤ 3 × forward;
- block switch on a cached session (Grad-CAM at the next of the 12 blocks) — the goal is ≤ 0.05 ×;
- for scale: a forward with autograd and a backward to the input (no hooks), and pytorch-grad-cam's
  GradCAM with its reshape_transform at one block.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians, line, machine, median_seconds

import camwidget as cw


def main() -> None:
    import torchvision
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None)
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision zero-initialises the head
    model.eval()
    image = cw.samples.load("chelsea")
    x = cw.models.Preprocess()(image)
    same_input = lambda _image: x
    session = cw.Session(model, image, preprocess=same_input)
    target = session.resolve_target(None)
    blocks = [i.name for i in session.layers if i.name.startswith("encoder.layers.")]
    print(f"\n== vit_b_16 at 224×224, random weights, {len(blocks)} blocks of 14×14 tokens  ({machine()})")
    print(f"default layer: {session.default_layer}")

    def no_grad_forward():
        with torch.no_grad():
            model(x)

    def first():
        fresh = cw.Session(model, image, preprocess=same_input)
        fresh.explain("gradcam", target=target)

    def floor():
        leaf = x.clone().requires_grad_(True)
        torch.autograd.grad(model(leaf)[0, target], leaf)

    def reshape_transform(tensor):
        return tensor[:, 1:, :].reshape(tensor.size(0), 14, 14, tensor.size(2)).permute(0, 3, 1, 2)

    def theirs():
        with GradCAM(model=model, target_layers=[model.encoder.layers[10]], reshape_transform=reshape_transform) as cam:
            cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(target)])

    medians = interleaved_medians(
        {"forward": no_grad_forward, "first": first, "floor": floor, "theirs": theirs}, repeats=5, warmup=1
    )
    fwd = medians["forward"]
    session.explain("gradcam", layer=blocks[-2], target=target)
    state = {"i": 0}

    def switch():
        state["i"] += 1
        session.explain("gradcam", layer=blocks[state["i"] % len(blocks)], target=target)

    print(line("no-grad forward (the unit)", fwd, fwd))
    print(line("first explanation, every block ready (goal <= 3 x)", medians["first"], fwd))
    print(line("block switch, cached session (goal <= 0.05 x)", median_seconds(switch, 48, 12), fwd))
    print(line("floor: forward with autograd + backward to the input", medians["floor"], fwd))
    print(line("pytorch-grad-cam GradCAM + reshape_transform, one block", medians["theirs"], fwd))


if __name__ == "__main__":
    main()
