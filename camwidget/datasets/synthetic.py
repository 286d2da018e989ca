"""An offline localisation set: objects cut from scikit-image's photos, pasted at known boxes.

Nothing downloads: the objects are rectangular cut-outs of four photos that scikit-image ships
(the cat of ``chelsea``, the espresso cup of ``coffee``, the rocket of ``rocket``, the motorcycle
of ``motorcycle_left``), each labelled with the ImageNet class the default model gives the
cut-out; the backgrounds are five other shipped images (the brick, grass and gravel textures,
the Hubble deep field, the immunohistochemistry slide). Item ``i`` of seed ``s`` is drawn from
its own generator ``default_rng([s, i])``: an object (round robin, so classes are balanced), a
background crop, a scale (the object's longer side 35–70 % of the 224-pixel image), a
horizontal flip, a position — so every item is reproducible on its own, on any Dask worker.

    ds = cw.samples.dataset("objects", n=32, seed=0)
    item = ds[0]; item.image, item.label, item.box      # box = (row0, col0, row1, col1), half-open
"""
from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from .items import Item

SIZE = 224
#: object name → (photo, (row0, row1, col0, col1) of the cut-out, ImageNet index, class name)
OBJECTS = {
    "cat": ("chelsea", (0, 300, 40, 420), 285, "Egyptian cat"),
    "cup": ("coffee", (20, 330, 80, 520), 967, "espresso"),
    "rocket": ("rocket", (60, 420, 260, 420), 657, "missile"),
    "motorcycle": ("motorcycle_left", (150, 480, 0, 740), 670, "motor scooter"),
}
BACKGROUNDS = ("brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry")
NAMES = ("objects",)


@cache
def _photo(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle_left":
        image = data.stereo_motorcycle()[0]
    else:
        image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def make_item(index: int, seed: int) -> Item:
    """Item ``index`` of the set with ``seed`` (see the module docstring)."""
    rng = np.random.default_rng([seed, index])
    names = list(OBJECTS)
    name = names[index % len(names)]
    photo, (r0, r1, c0, c1), label, _ = OBJECTS[name]
    cut = _photo(photo)[r0:r1, c0:c1]
    background = _photo(BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))])
    side = int(rng.integers(SIZE, min(background.shape[:2]) + 1))
    top = int(rng.integers(background.shape[0] - side + 1))
    left = int(rng.integers(background.shape[1] - side + 1))
    canvas = _resized(background[top:top + side, left:left + side], SIZE, SIZE).copy()
    longest = float(rng.uniform(0.35, 0.7)) * SIZE
    scale = longest / max(cut.shape[:2])
    h, w = max(8, int(round(cut.shape[0] * scale))), max(8, int(round(cut.shape[1] * scale)))  # noqa: RUF046 - numpy ints
    obj = _resized(cut, h, w)
    if rng.random() < 0.5:
        obj = obj[:, ::-1]
    y0, x0 = int(rng.integers(SIZE - h + 1)), int(rng.integers(SIZE - w + 1))
    canvas[y0:y0 + h, x0:x0 + w] = obj
    return Item(f"{name}-{index:05d}", canvas, label, (y0, x0, y0 + h, x0 + w), index)


class ObjectsDataset:
    """A map-style dataset of :func:`make_item` items (``len``, indexing, ``ids``; picklable)."""

    def __init__(self, n: int = 32, seed: int = 0) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: expected a positive number of items, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        self.n, self.seed = int(n), int(seed)
        names = list(OBJECTS)
        self.ids = [f"{names[i % len(names)]}-{i:05d}" for i in range(self.n)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Item:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if not -self.n <= index < self.n:
            raise IndexError(f"index: {index} is outside 0..{self.n - 1}")
        return make_item(index % self.n, self.seed)

    def __iter__(self):
        return (self[i] for i in range(self.n))

    @property
    def classes(self) -> dict[int, str]:
        """The ImageNet classes of the set: index → name."""
        return {label: cls for _, _, label, cls in OBJECTS.values()}

    def __repr__(self) -> str:
        return f"ObjectsDataset(n={self.n}, seed={self.seed}: {', '.join(OBJECTS)} on {len(BACKGROUNDS)} backgrounds)"


def dataset(name: str = "objects", n: int = 32, seed: int = 0) -> ObjectsDataset:
    """The offline localisation set ``name`` (``"objects"``): ``n`` items with ids, ImageNet
    labels and object boxes, seeded."""
    if name not in NAMES:
        raise ValueError(f"name: unknown dataset {name!r}; valid: {', '.join(NAMES)}")
    return ObjectsDataset(n, seed)
