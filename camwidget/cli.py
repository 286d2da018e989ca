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


SAMPLES_HELP = "an image file, or a sample name: chelsea, coffee, astronaut, rocket, motorcycle_left"


def _method_help() -> tuple[list[str], str]:
    """The registered methods' names and one line per method for ``--method``'s help."""
    from camwidget.engine import methods

    specs = methods.available()
    lines = "; ".join(f"{s.name} ({s.label})" for s in specs)
    return [s.name for s in specs], f"the explanation method (default: gradcam++). One of: {lines}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="camwidget",
        description=__doc__,
        epilog="Run 'camwidget COMMAND --help' for a command's options. In a notebook: "
        "import camwidget as cw; cw.explore().",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    about = {
        "explain": "explain an image: write the map as a PNG overlay or as NPZ arrays",
        "layers": "list the model's selectable layers: depth, name, output shape (C×h×w)",
        "top": "print the model's five most probable classes for the image",
    }
    for name, text in about.items():
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("image", help=SAMPLES_HELP)
        p.add_argument("--model", default="default",
                       help="'default' (EfficientNet-Lite0, ImageNet weights) or any torchvision "
                       "classification model name, e.g. resnet18 (random weights unless --weights)")
        p.add_argument("--weights", default=None, help="a local state-dict file for a torchvision model")
    explain = sub.choices["explain"]
    names, method_help = _method_help()
    explain.add_argument("--method", default="gradcam++", choices=names, metavar="METHOD", help=method_help)
    explain.add_argument("--layer", default=None, help="a layer name from 'camwidget layers' (default: the method's)")
    explain.add_argument("--target", default=None, help="class index or name (default: the top class)")
    explain.add_argument("--out", default="explanation.png", help="a .png (overlay) or .npz (arrays) path")
    from . import demo, evaluate_cli
    from .datasets.commands import register as register_datasets

    demo.add_arguments(sub.add_parser("demo", help="open JupyterLab on the example notebooks",
                                      description="Copy the example notebooks to a folder and open JupyterLab on quickstart.ipynb."))
    evaluate_cli.register(sub)
    dataset_commands = register_datasets(sub)  # explain-dataset, evaluate-dataset, campaign
    args = parser.parse_args(argv)
    if args.command in dataset_commands:
        return dataset_commands[args.command](args)

    if args.command == "demo":
        return demo.main(args)
    try:
        if hasattr(args, "run"):  # a subcommand in a module of its own
            return args.run(args)
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
