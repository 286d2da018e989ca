"""The dataset subcommands of the ``camwidget`` command line.

    camwidget explain-dataset photos/ --methods gradcam,gradcam++ --layers blocks.5 --out maps.zarr [--workers 4 | --scheduler tcp://host:8786]
    camwidget evaluate-dataset photos/ --methods gradcam,cam --metrics deletion,insertion --out results.csv
    camwidget campaign create photos/ --store labels.sqlite --name cats
    camwidget campaign status --store labels.sqlite --name cats
    camwidget campaign report --store labels.sqlite --name cats [--plot report.png]

A dataset is a folder of images (an ImageFolder-style tree gives labels) or ``samples:objects``
(the offline localisation set, ``--n`` items).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _common(p: argparse.ArgumentParser, dataset: bool = True) -> None:
    if dataset:
        p.add_argument("dataset", help="a folder of images, or samples:objects (the offline set)")
        p.add_argument("--n", type=int, default=32, help="items of samples:objects (default 32)")
    p.add_argument("--model", default="default", help="'default' (EfficientNet-Lite0) or a torchvision name")
    p.add_argument("--targets", default="top", help="top (default), label, or a class index or name")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="an unreadable image stops the run (raise) or is recorded and skipped")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, default=None, help="run on a local Dask cluster of N processes")
    group.add_argument("--scheduler", default=None, help="run on an existing Dask cluster (its scheduler address)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _split(text: str | None) -> list[str] | None:
    return None if text is None else _names(text)


def _names(text: str) -> list[str]:
    """A comma-separated option that has a default (``--methods``, ``--metrics``) as a list."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _model(name: str):
    import functools

    from .. import models

    return models.default if name == "default" else functools.partial(models.torchvision, name)


def _dataset(text: str, n: int):
    if text.startswith("samples:"):
        from .synthetic import dataset

        return dataset(text.split(":", 1)[1], n=n)
    return text


def _targets(text: str):
    return int(text) if text.isdigit() else text


def _client(args):
    if args.scheduler is None:
        return None
    from distributed import Client

    return Client(args.scheduler)


def _explain(args) -> int:
    from .explain import explain_dataset

    results = explain_dataset(_model(args.model), _dataset(args.dataset, args.n), methods=_names(args.methods),
                              layers=_split(args.layers), targets=_targets(args.targets), out=args.out,
                              batch_size=args.batch_size, on_error=args.on_error, overwrite=args.overwrite,
                              progress=not args.quiet, client=_client(args), workers=args.workers)
    print(results)
    failed = results.table[results.table.error != ""]
    for _, row in failed.iterrows():
        print(f"skipped {row.id}: {row.error}", file=sys.stderr)
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate_dataset

    steps = {"deletion": {"steps": args.steps}, "insertion": {"steps": args.steps}} if args.steps else None
    metrics = _names(args.metrics)
    evaluation = evaluate_dataset(_model(args.model), _dataset(args.dataset, args.n), methods=_names(args.methods),
                                  metrics=metrics, targets=_targets(args.targets), out=args.out,
                                  metric_params={k: v for k, v in (steps or {}).items() if k in metrics} or None,
                                  batch_size=args.batch_size, on_error=args.on_error, progress=not args.quiet,
                                  client=_client(args), workers=args.workers)
    print(evaluation.summary.to_string(index=False))
    if args.out:
        print(f"per-item rows -> {args.out}")
    return 0


def _campaign(args) -> int:
    from .campaign import Campaign

    if args.action == "create":
        if not args.dataset:
            raise ValueError("dataset: 'campaign create' needs the dataset (a folder or samples:objects)")
        campaign = Campaign(args.store, _model(args.model), _dataset(args.dataset, args.n), layers=_split(args.layers),
                            name=args.name, out=args.out, rounds_per_cluster=args.rounds, targets=_targets(args.targets),
                            batch_size=args.batch_size, on_error=args.on_error, progress=not args.quiet,
                            client=_client(args), workers=args.workers)
        print(campaign)
        return 0
    campaign = Campaign.open(args.store, args.name)
    try:
        if args.action == "status":
            table = campaign.status()
            print(campaign)
            print(table.groupby("layer", sort=False)["plays"].describe()[["count", "mean", "min", "max"]].to_string())
        else:
            report = campaign.report()
            print(report)
            if args.plot:
                import matplotlib

                matplotlib.use("Agg")
                report.plot().savefig(args.plot, bbox_inches="tight", dpi=110)
                print(f"plot -> {args.plot}")
    finally:
        campaign.close()
    return 0


def register(sub) -> dict[str, Callable]:
    """Add the subcommands to ``sub``; returns {command: handler}."""
    p = sub.add_parser("explain-dataset", help="maps of every image of a dataset into a Zarr store",
                       description="Explain every image of a folder (batched) into a resumable Zarr store.")
    _common(p)
    p.add_argument("--methods", default="gradcam", help="comma-separated method names (default gradcam)")
    p.add_argument("--layers", default=None, help="comma-separated layer names (default: every layer)")
    p.add_argument("--out", default="maps.zarr")
    p.add_argument("--overwrite", action="store_true", help="replace a store written with other parameters")
    p = sub.add_parser("evaluate-dataset", help="faithfulness metrics of methods over a dataset",
                       description="Metrics of methods over a dataset: per-item rows and a summary with 95 % intervals.")
    _common(p)
    p.add_argument("--methods", default="gradcam,gradcam++")
    p.add_argument("--metrics", default="deletion,insertion,avg-drop")
    p.add_argument("--steps", type=int, default=None, help="deletion / insertion steps")
    p.add_argument("--out", default=None, help="a .csv (or .parquet) for the per-item rows")
    p = sub.add_parser("campaign", help="INV labelling campaigns: create, status, report",
                       description="Create a labelling campaign (precompute the clusters), or show its status or report.")
    p.add_argument("action", choices=("create", "status", "report"))
    p.add_argument("dataset", nargs="?", default=None, help="(create) a folder of images, or samples:objects")
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--store", required=True, help="the label store: a SQLite path or a database URL")
    p.add_argument("--name", default="campaign")
    p.add_argument("--layers", default=None, help="(create) default: the last nine convolutional layers")
    p.add_argument("--rounds", type=int, default=2, help="people per cluster (default 2)")
    p.add_argument("--out", default=None, help="(create) the Zarr store of cluster maps")
    p.add_argument("--plot", default=None, help="(report) save the class comparison as a PNG")
    p.add_argument("--model", default="default")
    p.add_argument("--targets", default="label")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, default=None)
    group.add_argument("--scheduler", default=None)
    p.add_argument("--quiet", action="store_true")
    handlers = {"explain-dataset": _explain, "evaluate-dataset": _evaluate, "campaign": _campaign}
    return {name: _guarded(handler) for name, handler in handlers.items()}


def _guarded(handler: Callable) -> Callable:
    from ..labels.errors import LabelStoreError

    def run(args) -> int:
        try:
            return handler(args)
        except (ValueError, TypeError, ImportError, LabelStoreError) as error:
            print(f"camwidget: {error}", file=sys.stderr)
            return 2
    return run
