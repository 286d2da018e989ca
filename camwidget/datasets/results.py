"""Reading a results store back: the table in memory, the maps as lazy Zarr arrays."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .store import _holds_store, _location, zarr_module


def pandas_module():
    try:
        import pandas
    except ImportError as error:  # pragma: no cover - the datasets extra is installed in CI
        raise ImportError("dataset tables need pandas: pip install 'camwidget[datasets]'") from error
    return pandas


class Results:
    """A dataset run on disk. ``table``: one row per item (id, label, target, target_name, score,
    probability, error, done); ``maps(method, layer)``: the Zarr array (items × h × w), read only
    where indexed; ``map(item_id, method, layer)`` one map as numpy."""

    def __init__(self, path: str, classes: list[str] | None = None) -> None:
        zarr = zarr_module()
        self.path = path
        self.group = zarr.open_group(path, mode="r")
        meta = self.group.attrs["camwidget"]
        self.kind: str = meta["kind"]
        self.spec: dict[str, Any] = meta["spec"]
        self.probe: dict[str, Any] = meta["probe"]
        self.classes = classes if classes is not None else self.spec.get("classes")
        self.ids: list[str] = [str(i) for i in self.group["items/id"][:]]
        self._index = {item_id: i for i, item_id in enumerate(self.ids)}

    @property
    def methods(self) -> list[str]:
        return list(self.spec["methods"])

    @property
    def layers(self) -> list[str]:
        return [name for name, _ in self.probe["layers"]]

    @property
    def params(self) -> dict[str, dict]:
        return dict(self.spec.get("params", {}))

    @property
    def table(self):
        """A pandas DataFrame, one row per item, in dataset order."""
        pd = pandas_module()
        items = self.group["items"]
        target = np.asarray(items["target"][:], dtype=np.int64)
        names = [self.classes[t] if self.classes is not None and 0 <= t < len(self.classes) else ""
                 for t in target]
        return pd.DataFrame({
            "id": self.ids,
            "label": [str(v) for v in items["label"][:]],
            "target": target,
            "target_name": names,
            "score": np.asarray(items["score"][:], dtype=np.float64),
            "probability": np.asarray(items["probability"][:], dtype=np.float64),
            "error": [str(v) for v in items["error"][:]],
            "done": np.asarray(items["done"][:], dtype=bool),
        })

    def maps(self, method: str, layer: str):
        """The Zarr array of ``method`` at ``layer``: items × h × w float32 (NaN: not computed)."""
        self._check(method, layer)
        return self.group[f"maps/{method}/{layer}"]

    def weights(self, method: str, layer: str):
        """The Zarr array of channel weights (items × channels), or None for a method without."""
        self._check(method, layer)
        key = f"weights/{method}/{layer}"
        return self.group.get(key, None)

    def map(self, item: str | int, method: str, layer: str) -> np.ndarray:
        """One item's map (by id or position) as a numpy array."""
        return np.asarray(self.maps(method, layer)[self.position(item)])

    def position(self, item: str | int) -> int:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < len(self.ids):
                raise ValueError(f"item: {int(item)} is outside 0..{len(self.ids) - 1}")
            return int(item)
        if item not in self._index:
            raise ValueError(f"item: no item with id {item!r} in {self.path}")
        return self._index[item]

    def layers_of(self, method: str) -> list[str]:
        """The layers ``method`` was computed at (every layer, or CAM's one layer)."""
        if method not in self.methods:
            raise ValueError(f"method: {method!r} is not in this store; it holds {', '.join(self.methods)}")
        return list(self.probe["layers_of"][method])

    def _check(self, method: str, layer: str) -> None:
        names = self.layers_of(method)
        if layer not in names:
            raise ValueError(f"layer: {layer!r} has no {method} maps in this store; valid: {', '.join(names[-5:])}")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        done = int(np.asarray(self.group["items/done"][:]).sum())
        return (f"Results({self.path!r}: {self.kind}, {done}/{len(self.ids)} items done, "
                f"methods {', '.join(self.methods)}, {len(self.layers)} layers)")


def open_results(path: str | os.PathLike) -> Results:
    """The results store at ``path`` (written by ``explain_dataset``, ``evaluate_dataset`` or a
    campaign), without loading the maps."""
    location = _location(path)
    if "://" not in location and not os.path.isdir(location):
        raise ValueError(f"path: no results store at {location!r}")
    if _holds_store(location) is None:
        raise ValueError(f"path: {location!r} is not a camwidget results store")
    return Results(location)
