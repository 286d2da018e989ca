"""Round assignment for a labelling campaign, on the label store's database.

A *round* is one (item, layer, cluster) handed to one annotator. The rules:

- an annotator is handed only clusters they have not played (labelled or skipped);
- a cluster is handed out until ``rounds_per_cluster`` different people have labelled it, the
  least-played clusters first (then in dataset order), so the work spreads evenly;
- a cluster is held by at most one person at a time: handing it out writes a *lease* (annotator,
  expiry) on the cluster's row in the same transaction that chose it — on PostgreSQL the choice
  is ``SELECT … FOR UPDATE SKIP LOCKED``, so two kernels asking at the same moment get different
  clusters; on SQLite the writing transaction holds the database's write lock;
- a round is never lost: a kernel that dies mid-round leaves a lease that expires after
  ``lease_s`` seconds, and the cluster goes back to the pool (the same annotator asking again
  before that gets their round back); finishing a round writes the annotation, the play and the
  cluster's count in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Integer, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from ..labels import schema as label_schema
from . import campaign_schema as cs


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Progress:
    """How far a campaign and one annotator are."""

    annotator: str
    played: int        #: rounds this annotator finished (labelled or skipped)
    clusters: int      #: clusters in the campaign
    plays: int         #: labels written so far, over everybody
    needed: int        #: clusters × rounds_per_cluster
    complete: int      #: clusters labelled by rounds_per_cluster people

    @property
    def line(self) -> str:
        return (f"round {self.played + 1} of {self.clusters} for {self.annotator} · campaign "
                f"{self.plays}/{self.needed} labels, {self.complete}/{self.clusters} clusters complete")


class RoundBook:
    """The campaign ``name``'s rounds in ``engine``'s database."""

    def __init__(self, engine: Engine, dialect: str, name: str, rounds_per_cluster: int, lease_s: float) -> None:
        self.engine, self.dialect, self.name = engine, dialect, name
        self.rounds_per_cluster, self.lease_s = int(rounds_per_cluster), float(lease_s)

    def _write(self):
        return self.engine.connect().execution_options(camwidget_write=True)

    # ---- handing out ------------------------------------------------------------------------
    def claim(self, annotator: str) -> dict[str, Any] | None:
        """The next round for ``annotator`` (their unexpired lease first), or None when there is
        nothing left for them; the cluster's row as a dict."""
        c, p = cs.clusters, cs.plays
        now = utcnow()
        with self._write() as connection, connection.begin():
            held = connection.execute(
                select(c).where(c.c.campaign == self.name, c.c.lease_annotator == annotator, c.c.lease_until > now)
                .order_by(c.c.id).limit(1)
            ).mappings().first()
            if held is not None:
                return dict(held)
            played = exists().where(p.c.cluster == c.c.id, p.c.annotator == annotator)
            free = or_(c.c.lease_until.is_(None), c.c.lease_until <= now)
            query = (select(c).where(c.c.campaign == self.name, c.c.plays < self.rounds_per_cluster, free, ~played)
                     .order_by(c.c.plays, c.c.position, c.c.id).limit(1))
            if self.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=c)
            row = connection.execute(query).mappings().first()
            if row is None:
                return None
            until = now + timedelta(seconds=self.lease_s)
            connection.execute(update(c).where(c.c.id == row["id"]).values(lease_annotator=annotator, lease_until=until))
            return {**dict(row), "lease_annotator": annotator, "lease_until": until}

    # ---- finishing ----------------------------------------------------------------------------
    def finish(self, cluster: int, annotator: str, annotation: dict[str, Any] | None) -> int | None:
        """Record ``annotator``'s round on ``cluster``: the annotation row (None: skipped), the
        play and the count, in one transaction; returns the annotation's id."""
        c, p = cs.clusters, cs.plays
        with self._write() as connection, connection.begin():
            if connection.execute(select(p.c.id).where(p.c.cluster == cluster, p.c.annotator == annotator)).first():
                raise ValueError(f"annotator: {annotator!r} has played this round already")
            new_id = None
            if annotation is not None:
                new_id = int(connection.execute(insert(label_schema.annotations).values(**annotation))
                             .inserted_primary_key[0])
            connection.execute(insert(p).values(cluster=cluster, campaign=self.name, annotator=annotator,
                                                outcome="labelled" if annotation is not None else "skipped",
                                                annotation_id=new_id, created_at=utcnow()))
            changes: dict[str, Any] = {}
            if annotation is not None:
                changes["plays"] = c.c.plays + 1
            mine = and_(c.c.id == cluster, c.c.lease_annotator == annotator)
            if changes:
                connection.execute(update(c).where(c.c.id == cluster).values(**changes))
            connection.execute(update(c).where(mine).values(lease_annotator=None, lease_until=None))
        return new_id

    def undo(self, annotator: str) -> dict[str, Any] | None:
        """Take back ``annotator``'s last round in this campaign (its annotation deleted, the count
        restored) and hand that round back to them; None when they have played nothing."""
        c, p = cs.clusters, cs.plays
        now = utcnow()
        with self._write() as connection, connection.begin():
            last = connection.execute(
                select(p).where(p.c.campaign == self.name, p.c.annotator == annotator).order_by(p.c.id.desc()).limit(1)
            ).mappings().first()
            if last is None:
                return None
            if last["annotation_id"] is not None:
                connection.execute(delete(label_schema.annotations).where(label_schema.annotations.c.id == last["annotation_id"]))
                connection.execute(update(c).where(c.c.id == last["cluster"]).values(plays=c.c.plays - 1))
            connection.execute(delete(p).where(p.c.id == last["id"]))
            # give the round back to this annotator unless somebody else holds it now
            free = or_(c.c.lease_until.is_(None), c.c.lease_until <= now, c.c.lease_annotator == annotator)
            connection.execute(update(c).where(c.c.id == last["cluster"], free).values(
                lease_annotator=annotator, lease_until=now + timedelta(seconds=self.lease_s)))
            row = connection.execute(select(c).where(c.c.id == last["cluster"])).mappings().first()
            return {**dict(row), "undone": dict(last)}

    def release(self, annotator: str) -> None:
        """Give back whatever ``annotator`` holds (closing a widget, ending a session)."""
        c = cs.clusters
        with self._write() as connection, connection.begin():
            connection.execute(update(c).where(c.c.campaign == self.name, c.c.lease_annotator == annotator)
                               .values(lease_annotator=None, lease_until=None))

    # ---- reading ------------------------------------------------------------------------------
    def progress(self, annotator: str) -> Progress:
        c, p = cs.clusters, cs.plays
        with self.engine.connect() as connection:
            clusters, plays, complete = connection.execute(
                select(func.count(), func.coalesce(func.sum(c.c.plays), 0),
                       func.coalesce(func.sum((c.c.plays >= self.rounds_per_cluster).cast(Integer)), 0))
                .where(c.c.campaign == self.name)
            ).one()
            played = connection.execute(
                select(func.count()).select_from(p).where(p.c.campaign == self.name, p.c.annotator == annotator)
            ).scalar_one()
        return Progress(annotator, int(played), int(clusters), int(plays), int(clusters) * self.rounds_per_cluster,
                        int(complete))

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(
                select(cs.clusters).where(cs.clusters.c.campaign == self.name).order_by(cs.clusters.c.position)
            ).mappings()]

    def played(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(
                select(cs.plays).where(cs.plays.c.campaign == self.name).order_by(cs.plays.c.id)).mappings()]
