"""Dataset items: anything iterable of images becomes a sequence of items, each with an id.

Accepted: a folder of images (searched recursively; in an ImageFolder-style tree, the first
sub-folder is the item's label), a list of paths / arrays / PIL images / tensors / ``(image,
label)`` pairs / dicts with ``image``, ``label``, ``id``, ``box`` keys / :class:`Item` objects, a
map-style ``torch.utils.data.Dataset`` yielding the same, a ``DataLoader`` over such a dataset
(its ``.dataset`` is read item by item, so every item keeps its index as id), or any other
iterable (read once into memory).

An :class:`ItemSource` is picklable and loads images only when an item is asked for, so Dask
workers each read their own items.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import images

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Item:
    """One dataset item: an id, the image (a path until loaded, then RGB uint8 H × W × 3), and
    optionally a label (class index or name) and an object box ``(row0, col0, row1, col1)`` in image
    pixels, half-open (the convention of regions and of the pointing games)."""

    id: str
    image: Any
    label: int | str | None = None
    box: tuple[int, int, int, int] | None = None
    index: int = -1

    @property
    def path(self) -> str | None:
        return os.fspath(self.image) if isinstance(self.image, (str, os.PathLike)) else None


class ItemError(ValueError):
    """An item could not be read; the message names the item (and its path)."""


class ItemSource:
    """A sized, indexable, picklable sequence of items (see the module docstring)."""

    def __init__(self, entries: Sequence[Any], ids: Sequence[str], labels: Sequence[Any] | None = None,
                 dataset: Any = None) -> None:
        self._entries = entries
        self.ids = [str(i) for i in ids]
        self._labels = labels
        self._dataset = dataset
        seen: set[str] = set()
        for item_id in self.ids:
            if item_id in seen:
                raise ValueError(f"dataset: the item id {item_id!r} appears twice; ids must be unique")
            seen.add(item_id)

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, index: int) -> Item:
        """Item ``index`` with its image not yet loaded (a path, array, PIL image, ...)."""
        item_id = self.ids[index]
        if self._dataset is not None:
            try:
                entry = self._dataset[index]
            except Exception as error:  # the user's dataset: any failure is the item's
                raise ItemError(f"dataset: item {item_id!r}: the dataset raised {error!r}") from error
        else:
            entry = self._entries[index]
        item = _as_item(entry, item_id, index)
        item.id = item_id
        if item.label is None and self._labels is not None:
            item.label = self._labels[index]
        return item

    def item(self, index: int) -> Item:
        """Item ``index`` with its image loaded as RGB uint8; :class:`ItemError` names the item."""
        return self.load(self.raw(index))

    def load(self, item: Item) -> Item:
        """``item`` with its image loaded as RGB uint8 (in place); :class:`ItemError` names it."""
        where = f" ({item.path})" if item.path else ""
        try:
            item.image = images.load(item.image)
        except Exception as error:  # PIL raises many kinds for a broken file
            raise ItemError(f"dataset: item {item.id!r}{where}: cannot read the image: {error}") from error
        return item

    def __getitem__(self, index: int) -> Item:
        return self.item(index)

    def __repr__(self) -> str:
        return f"ItemSource({len(self)} items)"


def _as_item(entry: Any, item_id: str, index: int) -> Item:
    if isinstance(entry, Item):
        return Item(entry.id, entry.image, entry.label, entry.box, index)
    if isinstance(entry, dict):
        if "image" not in entry:
            raise ItemError(f"dataset: item {item_id!r} is a dict without an 'image' key (keys: {', '.join(entry)})")
        box = entry.get("box")
        return Item(str(entry.get("id", item_id)), entry["image"], _label(entry.get("label")),
                    _box(box, item_id), index)
    if isinstance(entry, tuple) and len(entry) == 2 and not isinstance(entry[0], (int, float)):
        return Item(item_id, entry[0], _label(entry[1]), None, index)
    return Item(item_id, entry, None, None, index)


def _box(box: Any, item_id: str) -> tuple[int, int, int, int] | None:
    """An item's object box as four ints (None stays None); an ItemError naming the item otherwise."""
    if box is None:
        return None
    try:
        r0, c0, r1, c1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ItemError(f"dataset: item {item_id!r}: box: expected (row0, col0, row1, col1), got {box!r}") from None
    return r0, c0, r1, c1


def _label(value: Any) -> int | str | None:
    if value is None:
        return None
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensors and numpy scalars
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"label: expected a class index or name, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"label: expected a class index or name, got {type(value).__name__}")


def folder(path: str | os.PathLike) -> ItemSource:
    """Every image file under ``path`` (recursively, sorted); ids are paths relative to it."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"dataset: {os.fspath(path)!r} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"dataset: no image files ({', '.join(IMAGE_SUFFIXES)}) under {os.fspath(path)!r}")
    ids = [p.relative_to(root).as_posix() for p in files]
    labels = [i.split("/")[0] if "/" in i else None for i in ids]
    return ItemSource([str(p) for p in files], ids, labels)


def as_items(dataset: Any) -> ItemSource:
    """An :class:`ItemSource` for any accepted dataset (see the module docstring)."""
    if isinstance(dataset, ItemSource):
        return dataset
    if isinstance(dataset, (str, os.PathLike)):
        if os.path.isdir(dataset):
            return folder(dataset)
        return _listed([dataset])
    from torch.utils.data import DataLoader
    if isinstance(dataset, DataLoader):
        dataset = dataset.dataset
    if isinstance(dataset, (list, tuple)):
        return _listed(list(dataset))
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        n = len(dataset)
        ids = getattr(dataset, "ids", None)
        ids = list(ids) if ids is not None and len(ids) == n else [str(i) for i in range(n)]
        return ItemSource((), ids, dataset=dataset)
    if hasattr(dataset, "__iter__") and not isinstance(dataset, (bytes, np.ndarray)):
        return _listed(list(dataset))
    raise TypeError(
        f"dataset: expected a folder, a list of images, a torch Dataset or DataLoader, or an iterable; "
        f"got {type(dataset).__name__}"
    )


def _listed(entries: list[Any]) -> ItemSource:
    if not entries:
        raise ValueError("dataset: is empty; give at least one image")
    ids = []
    for index, entry in enumerate(entries):
        if isinstance(entry, Item):
            ids.append(entry.id)
        elif isinstance(entry, dict) and "id" in entry:
            ids.append(str(entry["id"]))
        elif isinstance(entry, (str, os.PathLike)):
            ids.append(os.fspath(entry))
        else:
            ids.append(str(index))
    return ItemSource(entries, ids)
