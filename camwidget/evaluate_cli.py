"""``camwidget evaluate``: faithfulness metrics of several methods on several images, as a table.

    camwidget evaluate chelsea coffee --methods gradcam,gradcam++,scorecam,secam \\
        --metrics deletion,insertion,avg-drop --out results.csv

One Session per image (one forward and backward serve every gradient method); each method at its
default layer (or ``--layer``) for the top class (or ``--target``); the metrics through
``session.evaluate`` (batched). A tqdm bar follows the (image, method) cells and the batches inside
them; the table is printed at the end and written as CSV when ``--out`` is given.
"""
from __future__ import annotations

import argparse
import csv
import sys
from typing import Any


def register(sub) -> None:
    """Add the ``evaluate`` subcommand to the CLI's subparsers."""
    text = "faithfulness metrics (deletion, insertion, average drop, ROAD, ...) of methods on images, as a table"
    p = sub.add_parser("evaluate", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("images", nargs="+", help="image files or sample names (chelsea, coffee, astronaut, rocket, ...)")
    p.add_argument("--methods", default="gradcam,gradcam++,layercam",
                   help="comma-separated method names (default: gradcam,gradcam++,layercam)")
    p.add_argument("--metrics", default="deletion,insertion,avg-drop",
                   help="comma-separated metric names (default: deletion,insertion,avg-drop); any of: "
                        "deletion, insertion, avg-drop, avg-increase, road-morf, road-lerf, road")
    p.add_argument("--model", default="default",
                   help="'default' (EfficientNet-Lite0, ImageNet weights) or a torchvision model name (random weights unless --weights)")
    p.add_argument("--weights", default=None, help="a local state-dict file for a torchvision model")
    p.add_argument("--layer", default=None, help="one layer for every method (default: each method's default)")
    p.add_argument("--target", default=None, help="class index or name (default: each image's top class)")
    p.add_argument("--steps", type=int, default=None, help="deletion / insertion steps (default: 100)")
    p.add_argument("--batch-size", type=int, default=32, help="perturbed inputs per model pass (default: 32)")
    p.add_argument("--out", default=None, help="write the table to this CSV file")
    p.set_defaults(run=run)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Compute the table: one row per (image, method), one column per metric."""
    from tqdm.auto import tqdm

    import camwidget as cw
    from camwidget.engine import methods, metrics, progress

    method_names = [methods.get(name).name for name in _split(args.methods)]
    metric_names = metrics._names(_split(args.metrics))
    if args.model == "default":
        model, preprocess, classes = cw.models.default()
    else:
        model, preprocess, classes = cw.models.torchvision(args.model, weights_path=args.weights)
    target = int(args.target) if args.target and args.target.isdigit() else args.target
    options = {} if args.steps is None else {"steps": args.steps}
    table = []
    with tqdm(total=len(args.images) * len(method_names), desc="evaluate", unit="map") as bar:
        def report(done: int, total: int, _partial: Any) -> None:
            bar.set_postfix_str(f"inputs {done}/{total}")

        for image_name in args.images:
            image = cw.samples.load(image_name) if image_name in cw.samples.NAMES else cw.images.load(image_name)
            session = cw.Session(model, image, preprocess=preprocess, classes=classes)
            for method in method_names:
                bar.set_description(f"{image_name} · {method}")
                with progress.reporting(report):
                    e = session.explain(method, layer=args.layer, target=target)
                    wanted = {k: v for k, v in options.items() if any(k in metrics.METRICS[m] for m in metric_names)}
                    results = session.evaluate(e, metric_names, batch_size=args.batch_size, **wanted)
                row = {"image": image_name, "method": method, "layer": e.layer, "target": e.target,
                       "class": e.class_name}
                row.update({name: result.value for name, result in results.items()})
                table.append(row)
                bar.update(1)
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    """The rows as an aligned plain-text table (numbers to 4 decimals)."""
    if not table:
        return ""
    columns = list(table[0])
    cells = [[f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns] for row in table]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) if table[0][c].__class__ is float else v.ljust(w)
                        for v, w, c in zip(r, widths, columns)) for r in cells]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    table = rows(args)
    print(format_table(table))
    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
        print(f"{len(table)} rows -> {args.out}", file=sys.stderr)
    return 0
