"""explain_dataset speed (issue 12): Grad-CAM at every layer of the default model over 64 images.

Run: .venv/bin/python benchmarks/bench_datasets.py [--n 64] [--batch-size 16]   (or ./dev bench)

Rows, all in one run on the same images (the synthetic localisation set, generated up front):
- the floor: a plain batched forward + one backward of the same batches (Σ of each image's
  target logit, gradient with respect to the input; no hooks, no maps, no store);
- explain_dataset, in-process: hooks on all 67 layers, one autograd.grad per batch, Grad-CAM at
  every layer, every map written to a Zarr store;
- pytorch-grad-cam looping over the images one by one with every layer as a target layer (its
  only way to get maps of every layer: one forward and a full backward per image);
- explain_dataset with workers=2 (a LocalCluster of two single-threaded processes, started
  beforehand; its start-up is printed apart) against in-process (torch's threads).
Each row runs once (they are long, and the ratios are what counts), after one untimed batch of its
own that warms it up (the floor: a batch through the model; pytorch-grad-cam: one image;
explain_dataset: one batch into a store
of its own — its model copy's oneDNN kernels for the batch shape, Zarr's codec registry — printed as
the cold first call); the floor runs before and after explain_dataset and the faster of the two
counts (the stricter floor on a noisy machine); ``--repeats k`` alternates them k times and
keeps the fastest of each. The floor and explain_dataset always run;
``--only peer`` / ``--only dask`` / ``--only none`` choose the other rows (default both).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine

import camwidget as cw
from camwidget.datasets import explain_dataset


def floor(model, inputs: list[torch.Tensor], targets: list[int], batch_size: int) -> float:
    start = time.perf_counter()
    for s in range(0, len(inputs), batch_size):
        x = torch.cat(inputs[s:s + batch_size]).requires_grad_(True)
        logits = model(x)
        rows = torch.arange(len(x))
        torch.autograd.grad(logits[rows, torch.tensor(targets[s:s + batch_size])].sum(), x)
    return time.perf_counter() - start


def pytorch_grad_cam_loop(model, inputs: list[torch.Tensor], targets: list[int], layers: list[str]) -> float:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    modules = [model.get_submodule(n) for n in layers]
    start = time.perf_counter()
    with GradCAM(model=model, target_layers=modules) as cam:
        for x, t in zip(inputs, targets):
            cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--peer-n", type=int, default=16,
                        help="images for pytorch-grad-cam (it loops one by one: its img/s does not depend on n)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--repeats", type=int, default=1,
                        help="floor and explain_dataset alternately this many times; the fastest of each counts")
    parser.add_argument("--only", default="peer,dask", help="the optional rows to run (peer, dask), comma-separated, or none")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if args.skip_peer:
        only.discard("peer")
    n, batch = args.n, args.batch_size
    model, preprocess, classes = cw.models.default()
    data = cw.samples.dataset("objects", n=n, seed=0)
    images = [item.image for item in data]  # generated up front: not part of any row
    inputs = [preprocess(im) for im in images]
    layers = [i.name for i in cw.Session(model, images[0], preprocess=preprocess).layers]
    with torch.no_grad():
        targets = [int(model(x).argmax()) for x in inputs]
    print(f"== explain_dataset, Grad-CAM at all {len(layers)} layers of EfficientNet-Lite0, {n} images, "
          f"batches of {batch}  ({machine()})")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        floor(model, inputs[:batch], targets[:batch], batch)  # warm-up, untimed
        start = time.perf_counter()  # explain_dataset's warm-up: one batch, a store of its own
        explain_dataset(model, images[:batch], methods=["gradcam"], targets=targets[:batch], out=f"{tmp}/cold.zarr",
                        preprocess=preprocess, classes=classes, batch_size=batch, progress=False)
        cold = time.perf_counter() - start
        rows["floor"] = floor(model, inputs, targets, batch)
        rows["ours"] = float("inf")
        for k in range(args.repeats):  # floor, ours, floor, ours, …: the fastest of each counts
            start = time.perf_counter()
            explain_dataset(model, images, methods=["gradcam"], targets=targets, out=f"{tmp}/a{k}.zarr",
                            preprocess=preprocess, classes=classes, batch_size=batch, progress=False)
            rows["ours"] = min(rows["ours"], time.perf_counter() - start)
            rows["floor"] = min(rows["floor"], floor(model, inputs, targets, batch))
        if "peer" in only:
            peer_n = min(n, args.peer_n)
            pytorch_grad_cam_loop(model, inputs[:1], targets[:1], layers)  # its warm-up, untimed
            rows["peer"] = pytorch_grad_cam_loop(model, inputs[:peer_n], targets[:peer_n], layers) * n / peer_n
        fps = {k: n / v for k, v in rows.items()}
        print(f"plain batched forward + backward (the floor)          {fps['floor']:7.2f} img/s")
        print(f"explain_dataset's cold first call, one batch (warm-up, untimed below) {batch / cold:7.2f} img/s")
        print(f"explain_dataset in-process (maps of every layer, Zarr) {fps['ours']:7.2f} img/s   "
              f"{fps['ours'] / fps['floor']:.2f} × the floor (goal ≥ 0.8)   [uptime load {os.getloadavg()[0]:.1f}]")
        if "peer" in fps:
            print(f"pytorch-grad-cam GradCAM, one image at a time ({min(n, args.peer_n)} images) {fps['peer']:7.2f} img/s   "
                  f"explain_dataset is {fps['ours'] / fps['peer']:.2f} × faster (goal ≥ 3)")
        if "dask" not in only:
            return
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
        startup = time.perf_counter() - start
        try:
            start = time.perf_counter()
            explain_dataset(cw.models.default, data, methods=["gradcam"], targets="top", out=f"{tmp}/d.zarr",
                            batch_size=batch, progress=False, client=client)
            dask_seconds = time.perf_counter() - start
        finally:
            client.close()
            cluster.close()
        start = time.perf_counter()
        explain_dataset(cw.models.default, data, methods=["gradcam"], targets="top", out=f"{tmp}/i.zarr",
                        batch_size=batch, progress=False)
        local_seconds = time.perf_counter() - start
        print(f"workers=2 (1 torch thread each), cluster start-up {startup:.1f} s apart: {n / dask_seconds:.2f} img/s; "
              f"in-process ({torch.get_num_threads()} threads): {n / local_seconds:.2f} img/s; "
              f"speed-up {local_seconds / dask_seconds:.2f} × (both build the model once; "
              f"the workers also ship the dataset and load the model in each process)")


if __name__ == "__main__":
    main()
