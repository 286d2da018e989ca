"""LabelStore: every annotation people write about a cluster, kept in a real database.

SQLite in the user's data directory by default (one person, several notebooks), any SQLAlchemy
URL otherwise (PostgreSQL for a team). One transaction per annotation: an annotation is either
stored whole or not at all.

SQLite runs in WAL mode with a busy timeout and takes the write lock at the start of each
writing transaction (``BEGIN IMMEDIATE``), so several processes writing at once wait for each
other instead of failing, and a process killed mid-write leaves its transaction uncommitted
and the file consistent. PostgreSQL uses plain transactions; the schema is created under an
advisory lock so that several first-time openers do not race.

Label text is data: it is stored and returned as given (stripped), never formatted into HTML.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy import text as sql
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from . import schema
from .schema import MAX_NAME, MAX_TEXT, OUTCOMES, REVEAL_STEPS, SCHEMA_VERSION

#: Seconds a SQLite writer waits for another process's write to finish before giving up.
SQLITE_BUSY_TIMEOUT_S = 60
#: Key of the PostgreSQL advisory lock held while the schema is created or checked.
_PG_SCHEMA_LOCK = 0x63616D77  # "camw"


class LabelStoreError(RuntimeError):
    """The store cannot be opened, is of an unknown (newer) schema, or a write failed."""


class LabelValidationError(LabelStoreError, ValueError):
    """An annotation was refused before anything was written."""


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


def default_path() -> Path:
    """Where the default SQLite store lives: ``<user data dir>/camwidget/labels.sqlite``."""
    try:
        from platformdirs import user_data_dir

        base = Path(user_data_dir("camwidget", appauthor=False))
    except ImportError:  # platformdirs is optional; follow XDG by hand
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = Path(xdg) / "camwidget"
    return base / "labels.sqlite"


def _resolve_url(url: str | os.PathLike | URL | None) -> tuple[URL, Path | None]:
    """The SQLAlchemy URL for ``url``, and the SQLite file path when it is one."""
    if url is None:
        path = default_path()
        return make_url(f"sqlite:///{path}"), path
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, os.PathLike) or (isinstance(url, str) and "://" not in url):
        text_url = os.fspath(url)
        if not text_url.strip():
            raise LabelStoreError("cannot open the label store: the url is empty")
        path = Path(text_url).expanduser().resolve()
        return make_url(f"sqlite:///{path}"), path
    elif isinstance(url, str):
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            raise LabelStoreError(f"cannot open the label store {url!r}: {e}") from e
    else:
        raise LabelStoreError(
            f"cannot open the label store {url!r}: expected a file path or a SQLAlchemy URL"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
    path = None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            path = Path(parsed.database).expanduser().resolve()
            parsed = parsed.set(database=str(path))
    return parsed, path


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
        except LabelStoreError:
            self.close()
            raise
        except (SQLAlchemyError, OSError, ImportError, ValueError) as e:
            self.close()
            raise LabelStoreError(f"cannot open the label store {self._shown}: {e}") from e

    # -- connection ------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if self.dialect != "sqlite":
            return create_engine(self.url, pool_pre_ping=True)
        memory = self.path is None
        engine = create_engine(
            self.url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **({"poolclass": StaticPool} if memory else {}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            writing = connection.get_execution_options().get("camwidget_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine

    @contextmanager
    def _transaction(self, *, write: bool):
        if self._engine is None:
            raise LabelStoreError(f"the label store {self._shown} is closed")
        with self._engine.connect() as connection:
            if write:
                connection = connection.execution_options(camwidget_write=True)
            with connection.begin():
                yield connection

    def _prepare_schema(self) -> None:
        with self._transaction(write=True) as connection:
            if self.dialect == "postgresql":
                connection.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
            schema.schema_version.create(connection, checkfirst=True)
            found = connection.execute(select(func.max(schema.schema_version.c.version))).scalar()
            if found is None:
                schema.annotations.create(connection, checkfirst=True)
                connection.execute(
                    insert(schema.schema_version).values(
                        version=SCHEMA_VERSION, created_at=datetime.now(timezone.utc)
                    )
                )
            elif found > SCHEMA_VERSION:
                raise LabelStoreError(
                    f"the label store {self._shown} has schema version {found}, newer than "
                    f"this camwidget understands ({SCHEMA_VERSION}); upgrade camwidget to use it"
                )
            elif found < SCHEMA_VERSION:  # pragma: no cover - no older version exists yet
                schema.upgrade(connection, found)

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
        try:
            with self._transaction(write=True) as connection:
                result = connection.execute(insert(schema.annotations).values(**row))
                new_id = result.inserted_primary_key[0]
        except SQLAlchemyError as e:
            raise LabelStoreError(f"could not write the annotation to {self._shown}: {e}") from e
        return Annotation(id=int(new_id), **row)

    def _validated_row(self, session, *, layer, cluster, text, target, guess, reveal_step,
                       outcome, annotator, cluster_weight, layer_depth) -> dict:
        image_fp = _name(getattr(session, "image_fingerprint", None), "session.image_fingerprint")
        model_fp = _name(getattr(session, "model_fingerprint", None), "session.model_fingerprint")
        layer = _name(layer, "layer")
        label = _label_text(text)

        if isinstance(cluster, str):
            cluster_id = cluster
        elif hasattr(cluster, "id"):
            cluster_id = str(cluster.id)
            if cluster_weight is None:
                cluster_weight = getattr(cluster, "weight", None)
        else:
            raise LabelValidationError(
                f"cluster must be a cluster (with an .id) or a cluster id string, not {cluster!r}"
            )
        cluster_id = _name(cluster_id, "cluster id")
        if cluster_weight is not None:
            try:
                cluster_weight = float(cluster_weight)
            except (TypeError, ValueError):
                raise LabelValidationError(f"cluster weight must be a number, not {cluster_weight!r}") from None
            if not math.isfinite(cluster_weight) or cluster_weight < 0:
                raise LabelValidationError(
                    f"cluster weight must be a finite percentage ≥ 0, not {cluster_weight}"
                )

        if isinstance(reveal_step, bool) or not isinstance(reveal_step, int) or reveal_step not in REVEAL_STEPS:
            raise LabelValidationError(
                f"reveal step must be an integer from {REVEAL_STEPS.start} to "
                f"{REVEAL_STEPS.stop - 1}, not {reveal_step!r}"
            )

        classes = getattr(session, "classes", None)
        target_index = _resolve(session, target, "target")
        cluster_target = getattr(cluster, "target", None) if not isinstance(cluster, str) else None
        if isinstance(cluster_target, int) and not isinstance(cluster_target, bool):
            # a cluster computed for one class describes that class
            if target is None:
                target_index = _resolve(session, cluster_target, "target")
            elif cluster_target != target_index:
                raise LabelValidationError(
                    f"cluster {cluster_id} was computed for class {cluster_target}, not for the "
                    f"target {target!r} ({target_index})"
                )
        guess_index = None if guess is None else _resolve(session, guess, "guess")
        correct = None if guess_index is None else guess_index == target_index

        if outcome is None:
            outcome = None if correct is None else ("win" if correct else "loss")
        elif outcome not in OUTCOMES:
            raise LabelValidationError(f"outcome must be one of {', '.join(OUTCOMES)} or None, not {outcome!r}")
        elif outcome == "win" and correct is not True:
            raise LabelValidationError("outcome 'win' needs a correct guess")
        elif outcome != "win" and correct is True:
            raise LabelValidationError(f"outcome {outcome!r} contradicts a correct guess")

        if annotator is not None:
            annotator = annotator.strip() if isinstance(annotator, str) else annotator
            annotator = _name(annotator, "annotator") if annotator else None

        if layer_depth is None:
            layer_depth = _layer_depth(session, layer)
        elif isinstance(layer_depth, bool) or not isinstance(layer_depth, int):
            raise LabelValidationError(f"layer depth must be an integer, not {layer_depth!r}")

        return dict(
            image_fingerprint=image_fp,
            model_fingerprint=model_fp,
            target=target_index,
            target_name=_class_name(classes, target_index),
            layer=layer,
            layer_depth=layer_depth,
            cluster_id=cluster_id,
            cluster_weight=cluster_weight,
            reveal_step=reveal_step,
            guess=guess_index,
            guess_name=_class_name(classes, guess_index),
            correct=correct,
            outcome=outcome,
            text=label,
            annotator=annotator,
            created_at=datetime.now(timezone.utc),
        )

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
        with self._transaction(write=False) as connection:
            if self.dialect == "sqlite":
                result = [r[0] for r in connection.exec_driver_sql("PRAGMA integrity_check")]
                if result != ["ok"]:
                    raise LabelStoreError(f"the label store {self._shown} is damaged: {result}")
            return int(connection.execute(select(func.count()).select_from(schema.annotations)).scalar())


def layer_order(layers: list[tuple[str, int | None]]) -> list[str]:
    """Order (layer, depth) pairs as :meth:`LabelStore.layers` does."""
    return [layer for layer, _ in sorted(layers, key=_layer_order)]


def _layer_order(pair) -> tuple:
    layer, depth = pair
    return (depth is None, depth if depth is not None else 0, _natural_key(layer))


# -- validation helpers ------------------------------------------------------------------------


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise LabelValidationError(f"{what} must be a string, not {value!r}")
    if not value.strip():
        raise LabelValidationError(f"{what} is empty")
    if len(value) > MAX_NAME:
        raise LabelValidationError(f"{what} is {len(value)} characters long; the limit is {MAX_NAME}")
    if "\x00" in value:
        raise LabelValidationError(f"{what} contains a NUL character")
    return value


def _label_text(text: Any) -> str:
    if not isinstance(text, str):
        raise LabelValidationError(f"label text must be a string, not {type(text).__name__}")
    label = text.strip()
    if not label:
        raise LabelValidationError("label text is empty; write what the cluster shows")
    if len(label) > MAX_TEXT:
        raise LabelValidationError(
            f"label text is {len(label)} characters long; the limit is {MAX_TEXT} characters"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise LabelValidationError("label text contains control characters (newlines, tabs, ...); write one line")
    return label


def _resolve(session: Any, value: Any, what: str) -> int:
    try:
        index = session.resolve_target(value)
    except (ValueError, KeyError, IndexError, TypeError, LookupError) as e:
        raise LabelValidationError(f"unknown {what} {value!r}: {e}") from e
    if isinstance(index, bool) or not isinstance(index, int):
        try:
            index = int(index)  # numpy integers
        except (TypeError, ValueError):
            raise LabelValidationError(f"{what} {value!r} resolved to {index!r}, not a class index") from None
    if index < 0:
        raise LabelValidationError(f"{what} {value!r} resolved to a negative class index {index}")
    return index


def _class_name(classes, index: int | None) -> str | None:
    if index is None or not classes or index >= len(classes):
        return None
    name = str(classes[index])
    return name[:MAX_NAME]


def _layer_depth(session: Any, layer: str) -> int | None:
    """The layer's depth when the session lists its layers (name, depth); else None."""
    try:
        for info in getattr(session, "layers", None) or ():
            if getattr(info, "name", None) == layer:
                depth = getattr(info, "depth", None)
                return int(depth) if depth is not None else None
    except Exception:  # the layer list is a convenience here; never fail an annotation on it
        return None
    return None


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
