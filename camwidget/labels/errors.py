"""The label store's two errors: one for a store that cannot be used, one for refused input."""

from __future__ import annotations


class LabelStoreError(RuntimeError):
    """The store cannot be opened, is of an unknown (newer) schema, or a write failed."""


class LabelValidationError(LabelStoreError, ValueError):
    """An annotation was refused before anything was written."""
