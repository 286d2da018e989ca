"""Headless use: explain an image to PNG / NPZ, list layers, or open the demo notebook."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _session(args):
    import camwidget as cw

    if args.model == "default":
        model, preprocess, classes = cw.models.default()
    else:
        model, preprocess, classes = cw.models.torchvision(args.model, weights_path=args.weights)
    image = cw.samples.load(args.image) if args.image in cw.samples.NAMES else cw.images.load(args.image)
    return cw.Session(model, image, preprocess=preprocess, classes=classes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="camwidget", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("explain", "layers", "top"):
        p = sub.add_parser(name)
        p.add_argument("image", help="an image file, or a sample name (chelsea, coffee, astronaut, rocket, motorcycle_left)")
        p.add_argument("--model", default="default", help="'default' (EfficientNet-Lite0) or a torchvision name")
        p.add_argument("--weights", default=None, help="a local state-dict file for a torchvision model")
    explain = sub.choices["explain"]
    explain.add_argument("--method", default="gradcam++")
    explain.add_argument("--layer", default=None)
    explain.add_argument("--target", default=None, help="class index or name (default: the top class)")
    explain.add_argument("--out", default="explanation.png", help="a .png (overlay) or .npz (arrays) path")
    sub.add_parser("demo", help="open JupyterLab on the quickstart notebook")
    args = parser.parse_args(argv)

    if args.command == "demo":
        import subprocess

        notebook = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
        return subprocess.call([sys.executable, "-m", "jupyterlab", str(notebook)])
    try:
        session = _session(args)
        if args.command == "layers":
            for info in session.layers:
                print(f"{info.depth:3d}  {info.name:<40} {'×'.join(map(str, info.shape))}")
        elif args.command == "top":
            for index, name, probability in session.top(5):
                print(f"{index:5d}  {probability:6.3f}  {name}")
        else:
            target = int(args.target) if args.target and args.target.isdigit() else args.target
            e = session.explain(args.method, layer=args.layer, target=target)
            out = Path(args.out)
            if out.suffix == ".npz":
                import numpy as np

                np.savez(out, map=e.map, weights=e.weights if e.weights is not None else [], upsampled=e.upsampled())
            else:
                import matplotlib

                matplotlib.use("Agg")
                ax = e.plot(image=session.image)
                ax.figure.savefig(out, bbox_inches="tight", dpi=120)
            print(f"{e!r} -> {out}")
    except (ValueError, TypeError) as error:
        print(f"camwidget: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
