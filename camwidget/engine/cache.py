"""One memory budget for everything a Session caches: least recently used goes first.

Everything a session keeps so that it does not compute twice — gradients per target, smoothed
derivatives, segmentations, INV clusterings, LIME fits, input gradients, the CAM head — lives in
one :class:`SessionCache`. Each entry's size is measured when it is stored (tensors and arrays
by their storage, containers and dataclasses by what they hold, each storage counted once per
entry). When the total passes the budget, the least recently used entries are dropped until it
fits again; an entry larger than the whole budget is returned to its caller but not kept.

The forward pass's activations and autograd graph are not in the budget: every explanation
needs them, so they stay for the session's life (``cache_info().forward_bytes`` reports them).

Several users may share one cache: a widget keeps what it derives from a session (packed atlases,
cluster tiles) with ``session.cached(("widget", ...), compute)`` instead of a dictionary of its
own, so one budget covers both. ``namespace(name)`` gives a dict-like view (an ``OrderedDict``
look-alike) whose items are separate entries of the same budget — better than storing one
mutable dict with ``cached(name, OrderedDict)``, which works (a stored dict, list or set is
measured again each time it is looked up) but is dropped or kept as a whole.
"""
from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any

import numpy as np
import torch

#: The default budget: 512 MiB, room for gradients of a few dozen targets of a 224² CNN, the
#: segmentations of a dozen large photos and several INV clusterings at once.
DEFAULT_BUDGET = 512 * 2**20

_MISSING: Any = object()  # typed Any: it stands in for any value
#: Values that callers may fill after storing them (``session.cached(name, OrderedDict)``): they
#: are measured again on every hit, so what they grow to counts against the budget.
_MUTABLE = (dict, list, set)


def check_budget(budget: Any) -> int | None:
    """The budget in bytes (an integer >= 0, or None for no limit); ValueError/TypeError naming it."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"cache_bytes: expected a number of bytes (int) or None, got {type(budget).__name__}")
    if budget < 0:
        raise ValueError(f"cache_bytes: must be >= 0 (0 keeps nothing), got {budget}")
    return int(budget)


def nbytes(value: Any) -> int:
    """The memory ``value`` holds: tensor and array storages (each counted once), plus the
    containers, dataclasses and objects around them (shallow ``sys.getsizeof`` for the rest)."""
    seen: set[int] = set()

    def walk(v: Any) -> int:
        if id(v) in seen:
            return 0
        seen.add(id(v))
        if isinstance(v, torch.Tensor):
            if v.layout != torch.strided:
                return int(v.numel() * v.element_size())
            storage = v.untyped_storage()
            key = ("storage", storage.data_ptr(), v.device.type)
            if key in seen:  # a view of a storage this entry already counted
                return 0
            seen.add(key)  # type: ignore[arg-type]
            return int(storage.nbytes())
        if isinstance(v, np.ndarray):
            base = v
            while isinstance(base.base, np.ndarray):
                base = base.base
            if base is not v:
                return walk(base)
            return int(v.nbytes) if v.dtype != object else sum(walk(x) for x in v.ravel())
        if isinstance(v, (str, bytes, bytearray, int, float, complex, bool)) or v is None:
            return sys.getsizeof(v)
        if isinstance(v, dict):
            return sys.getsizeof(v) + sum(walk(k) + walk(x) for k, x in v.items())
        if isinstance(v, (list, tuple, set, frozenset)):
            return sys.getsizeof(v) + sum(walk(x) for x in v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return sys.getsizeof(v) + sum(walk(getattr(v, f.name, None)) for f in dataclasses.fields(v))
        if hasattr(v, "__dict__") and not isinstance(v, type) and not callable(v):
            return sys.getsizeof(v) + walk(vars(v))
        return sys.getsizeof(v)

    return walk(value)


def _kind(key: Any) -> str:
    """What an entry is, for ``cache_info``: a key's leading string (or the key itself)."""
    if isinstance(key, tuple) and key and isinstance(key[0], str):
        return key[0]
    return key if isinstance(key, str) else type(key).__name__


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """What a session has cached: ``used`` of ``budget`` bytes in ``entries`` entries.

    ``kinds`` maps what an entry is (``"gradients"``, ``"segments"``, ``"inv"``, ``"lime"``, ...)
    to ``(entries, bytes)``. ``hits`` / ``misses`` count lookups, ``evictions`` entries dropped for
    the budget, ``too_large`` values returned but not kept. ``forward_bytes``: the forward pass's
    activations, kept outside the budget.
    """

    budget: int | None
    used: int
    entries: int
    kinds: dict[str, tuple[int, int]]
    hits: int
    misses: int
    evictions: int
    too_large: int
    forward_bytes: int = 0

    def __str__(self) -> str:
        mib = 2**20
        budget = "no limit" if self.budget is None else f"{self.budget / mib:.1f} MiB"
        parts = ", ".join(f"{k} {n} ({b / mib:.1f} MiB)" for k, (n, b) in sorted(self.kinds.items()))
        return (f"cache {self.used / mib:.1f} MiB of {budget} in {self.entries} entries"
                f"{': ' + parts if parts else ''}; forward {self.forward_bytes / mib:.1f} MiB; "
                f"{self.hits} hits, {self.misses} misses, {self.evictions} evicted")


class SessionCache:
    """A least-recently-used cache with a byte budget (``None``: no limit; ``0``: keep nothing)."""

    def __init__(self, budget: int | None = DEFAULT_BUDGET) -> None:
        self.budget = check_budget(budget)
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.RLock()
        self.hits = self.misses = self.evictions = self.too_large = 0

    # ---- the mapping --------------------------------------------------------------------
    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value under ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                self.misses += 1
                return default
            self.hits += 1
            self._entries.move_to_end(key)
            value, size = found
            if isinstance(value, _MUTABLE):  # a container its users fill in place: measure it again
                grown = nbytes(value)
                if grown != size:
                    self._entries[key] = (value, grown)
                    self._used += grown - size
                    self._shrink(keep=key)
            return value

    def put(self, key: Hashable, value: Any) -> Any:
        """Keep ``value`` under ``key`` (measured now), dropping the least recently used entries
        until the budget holds; returns ``value`` (kept or, when larger than the budget, not)."""
        size = nbytes(value)
        with self._lock:
            self._discard(key)
            if self.budget is not None and size > self.budget:
                self.too_large += 1
                return value
            self._entries[key] = (value, size)
            self._used += size
            self._shrink(keep=key)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing and keeping it on a miss."""
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        return self.put(key, compute())

    def pop(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                return default
            self._discard(key)
            return found[0]

    def touch(self, key: Hashable) -> None:
        """Mark ``key`` as the most recently used (no-op when absent)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)

    def remeasure(self, key: Hashable) -> None:
        """Measure ``key``'s value again after it was changed in place; shrink if needed."""
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is not _MISSING:
                self.put(key, found[0])

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Drop everything (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._used = 0

    @property
    def used(self) -> int:
        """Bytes held by the cached values."""
        return self._used

    def namespace(self, name: str, max_items: int | None = None) -> CacheNamespace:
        """A dict-like view whose items live in this cache under ``(name, key)``."""
        return CacheNamespace(self, name, max_items)

    def info(self, forward_bytes: int = 0) -> CacheInfo:
        with self._lock:
            kinds: dict[str, tuple[int, int]] = {}
            for key, (_, size) in self._entries.items():
                n, b = kinds.get(_kind(key), (0, 0))
                kinds[_kind(key)] = (n + 1, b + size)
            return CacheInfo(self.budget, self._used, len(self._entries), kinds, self.hits, self.misses,
                             self.evictions, self.too_large, forward_bytes)

    # ---- internals ----------------------------------------------------------------------
    def _discard(self, key: Hashable) -> None:
        found = self._entries.pop(key, _MISSING)
        if found is not _MISSING:
            self._used -= found[1]

    def _shrink(self, keep: Hashable) -> None:
        if self.budget is None:
            return
        while self._used > self.budget and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:  # only reached when keep is alone, guarded above
                break
            self._discard(oldest)
            self.evictions += 1


class CacheNamespace(MutableMapping):
    """Items of a :class:`SessionCache` under one name, used like an ``OrderedDict`` (oldest
    first; ``move_to_end`` and ``popitem(last=False)`` work). An item may vanish at any time when
    the budget needs its room; ``max_items`` caps how many the view keeps as well."""

    def __init__(self, cache: SessionCache, name: str, max_items: int | None = None) -> None:
        self._cache, self.name, self.max_items = cache, name, max_items

    def _key(self, key: Hashable) -> tuple:
        return (self.name, key)

    def _own(self) -> list[Hashable]:
        return [k[1] for k in self._cache.keys() if isinstance(k, tuple) and len(k) == 2 and k[0] == self.name]  # noqa: SIM118 - a list copy, taken under the lock

    def __getitem__(self, key: Hashable) -> Any:
        found = self._cache.get(self._key(key), _MISSING)
        if found is _MISSING:
            raise KeyError(key)
        return found

    def get(self, key: Hashable, default: Any = None) -> Any:
        return self._cache.get(self._key(key), default)

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self._cache.put(self._key(key), value)
        if self.max_items is not None:
            own = self._own()
            for old in own[: max(0, len(own) - self.max_items)]:
                self._cache.pop(self._key(old))

    def __delitem__(self, key: Hashable) -> None:
        if self._cache.pop(self._key(key), _MISSING) is _MISSING:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self._cache

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._own())

    def __len__(self) -> int:
        return len(self._own())

    def move_to_end(self, key: Hashable, last: bool = True) -> None:
        """Mark ``key`` most recently used (``last=False`` is not supported: it is a cache)."""
        self._cache.touch(self._key(key))

    def popitem(self, last: bool = True) -> tuple[Hashable, Any]:
        own = self._own()
        if not own:
            raise KeyError("popitem(): the namespace is empty")
        key = own[-1] if last else own[0]
        return key, self._cache.pop(self._key(key))
