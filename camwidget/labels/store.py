"""LabelStore: every annotation people write about a cluster, kept in a real database.

SQLite in the user's data directory by default (one person, several notebooks), any SQLAlchemy
URL otherwise (PostgreSQL for a team). One transaction per annotation: an annotation is either
stored whole or not at all.

How a store is opened (URLs, SQLite's WAL and write lock, PostgreSQL's schema lock) is in
:mod:`.connection`; what an annotation must satisfy before it is written is in
:mod:`.validation`. This module is the store's API: writing, reading, filtering, ordering.

Label text is data: it is stored and returned as given (stripped), never formatted into HTML.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from . import schema
from .connection import SQLITE_BUSY_TIMEOUT_S, _resolve_url, default_path, open_engine, prepare_schema
from .errors import LabelStoreError, LabelValidationError
from .validation import validated_row

__all__ = [
    "Annotation",
    "ClassSummary",
    "LabelStore",
    "LabelStoreError",
    "LabelValidationError",
    "SQLITE_BUSY_TIMEOUT_S",
    "default_path",
    "layer_order",
]


@dataclass(frozen=True)
class Annotation:
    """One stored annotation. ``created_at`` is timezone-aware UTC."""

    id: int
    image_fingerprint: str
    model_fingerprint: str
    target: int
    target_name: str | None
    layer: str
    layer_depth: int | None
    cluster_id: str
    cluster_weight: float | None
    reveal_step: int
    guess: int | None
    guess_name: str | None
    correct: bool | None
    outcome: str | None
    text: str
    annotator: str | None
    created_at: datetime


@dataclass(frozen=True)
class ClassSummary:
    """A class that has annotations: its index, name, annotation and image counts."""

    target: int
    name: str | None
    annotations: int
    images: int


_COLUMNS = [f.name for f in fields(Annotation)]

#: Waits between the attempts of a write whose database connection was lost (a PostgreSQL
#: restart, a dropped network link): six attempts over about 8 seconds, then LabelStoreError.
WRITE_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Columns that identify one annotation when a retried write checks whether the lost attempt
#: was committed after all (``created_at`` is set once, to the microsecond, before the first try).
_IDENTITY = ("created_at", "image_fingerprint", "model_fingerprint", "layer", "cluster_id", "text")


def _natural_key(name: str) -> list:
    """'blocks.10' after 'blocks.9': digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class LabelStore:
    """Annotations of clusters, in SQLite (default) or any SQLAlchemy database.

    ``LabelStore()`` opens ``<user data dir>/camwidget/labels.sqlite``; ``LabelStore(path)`` or
    ``LabelStore("sqlite:///path")`` another SQLite file; ``LabelStore("postgresql+psycopg://
    user@host/db")`` a shared PostgreSQL database. The schema is created on first use.
    """

    def __init__(self, url: str | os.PathLike | URL | None = None):
        self.url, self.path = _resolve_url(url)
        self._shown = self.url.render_as_string(hide_password=True)
        self.dialect = self.url.get_backend_name()
        self._engine: Engine | None = None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = self._create_engine()
            self._prepare_schema()
            self._file_id = self._stat_file()
        except LabelStoreError:
            self.close()
            raise
        except (SQLAlchemyError, OSError, ImportError, ValueError) as e:
            self.close()
            raise LabelStoreError(f"cannot open the label store {self._shown}: {e}") from e

    # -- connection ------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        return open_engine(self.url, self.path)

    def _stat_file(self) -> tuple[int, int] | None:
        """The SQLite file's (device, inode), None for other databases (and in memory)."""
        if self.path is None or self.dialect != "sqlite":
            return None
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    def _check_file(self, after: str = "") -> None:
        """LabelStoreError when the SQLite file was deleted or replaced under this open store
        (SQLite would go on writing to the deleted file, and every row written there is lost)."""
        expected = getattr(self, "_file_id", None)
        if expected is None:
            return
        found = self._stat_file()
        if found != expected:
            how = "deleted" if found is None else "replaced by another file"
            raise LabelStoreError(
                f"the label store file {self.path} was {how} while the store was open{after}; "
                f"open the store again (LabelStore({str(self.path)!r}))"
            )

    @contextmanager
    def _transaction(self, *, write: bool, wrap: bool = True):
        """One transaction; database errors become LabelStoreError (``wrap=False``: as raised)."""
        if self._engine is None:
            raise LabelStoreError(f"the label store {self._shown} is closed")
        self._check_file()
        try:
            with self._engine.connect() as connection:
                if write:
                    connection = connection.execution_options(camwidget_write=True)
                with connection.begin():
                    yield connection
        except SQLAlchemyError as e:
            if not wrap:
                raise
            raise LabelStoreError(f"the label store {self._shown} failed: {e}") from e

    def _prepare_schema(self) -> None:
        with self._transaction(write=True, wrap=False) as connection:
            prepare_schema(connection, self.dialect, self._shown)

    @property
    def schema_version(self) -> int:
        with self._transaction(write=False) as connection:
            return connection.execute(select(func.max(schema.schema_version.c.version))).scalar()

    def close(self) -> None:
        """Release the store's connections. Safe to call twice."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LabelStore({self._shown!r})"

    # -- writing ---------------------------------------------------------------------------

    def annotate(
        self,
        session: Any,
        *,
        layer: str,
        cluster: Any,
        text: str,
        target: int | str | None = None,
        guess: int | str | None = None,
        reveal_step: int = 0,
        outcome: str | None = None,
        annotator: str | None = None,
        cluster_weight: float | None = None,
        layer_depth: int | None = None,
    ) -> Annotation:
        """Record what a person sees in one cluster; returns the stored annotation.

        ``session`` gives the image and model fingerprints, the class names and resolves
        ``target`` and ``guess``. ``cluster`` is a cluster (its ``.id`` and ``.weight`` are used,
        and its ``.target`` where it has one) or a cluster id. ``target=None``: the cluster's
        target, else the session's default target. ``outcome`` is one of
        ``win``, ``loss``, ``give-up``; left out, it follows from ``guess`` (none without one).
        Everything is validated before anything is written; the write is one transaction.
        """
        row = self._validated_row(
            session,
            layer=layer,
            cluster=cluster,
            text=text,
            target=target,
            guess=guess,
            reveal_step=reveal_step,
            outcome=outcome,
            annotator=annotator,
            cluster_weight=cluster_weight,
            layer_depth=layer_depth,
        )
        new_id = self._write(row)
        self._check_file(after=f": annotation {new_id} went to the deleted file and is lost")
        return Annotation(id=int(new_id), **row)

    def _write(self, row: dict) -> int:
        """Insert ``row`` in one transaction; the new id. A lost connection (server restart,
        network) is retried after each of ``WRITE_RETRY_DELAYS_S``; a retry first looks for the
        row, in case the lost attempt committed before its answer was lost."""
        table = schema.annotations
        attempts = 1 + (len(WRITE_RETRY_DELAYS_S) if self.dialect != "sqlite" else 0)
        for attempt in range(attempts):
            try:
                with self._transaction(write=True, wrap=False) as connection:
                    if attempt:
                        found = connection.execute(select(table.c.id).where(
                            *(table.c[name] == row[name] for name in _IDENTITY))).scalar()
                        if found is not None:
                            return int(found)
                    return int(connection.execute(insert(table).values(**row)).inserted_primary_key[0])
            except SQLAlchemyError as e:
                if attempt + 1 < attempts and _connection_lost(e):
                    time.sleep(WRITE_RETRY_DELAYS_S[attempt])
                    continue
                tried = f" after {attempt + 1} attempts over {sum(WRITE_RETRY_DELAYS_S[:attempt]):.1f} s" if attempt else ""
                raise LabelStoreError(f"could not write the annotation to {self._shown}{tried}: {e}") from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _validated_row(self, session, **fields) -> dict:
        return validated_row(session, **fields)

    # -- reading ---------------------------------------------------------------------------

    _FILTERS = ("image_fingerprint", "model_fingerprint", "target", "layer", "cluster_id",
                "annotator", "outcome")

    def _where(self, statement, filters: dict):
        unknown = set(filters) - set(self._FILTERS)
        if unknown:
            raise TypeError(f"unknown filter(s) {', '.join(sorted(unknown))}; "
                            f"filter by {', '.join(self._FILTERS)}")
        table = schema.annotations
        for column in ("image_fingerprint", "model_fingerprint", "layer", "cluster_id",
                       "annotator", "outcome"):
            value = filters.get(column)
            if value is not None:
                statement = statement.where(table.c[column] == value)
        target = filters.get("target")
        if isinstance(target, str):
            statement = statement.where(table.c.target_name == target)
        elif target is not None:
            statement = statement.where(table.c.target == int(target))
        return statement

    def annotations(
        self,
        *,
        image_fingerprint: str | None = None,
        model_fingerprint: str | None = None,
        target: int | str | None = None,
        layer: str | None = None,
        cluster_id: str | None = None,
        annotator: str | None = None,
        outcome: str | None = None,
    ) -> list[Annotation]:
        """Stored annotations matching every given filter, oldest first.

        ``target`` is a class index or a class name (matched against the stored name).
        """
        filters = dict(image_fingerprint=image_fingerprint, model_fingerprint=model_fingerprint,
                       target=target, layer=layer, cluster_id=cluster_id, annotator=annotator,
                       outcome=outcome)
        statement = self._where(select(schema.annotations), filters).order_by(schema.annotations.c.id)
        with self._transaction(write=False) as connection:
            rows = connection.execute(statement).mappings().all()
        return [_annotation(row) for row in rows]

    def count(self, **filters) -> int:
        """How many annotations match the filters of :meth:`annotations`."""
        statement = self._where(select(func.count()).select_from(schema.annotations), filters)
        with self._transaction(write=False) as connection:
            return int(connection.execute(statement).scalar())

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Annotation]:
        return iter(self.annotations())

    def classes(self, *, model_fingerprint: str | None = None) -> list[ClassSummary]:
        """The classes that have annotations, by class index."""
        table = schema.annotations
        statement = self._where(
            select(
                table.c.target,
                func.max(table.c.target_name),
                func.count(),
                func.count(func.distinct(table.c.image_fingerprint)),
            ).group_by(table.c.target).order_by(table.c.target),
            {"model_fingerprint": model_fingerprint},
        )
        with self._transaction(write=False) as connection:
            rows = connection.execute(statement).all()
        return [ClassSummary(int(t), name, int(n), int(images)) for t, name, n, images in rows]

    def by_class(self, *, model_fingerprint: str | None = None) -> Iterator[tuple[ClassSummary, list[Annotation]]]:
        """Each annotated class with its annotations, one class at a time."""
        for summary in self.classes(model_fingerprint=model_fingerprint):
            yield summary, self.annotations(target=summary.target, model_fingerprint=model_fingerprint)

    def layers(self, *, target: int | str | None = None, model_fingerprint: str | None = None) -> list[str]:
        """The annotated layers in the store's layer order: by recorded depth where the session
        gave one, then by name with numbers compared as numbers ('blocks.9' before 'blocks.10')."""
        table = schema.annotations
        statement = self._where(
            select(table.c.layer, func.min(table.c.layer_depth)).group_by(table.c.layer),
            {"target": target, "model_fingerprint": model_fingerprint},
        )
        with self._transaction(write=False) as connection:
            rows = connection.execute(statement).all()
        return [layer for layer, _ in sorted(rows, key=_layer_order)]

    def check(self) -> int:
        """Check the store's integrity (SQLite: ``PRAGMA integrity_check``); return the count.

        Raises :class:`LabelStoreError` when the database reports damage.
        """
        try:
            with self._transaction(write=False, wrap=False) as connection:
                if self.dialect == "sqlite":
                    result = [r[0] for r in connection.exec_driver_sql("PRAGMA integrity_check")]
                    if result != ["ok"]:
                        raise LabelStoreError(f"the label store {self._shown} is damaged: {result[:5]}")
                return int(connection.execute(select(func.count()).select_from(schema.annotations)).scalar())
        except SQLAlchemyError as e:
            raise LabelStoreError(f"the label store {self._shown} is damaged or unreadable: {e}") from e


def _connection_lost(error: SQLAlchemyError) -> bool:
    """Whether ``error`` says the database connection went away (worth retrying), not that
    the statement was wrong."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (OperationalError, InterfaceError))


def layer_order(layers: list[tuple[str, int | None]]) -> list[str]:
    """Order (layer, depth) pairs as :meth:`LabelStore.layers` does."""
    return [layer for layer, _ in sorted(layers, key=_layer_order)]


def _layer_order(pair) -> tuple:
    layer, depth = pair
    return (depth is None, depth if depth is not None else 0, _natural_key(layer))


def _annotation(row) -> Annotation:
    values = {name: row[name] for name in _COLUMNS}
    created = values["created_at"]
    if isinstance(created, datetime):
        # SQLite keeps no zone (we store UTC); PostgreSQL answers in the server's zone
        values["created_at"] = (created.replace(tzinfo=timezone.utc) if created.tzinfo is None
                                else created.astimezone(timezone.utc))
    if values["correct"] is not None:
        values["correct"] = bool(values["correct"])
    return Annotation(**values)
