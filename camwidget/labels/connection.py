"""Opening a label store: where it lives, its SQLAlchemy engine, and its schema on first open.

A file path (or nothing: the user's data directory) means SQLite; any other SQLAlchemy URL is
used as given, with ``postgresql://`` meaning psycopg 3.

SQLite runs in WAL mode with a busy timeout and takes the write lock at the start of each
writing transaction (``BEGIN IMMEDIATE``, asked for with the execution option
``camwidget_write``), so several processes writing at once wait for each other instead of
failing, and a process killed mid-write leaves its transaction uncommitted and the file
consistent. PostgreSQL uses plain transactions; the schema is created under an advisory lock so
that several first-time openers do not race.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy import text as sql
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from . import schema
from .errors import LabelStoreError
from .schema import SCHEMA_VERSION

#: Seconds a SQLite writer waits for another process's write to finish before giving up.
SQLITE_BUSY_TIMEOUT_S = 60
#: Key of the PostgreSQL advisory lock held while the schema is created or checked.
_PG_SCHEMA_LOCK = 0x63616D77  # "camw"


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
        default = default_path()
        return make_url(f"sqlite:///{default}"), default
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, os.PathLike) or (isinstance(url, str) and "://" not in url):
        text_url = os.fspath(url)
        if not text_url.strip():
            raise LabelStoreError("cannot open the label store: the url is empty")
        resolved = Path(text_url).expanduser().resolve()
        return make_url(f"sqlite:///{resolved}"), resolved
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
    path: Path | None = None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not parsed.database.startswith("file:"):
            path = Path(parsed.database).expanduser().resolve()
            parsed = parsed.set(database=str(path))
    return parsed, path


def open_engine(url: URL, path: Path | None) -> Engine:
    """The engine for a resolved ``url``; SQLite (``path`` is its file, None in memory) gets
    WAL, the busy timeout and ``BEGIN IMMEDIATE`` for connections marked ``camwidget_write``."""
    if url.get_backend_name() != "sqlite":
        if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
            from .extra import require

            require("psycopg", "a PostgreSQL label store")
        return create_engine(url, pool_pre_ping=True)
    memory = path is None
    engine = create_engine(
        url,
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


def prepare_schema(connection: Connection, dialect: str, shown: str) -> None:
    """Create the schema on first use, or check its version; inside a writing transaction.

    ``shown`` is the store's URL as errors name it (password hidden).
    """
    if dialect == "postgresql":
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
            f"the label store {shown} has schema version {found}, newer than "
            f"this camwidget understands ({SCHEMA_VERSION}); upgrade camwidget to use it"
        )
    elif found < SCHEMA_VERSION:  # pragma: no cover - no older version exists yet
        schema.upgrade(connection, found)
