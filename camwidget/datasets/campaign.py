"""INV over a dataset: a labelling campaign across images and annotators.

    campaign = cw.Campaign("postgresql://team@db/labels", cw.models.default, dataset, name="cats")
    r = campaign.next_round("ana")            # the next (image, layer, cluster) ana has not played
    campaign.answer(r, guess="tabby", text="pointy ears", reveal_step=2)
    campaign.skip(r); campaign.undo("ana")
    campaign.global_explanation("tabby").plot(); campaign.report()

Creating a campaign precomputes every item's clusters (batched, on Dask with ``client=`` /
``workers=``) into a Zarr store and the label store's database, so a round never waits on
t-SNE. Opening it again — another annotator's kernel — finds it in the database and computes
nothing (the model is not even built). Rounds are handed out by :mod:`.rounds`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from ..engine.explanation import normalise, resize
from ..labels import reveal_steps
from ..labels.connection import open_engine
from ..labels.store import Annotation, LabelStore
from ..labels.validation import validated_row
from . import campaign_clusters as cc
from . import campaign_schema as cs
from . import targets as targets_
from .explain import first_readable, progress_bar, resolve_model
from .items import ItemSource, as_items
from .rounds import Progress, RoundBook, utcnow
from .store import ResultsStore, _holds_store, create_or_resume, ids_digest, zarr_module


@dataclass
class Round:
    """One round: show ``image`` through ``map`` (the cluster's map at image size, [0, 1]); the
    player guesses among ``choices`` and writes what they see."""

    cluster: int
    annotator: str
    item_id: str
    item_index: int
    layer: str
    layer_depth: int | None
    cluster_index: int
    cluster_id: str
    weight: float
    target: int
    target_name: str
    image: np.ndarray = field(repr=False)
    map: np.ndarray = field(repr=False)
    choices: list[str] = field(default_factory=list)
    progress: Progress | None = None

    def reveal_mask(self, step: int) -> np.ndarray:
        """The pixels shown at reveal ``step`` (0–5: the top 2, 4.5, 8, 13, 20, 30 %), as the game shows them."""
        return reveal_steps.reveal_mask(self.map, step)


class _Identity:
    """What the label store's validation asks of a session: fingerprints, classes, targets."""

    def __init__(self, image_fingerprint: str, model_fingerprint: str, classes: list[str] | None, count: int):
        self.image_fingerprint, self.model_fingerprint, self.classes, self._count = (
            image_fingerprint, model_fingerprint, classes, count)
        self.layers = ()

    def resolve_target(self, value: Any) -> int:
        if isinstance(value, str):
            lowered = [c.lower() for c in self.classes or []]
            if value.strip().lower() in lowered:
                return lowered.index(value.strip().lower())
            if value.strip().isdigit():
                value = int(value.strip())
            else:
                raise ValueError(f"no class named {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < self._count:
            raise ValueError(f"{value!r} is not a class index 0..{self._count - 1}")
        return int(value)


class Campaign:
    """A labelling campaign (see the module docstring).

    ``store``: a :class:`LabelStore` or its path / URL (PostgreSQL for several people).
    ``model_factory``: returns ``(model, preprocess, classes)``, e.g. ``cw.models.default``; called
    only when the clusters are not computed yet. ``layers``: None for the last nine
    convolutional layers (as the authors). ``classes``: only the items whose target is one of
    these classes (indices or names) are played; None: all. ``targets``: as in
    ``explain_dataset`` (default: the items' labels). ``rounds_per_cluster``: how many different
    people label each cluster. ``out``: the Zarr store of the cluster maps (default: beside a
    SQLite store as ``<store>-campaign-<name>.zarr``, else ``campaign-<name>.zarr`` here; a team needs a path every kernel reads).
    ``lease_s``: how long a handed-out round stays reserved for its player.
    """

    def __init__(self, store: Any, model_factory: Callable[[], tuple], dataset: Any, layers: Sequence[str] | None = None,
                 classes: Sequence[int | str] | None = None, *, name: str = "campaign", out: str | os.PathLike | None = None,
                 rounds_per_cluster: int = 2, targets: Any = "label", seed: int = 0, batch_size: int = 8,
                 lease_s: float = 600.0, on_error: str = "raise", progress: bool = True, client: Any = None,
                 workers: int | None = None) -> None:
        if isinstance(rounds_per_cluster, bool) or not isinstance(rounds_per_cluster, int) or rounds_per_cluster < 1:
            raise ValueError(f"rounds_per_cluster: expected a positive integer, got {rounds_per_cluster!r}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name: expected a non-empty campaign name, got {name!r}")
        if layers is not None and (isinstance(layers, str) or not len(layers)):
            raise ValueError("layers: give a non-empty list of layer names, or None for the last nine convolutional")
        self._owns_store = not isinstance(store, LabelStore)
        self.store = LabelStore(store) if self._owns_store else store
        self.name = name
        self.source: ItemSource | None = as_items(dataset)
        targets_.check(targets, len(self.source))
        self.engine = open_engine(self.store.url, self.store.path)
        with self.engine.connect().execution_options(camwidget_write=True) as connection, connection.begin():
            cs.create(connection, self.store.dialect)
        if out is None:
            out = (self.store.path.parent / f"{self.store.path.stem}-campaign-{name}.zarr") if self.store.path \
                else Path(f"campaign-{name}.zarr")
        wanted = {"ids": ids_digest(self.source.ids), "layers": None if layers is None else list(layers),
                  "classes": None if classes is None else [str(c) for c in classes], "seed": int(seed),
                  "targets": targets_.describe(targets), "rounds_per_cluster": rounds_per_cluster}
        spec = self._stored_spec()
        if spec is not None:
            differ = [k for k, v in wanted.items() if spec["wanted"].get(k) != v]
            if differ:
                raise ValueError(f"name: a campaign {name!r} with other parameters ({', '.join(differ)}) is in "
                                 f"{self.store!r}; choose another name")
            out = spec["out"]
        self.out = os.fspath(out) if "://" in os.fspath(out) else os.path.abspath(os.fspath(out))
        if spec is None and _holds_store(self.out) is not None:
            # this database has never started the campaign, so the maps there belong to another one
            raise ValueError(f"out: {self.out!r} holds the cluster maps of another campaign or store; "
                             f"give this campaign its own out=")
        if spec is None or not self._computed():
            spec = self._precompute(model_factory, wanted, classes, targets, seed, batch_size, on_error, progress,
                                    client, workers)
        self.spec = spec
        self.model_fingerprint: str = spec["model"]
        self.layers: list[str] = [n for n, _s, _d in spec["layers"]]
        self.class_names: list[str] | None = spec["class_names"]
        self.book = RoundBook(self.engine, self.store.dialect, name, rounds_per_cluster, lease_s)
        self.rounds_per_cluster = rounds_per_cluster

    @classmethod
    def open(cls, store: Any, name: str = "campaign", dataset: Any = None, lease_s: float = 600.0) -> Campaign:
        """A created campaign from the database alone (status, report); ``dataset`` is needed
        only to play rounds (their images)."""
        self = cls.__new__(cls)
        self._owns_store = not isinstance(store, LabelStore)
        self.store = LabelStore(store) if self._owns_store else store
        self.name = name
        self.engine = open_engine(self.store.url, self.store.path)
        with self.engine.connect().execution_options(camwidget_write=True) as connection, connection.begin():
            cs.create(connection, self.store.dialect)
        spec = self._stored_spec()
        if spec is None:
            with self.engine.connect() as connection:
                found = connection.execute(select(cs.campaigns.c.name)).scalars().all()
            self.close()
            raise ValueError(f"name: no campaign {name!r} in {self.store!r}; campaigns: {', '.join(found) or 'none'}")
        self.source = None if dataset is None else as_items(dataset)
        if self.source is not None and ids_digest(self.source.ids) != spec["wanted"]["ids"]:
            raise ValueError(f"dataset: not the dataset campaign {name!r} was created on (its item ids differ)")
        self.out, self.spec = spec["out"], spec
        self.model_fingerprint = spec["model"]
        self.layers = [n for n, _s, _d in spec["layers"]]
        self.class_names = spec["class_names"]
        self.rounds_per_cluster = int(spec["wanted"]["rounds_per_cluster"])
        self.book = RoundBook(self.engine, self.store.dialect, name, self.rounds_per_cluster, lease_s)
        return self

    # ---- precomputation ---------------------------------------------------------------------
    def _stored_spec(self) -> dict | None:
        with self.engine.connect() as connection:
            text = connection.execute(select(cs.campaigns.c.spec).where(cs.campaigns.c.name == self.name)).scalar()
        return None if text is None else json.loads(text)

    def _computed(self) -> bool:
        try:
            return not ResultsStore(self.out).pending_units()
        except Exception:  # noqa: BLE001 - no store yet, or an unfinished creation
            return False

    def _precompute(self, factory, wanted, classes, targets, seed, batch_size, on_error, progress, client, workers):
        source = self.source
        assert source is not None  # (created with a dataset: only __init__ precomputes)
        config = {"layers": wanted["layers"], "targets": targets, "seed": int(seed), "on_error": on_error,
                  "preprocess": None, "classes": None}
        if client is not None or workers is not None:
            from .scale import cache_key, cluster_client, dask_modules

            key = cache_key(factory, config, "campaign")
            with cluster_client(client, workers) as dask_client:
                [shared] = dask_client.scatter([source], broadcast=True)
                found, names = dask_client.submit(cc.probe_task, key, factory, shared, config, pure=False).result()
                store, keep = self._open_store(source, found, names, wanted, classes, batch_size)
                units = store.pending_units()
                bar = progress_bar(sum(map(len, units)), progress, f"campaign {self.name} (dask)")
                futures = [dask_client.submit(cc.unit_task, u, key, factory, shared, config, store.path, pure=False)
                           for u in units]
                for future in dask_modules().as_completed(futures):
                    rows, results = future.result()
                    self._register(store, rows, results, keep, bar)
                if bar is not None:
                    bar.close()
        else:
            model, preprocess, names = resolve_model(factory)
            made = cc.explainer(model, preprocess, names, source, wanted["layers"], targets, seed, on_error)
            found = cc.probe(made, first_readable(source, on_error))
            store, keep = self._open_store(source, found, names, wanted, classes, batch_size)
            units = store.pending_units()
            bar = progress_bar(sum(map(len, units)), progress, f"campaign {self.name}")
            for unit in units:
                results = made.run(unit)
                self._register(store, cc.write_unit(store.group, store.probe, results), results, keep, bar)
            if bar is not None:
                bar.close()
        return self._stored_spec()

    def _open_store(self, source: ItemSource, found, names, wanted, classes, batch_size):
        keep = None
        if classes is not None:
            probe_identity = _Identity("", "", list(names) if names else None, 10**9)
            keep = set()
            for c in classes:
                try:
                    keep.add(probe_identity.resolve_target(c))
                except ValueError as error:
                    raise ValueError(f"classes: {error}") from None
        store = create_or_resume(self.out, "campaign", {"methods": [], "name": self.name, **wanted}, source.ids,
                                 found, batch_size, extra=cc.create_arrays(found, len(source), batch_size))
        spec = {"wanted": wanted, "out": store.path, "model": found["model"], "layers": found["cluster_layers"],
                "class_names": None if names is None else list(names), "keep": None if keep is None else sorted(keep)}
        with self.engine.connect().execution_options(camwidget_write=True) as connection, connection.begin():
            exists = connection.execute(select(cs.campaigns.c.name).where(cs.campaigns.c.name == self.name)).first()
            if exists is None:
                connection.execute(insert(cs.campaigns).values(name=self.name, spec=json.dumps(spec), created_at=utcnow()))
        return store, keep

    def _register(self, store: ResultsStore, rows, results, keep, bar) -> None:
        """A unit's clusters into the database (idempotently), then the unit marked done."""
        c = cs.clusters
        rows = [r for r in rows if keep is None or r["target"] in keep]
        with self.engine.connect().execution_options(camwidget_write=True) as connection, connection.begin():
            have = {(r.item_id, r.layer, r.cluster_index) for r in connection.execute(
                select(c.c.item_id, c.c.layer, c.c.cluster_index).where(
                    c.c.campaign == self.name, c.c.item_index.in_([r.index for r in results])))}
            new = [{**r, "campaign": self.name, "plays": 0} for r in rows
                   if (r["item_id"], r["layer"], r["cluster_index"]) not in have]
            if new:
                connection.execute(insert(c), new)
        store.write(results)
        if bar is not None:
            bar.update(len(results))

    # ---- playing ------------------------------------------------------------------------------
    def next_round(self, annotator: str) -> Round | None:
        """The next round for ``annotator`` (the one they hold, if any), or None when every
        cluster is done for them."""
        row = self.book.claim(_annotator(annotator))
        return None if row is None else self._round(row, annotator)

    def answer(self, round_: Round, guess: int | str | None, text: str, reveal_step: int = 0,
               outcome: str | None = None) -> Annotation:
        """Record the round: the guess (None with ``outcome="give-up"``), what the player saw, the
        reveal step; the annotation, the play and the count are written in one transaction."""
        identity = _Identity(self._fingerprint(round_.item_index), self.model_fingerprint, self.class_names,
                             len(self.class_names) if self.class_names else 10**9)
        row = validated_row(identity, layer=round_.layer, cluster=round_.cluster_id, text=text, target=round_.target,
                            guess=guess, reveal_step=reveal_step, outcome=outcome, annotator=round_.annotator,
                            cluster_weight=round_.weight, layer_depth=round_.layer_depth)
        new_id = self.book.finish(round_.cluster, round_.annotator, row)
        assert new_id is not None  # (an annotation row was given)
        return Annotation(id=int(new_id), **row)

    def skip(self, round_: Round) -> None:
        """Pass on this round: it goes to somebody else, and never comes back to this player."""
        self.book.finish(round_.cluster, round_.annotator, None)

    def undo(self, annotator: str) -> Round | None:
        """Take back ``annotator``'s last round (label or skip) and hand it to them again."""
        row = self.book.undo(_annotator(annotator))
        return None if row is None else self._round(row, annotator)

    def release(self, annotator: str) -> None:
        """Give back the round ``annotator`` holds, so others can have it at once."""
        self.book.release(_annotator(annotator))

    def progress(self, annotator: str) -> Progress:
        return self.book.progress(_annotator(annotator))

    def status(self):
        """A pandas DataFrame, one row per cluster: item, layer, cluster, target, plays, holder."""
        from .results import pandas_module

        rows = self.book.rows()
        columns = ["item_id", "layer", "cluster_index", "target", "cluster_weight", "plays", "lease_annotator"]
        return pandas_module().DataFrame([{k: r[k] for k in columns} for r in rows], columns=columns)

    def _round(self, row: dict, annotator: str) -> Round:
        if self.source is None:
            raise ValueError("dataset: this campaign was opened without its dataset; Campaign.open(..., dataset=...) to play")
        item = self.source.item(row["item_index"])
        group = zarr_module().open_group(self.out, mode="r")
        raw = np.asarray(group[f"clusters/{row['layer']}"][row["item_index"], row["cluster_index"]])
        names = self.class_names
        keep = self.spec.get("keep")
        targets = sorted(set(keep) if keep else {r["target"] for r in self.book.rows()})
        choices = sorted(names[t] for t in targets) if names else [str(t) for t in targets]
        return Round(row["id"], annotator, row["item_id"], row["item_index"], row["layer"], row["layer_depth"],
                     row["cluster_index"], row["cluster_id"], float(row["cluster_weight"]), int(row["target"]),
                     names[row["target"]] if names else str(row["target"]), item.image,
                     normalise(resize(raw, item.image.shape[:2])), choices, self.book.progress(annotator))

    def _fingerprint(self, index: int) -> str:
        return str(zarr_module().open_group(self.out, mode="r")["items/fingerprint"][index])

    # ---- results ------------------------------------------------------------------------------
    def global_explanation(self, target: int | str, embedder: Any = None):
        """The class-level explanation of ``target`` from this campaign's labels (INV)."""
        from ..labels import global_explanation

        return global_explanation(self.store, target, model_fingerprint=self.model_fingerprint, layers=self.layers,
                                  embedder=embedder)

    def report(self, embedder: Any = None):
        """Every played class's global explanation, a table and a class-comparison plot."""
        from .campaign_report import CampaignReport

        return CampaignReport.of(self, embedder)

    def widget(self, annotator: str):
        """The reveal game served round after round for ``annotator`` (needs the widget extra)."""
        from ..widget.campaign import CampaignWidget

        return CampaignWidget(self, _annotator(annotator))

    def close(self) -> None:
        self.engine.dispose()
        if self._owns_store:
            self.store.close()

    def __repr__(self) -> str:
        p = self.book.progress("-")
        items = len(self.source) if self.source is not None else self.spec["wanted"].get("items", "?")
        return (f"Campaign({self.name!r}: {items} items, {p.clusters} clusters at {len(self.layers)} layers, "
                f"{p.plays}/{p.needed} labels)")


def _annotator(annotator: Any) -> str:
    if not isinstance(annotator, str) or not annotator.strip():
        raise ValueError(f"annotator: expected a person's name, got {annotator!r}")
    return annotator.strip()
