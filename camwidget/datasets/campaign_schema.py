"""The campaign's tables, beside the label store's own in the same database.

- ``camwidget_campaigns``: one row per campaign: its name and parameters (JSON);
- ``camwidget_campaign_clusters``: one row per (item, layer, cluster) to be labelled, with how
  many people have played it (``plays``) and who holds it right now (``lease_annotator`` until
  ``lease_until``, naive UTC);
- ``camwidget_campaign_plays``: one row per finished round (labelled or skipped), unique per
  cluster and annotator, pointing to the annotation it wrote.

Created on first use (under the label store's PostgreSQL advisory lock), never altered.
"""
from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql

from ..labels.schema import MAX_NAME

metadata = MetaData()

campaigns = Table(
    "camwidget_campaigns",
    metadata,
    Column("name", String(MAX_NAME), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

clusters = Table(
    "camwidget_campaign_clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign", String(MAX_NAME), nullable=False),
    Column("position", Integer, nullable=False),
    Column("item_id", String(MAX_NAME), nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("image_fingerprint", String(MAX_NAME), nullable=False),
    Column("target", Integer, nullable=False),
    Column("layer", String(MAX_NAME), nullable=False),
    Column("layer_depth", Integer, nullable=True),
    Column("cluster_index", Integer, nullable=False),
    Column("cluster_id", String(MAX_NAME), nullable=False),
    Column("cluster_weight", Float, nullable=False),
    Column("plays", Integer, nullable=False, default=0),
    Column("lease_annotator", String(MAX_NAME), nullable=True),
    Column("lease_until", DateTime, nullable=True),
    UniqueConstraint("campaign", "item_id", "layer", "cluster_index", name="uq_camwidget_campaign_cluster"),
    Index("ix_camwidget_campaign_clusters_next", "campaign", "plays", "position"),
)

plays = Table(
    "camwidget_campaign_plays",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", Integer, ForeignKey("camwidget_campaign_clusters.id"), nullable=False),
    Column("campaign", String(MAX_NAME), nullable=False),
    Column("annotator", String(MAX_NAME), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("annotation_id", Integer, nullable=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("cluster", "annotator", name="uq_camwidget_campaign_play"),
)

_PG_LOCK = 0x63616D78  # "camx": creating the campaign tables


def create(connection, dialect: str) -> None:
    """Create the tables if missing (inside a writing transaction)."""
    if dialect == "postgresql":
        connection.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    metadata.create_all(connection, checkfirst=True)
