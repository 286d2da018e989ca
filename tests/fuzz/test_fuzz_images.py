"""images.load under generated input: every dtype, shape and value range, PIL modes, files good
and broken. Property: an RGB uint8 H×W×3 array (right for the dtype rule where it is checkable),
or a ValueError / TypeError whose message starts with ``image:`` or ``value_range:``."""
from __future__ import annotations

import io

import numpy as np
import torch
from fuzz_profile import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from camwidget import images

DTYPES = [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64,
          np.float16, np.float32, np.float64, np.complex64]
SHAPES = st.one_of(
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 5)),
    st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)),  # channel-first
    st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
    st.tuples(),
)
PIL_MODES = ["1", "L", "P", "RGB", "RGBA", "I", "I;16", "F", "LA", "CMYK", "YCbCr"]
REFUSALS = ("image:", "value_range:")


def _elements(dtype):
    if np.issubdtype(dtype, np.floating):
        return st.one_of(st.floats(0, 1, width=np.finfo(dtype).bits),
                         st.floats(allow_nan=True, allow_infinity=True, width=np.finfo(dtype).bits))
    return None


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    return draw(hnp.arrays(dtype, draw(SHAPES), elements=_elements(dtype)))


@st.composite
def pil_images(draw):
    mode = draw(st.sampled_from(PIL_MODES))
    size = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode) if mode not in ("I;16",) else Image.fromarray(
        pixels[..., 0].astype(np.uint16) * 257)


@st.composite
def files(draw, tmp_dir):
    kind = draw(st.sampled_from(["png", "jpeg", "tiff", "bmp", "gif", "webp"]))
    pil = draw(pil_images())
    if kind in ("jpeg",) and pil.mode not in ("L", "RGB", "CMYK"):
        pil = pil.convert("RGB")
    buffer = io.BytesIO()
    try:
        pil.save(buffer, format=kind)
    except (OSError, ValueError, KeyError):
        pil.convert("RGB").save(buffer, format=kind)
    data = buffer.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "garbage", "empty", "flip"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "garbage":
        data = draw(st.binary(max_size=64))
    elif damage == "empty":
        data = b""
    elif damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
    path = tmp_dir / f"fuzz.{kind}"
    path.write_bytes(data)
    return path


def _check(value, value_range=None):
    try:
        loaded = images.load(value) if value_range is None else images.load(value, value_range=value_range)
    except (ValueError, TypeError) as e:
        assert str(e).startswith(REFUSALS), f"{type(e).__name__} does not name the argument: {e}"
        return None
    assert isinstance(loaded, np.ndarray) and loaded.dtype == np.uint8
    assert loaded.ndim == 3 and loaded.shape[2] == 3 and loaded.shape[0] > 0 and loaded.shape[1] > 0
    assert loaded.flags.writeable and loaded.flags.c_contiguous
    return loaded


@settings(max_examples=examples(600))
@given(arrays(), st.booleans())
def test_arrays_load_right_or_are_refused_by_name(array, as_tensor):
    value = array
    if as_tensor and array.dtype not in (np.uint16, np.uint32, np.uint64):  # torch has no such tensors
        value = torch.from_numpy(array.copy())
    loaded = _check(value)
    if loaded is None or array.ndim != 2:
        return
    if array.dtype == np.bool_:
        assert set(np.unique(loaded)) <= {0, 255}
    elif np.issubdtype(array.dtype, np.floating):  # floats in [0, 1] scale by 255
        expected = np.clip(np.rint(array.astype(np.float64) * 255), 0, 255)
        assert np.array_equal(loaded[..., 0], expected)
    elif array.dtype == np.uint8 and array.max() > 1:
        assert np.array_equal(loaded[..., 0], array)


@settings(max_examples=examples(250))
@given(arrays(), st.one_of(st.none(), st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)),
                           st.just("0-255"), st.tuples(st.integers(-300, 300), st.integers(-300, 70000))))
def test_value_range_maps_or_is_refused_by_name(array, value_range):
    loaded = _check(array, value_range)
    if loaded is not None and value_range is not None and array.ndim == 2 and array.dtype != np.bool_:
        lo, hi = value_range
        expected = np.clip(np.rint((array.astype(np.float64) - lo) * (255.0 / (hi - lo))), 0, 255)
        assert np.array_equal(loaded[..., 0], expected)


@settings(max_examples=examples(120))
@given(pil_images())
def test_pil_images_in_every_mode(pil):
    loaded = _check(pil)
    if pil.mode == "F" and np.asarray(pil).max() > 1:  # PIL's convert("F") keeps 0-255: floats must be in [0, 1]
        assert loaded is None
        return
    assert loaded is not None, f"mode {pil.mode} was refused"
    assert loaded.shape[:2] == (pil.size[1], pil.size[0])


@settings(max_examples=examples(150))
@given(st.data())
def test_files_good_and_broken(tmp_path_factory, data):
    path = data.draw(files(tmp_path_factory.mktemp("fuzz")))
    _check(path)
    _check(str(path))
