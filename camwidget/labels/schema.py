"""The label store's tables, their version, and the limits every stored value obeys.

Two tables, both prefixed so a store can share a PostgreSQL database with other software:

- ``camwidget_schema``: one row, the schema version this store was written with;
- ``camwidget_annotations``: one row per annotation (a label written for one cluster, possibly
  as part of a reveal game).

Bump :data:`SCHEMA_VERSION` whenever a table changes and add the upgrade step to
:func:`upgrade`; a store written by a newer camwidget is refused, never guessed at.
"""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

SCHEMA_VERSION = 1

#: Longest label text accepted, in characters (after stripping surrounding whitespace).
MAX_TEXT = 200
#: Longest layer name, cluster id, annotator, fingerprint and class name accepted.
MAX_NAME = 256
#: Reveal steps of the game: step s shows the top q[s] % pixels of a cluster map.
REVEAL_STEPS = range(0, 6)
#: Outcomes of a reveal game; ``None`` for a label written outside the game.
OUTCOMES = ("win", "loss", "give-up")

metadata = MetaData()

schema_version = Table(
    "camwidget_schema",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

annotations = Table(
    "camwidget_annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("image_fingerprint", String(MAX_NAME), nullable=False),
    Column("model_fingerprint", String(MAX_NAME), nullable=False),
    Column("target", Integer, nullable=False),
    Column("target_name", String(MAX_NAME), nullable=True),
    Column("layer", String(MAX_NAME), nullable=False),
    Column("layer_depth", Integer, nullable=True),
    Column("cluster_id", String(MAX_NAME), nullable=False),
    Column("cluster_weight", Float, nullable=True),
    Column("reveal_step", Integer, nullable=False),
    Column("guess", Integer, nullable=True),
    Column("guess_name", String(MAX_NAME), nullable=True),
    Column("correct", Boolean, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("text", String(MAX_TEXT), nullable=False),
    Column("annotator", String(MAX_NAME), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_camwidget_annotations_class", "model_fingerprint", "target"),
    Index("ix_camwidget_annotations_cluster", "image_fingerprint", "layer", "cluster_id"),
)


def upgrade(connection, found: int) -> None:
    """Bring a store at schema version ``found`` (< SCHEMA_VERSION) up to date, in place.

    Version 1 is the first; there is nothing to upgrade from yet.
    """
    if found != SCHEMA_VERSION:  # pragma: no cover - no older version exists yet
        raise RuntimeError(f"no upgrade path from label-store schema version {found}")
