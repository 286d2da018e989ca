"""Stand-ins for the engine contract the label store relies on (not the real engine)."""
from __future__ import annotations

from dataclasses import dataclass

CLASSES = ["tabby cat", "sports car", "goldfish"]


class FakeSession:
    """The engine contract the store relies on: fingerprints, class names, resolve_target."""

    def __init__(self, image="img-0", model="model-0", classes=CLASSES, default_target=0):
        self.image_fingerprint = image
        self.model_fingerprint = model
        self.classes = list(classes) if classes is not None else None
        self._default = default_target

    def resolve_target(self, t):
        if t is None:
            return self._default
        if isinstance(t, str):
            if not self.classes or t not in self.classes:
                raise ValueError(f"unknown class name {t!r}")
            return self.classes.index(t)
        if not 0 <= int(t) < (len(self.classes) if self.classes else 1000):
            raise IndexError(f"class index {t} out of range")
        return int(t)


@dataclass
class FakeCluster:
    id: str
    channels: tuple = (0, 1)
    weight: float = 10.0
