"""images.load: the per-dtype pixel rule against hand-computed means, and files that name `image:`."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from nets import TinyCNN, tiny_preprocess
from PIL import Image

import camwidget as cw
from camwidget import images
from camwidget.models import Preprocess

QUAD = [[0, 255], [128, 64]]  # mean 111.75 once in 8 bits

# (input, expected mean of the RGB uint8 result), every mean worked out by hand in the comment
DTYPE_TABLE = [
    ("uint8", np.array(QUAD, np.uint8), 111.75),  # as is
    ("uint16", np.array([[0, 65535], [32768, 16384]], np.uint16), 111.75),  # 32768 → 127.50 → 128; 16384 → 63.75 → 64
    ("uint16 half of range", np.array([[0, 65535]], np.uint16), 127.5),  # the 253.9
    ("uint32", np.array([[0, 2**32 - 1]], np.uint32), 127.5),
    ("uint64", np.array([[0, 2**64 - 1]], np.uint64), 127.5),
    ("int8", np.array([[0, 127]], np.int8), 127.5),  # scaled by 127
    ("int16", np.array([[0, 32767], [0, 0]], np.int16), 63.75),
    ("int32 as 8-bit", np.array(QUAD, np.int32), 111.75),
    ("int64 as 8-bit", np.array(QUAD, np.int64), 111.75),
    ("bool", np.array([[True, False], [False, False]]), 63.75),  # one white pixel of four
    ("uint8 0/1 mask", np.array([[0, 1], [1, 1]], np.uint8), 191.25),  # three white of four
    ("int64 0/1 mask", np.array([[1, 1], [1, 1]], np.int64), 255.0),
    ("float32", np.array([[0, 1], [0.5, 0.25]], np.float32), 111.75),  # 127.5 → 128 (half to even), 63.75 → 64
    ("float16", np.array([[0, 1], [0.5, 0.25]], np.float16), 111.75),
    ("float64 one pixel at 1.0001", np.array([[0, 1.0001]], np.float64), 127.5),  # within half a level: clipped
    ("float64 slightly negative", np.array([[-0.001, 1]], np.float64), 127.5),
    ("bfloat16 tensor", torch.tensor([[0.0, 1.0]], dtype=torch.bfloat16), 127.5),
    ("int64 tensor", torch.tensor(QUAD), 111.75),
    ("bool tensor", torch.tensor([[True, True], [True, False]]), 191.25),
]


@pytest.mark.parametrize("name, image, mean", DTYPE_TABLE, ids=[row[0] for row in DTYPE_TABLE])
def test_the_dtype_table(name, image, mean):
    loaded = images.load(image)
    assert loaded.dtype == np.uint8 and loaded.shape == (*tuple(image.shape[:2]), 3)
    assert loaded.mean() == pytest.approx(mean, abs=1e-9)
    assert (loaded[..., 0] == loaded[..., 2]).all()  # gray → three equal channels


@pytest.mark.parametrize("image, value_range, mean", [
    (np.array(QUAD, np.float64), (0, 255), 111.75),
    (np.array([[-1.0, 1.0]]), (-1, 1), 127.5),  # a [-1, 1] tensor: -1 → 0, 1 → 255
    (np.array([[0, 4095]], np.uint16), (0, 4095), 127.5),  # 12-bit data in a uint16
    (np.array([[0, 1000]], np.int64), (0, 500), 127.5),  # clipped above the range
])
def test_value_range_maps_low_to_black_and_high_to_white(image, value_range, mean):
    assert images.load(image, value_range=value_range).mean() == pytest.approx(mean)


@pytest.mark.parametrize("image, error, words", [
    (np.array([[0.0, 255.0]]), ValueError, ["image:", "[0, 1]", "[0, 255]", "value_range"]),
    (np.full((8, 8, 3), -1.0), ValueError, ["image:", "negative"]),
    (np.array([[0, 300]], np.int64), ValueError, ["image:", "[0, 300]", "value_range=(0, 300)"]),
    (np.array([[-5, 3]], np.int16), ValueError, ["image:", "negative"]),
    (np.zeros((3, 3), np.complex64), TypeError, ["image:", "complex"]),
    (torch.zeros(3, 3, dtype=torch.complex64), TypeError, ["image:", "complex"]),
    (np.array([["a", "b"]]), TypeError, ["image:", "dtype"]),
    (np.zeros((3, 3), object), TypeError, ["image:", "dtype"]),
    (np.array([[np.nan, 0.5]]), ValueError, ["image:", "NaN"]),
    (np.zeros((5, 5, 2), np.uint8), ValueError, ["image:", "shape"]),
    (np.zeros((0, 4, 3), np.uint8), ValueError, ["image:", "zero size"]),
    (np.zeros((2, 2), np.uint8), ValueError, ["value_range:"]),  # with value_range=(1, 1) below
])
def test_refused_pixels_name_the_image_and_the_range(image, error, words):
    value_range = (1, 1) if words == ["value_range:"] else None
    with pytest.raises(error) as caught:
        images.load(image, value_range=value_range)
    for word in words:
        assert word in str(caught.value)
    assert str(caught.value).startswith(words[0])


def test_sixteen_bit_png_and_tiff_keep_their_range(tmp_path):
    ramp = np.array([[0, 65535]], np.uint16).repeat(4, 0)
    for suffix in ("png", "tif"):
        path = tmp_path / f"deep.{suffix}"
        Image.fromarray(ramp).save(path)
        assert Image.open(path).mode.startswith("I;16")
        assert images.load(path).mean() == pytest.approx(127.5)


def test_float_tiff_in_unit_range_is_not_black(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)).save(path)
    assert Image.open(path).mode == "F"
    assert images.load(path).mean() == pytest.approx(111.75)


def test_bilevel_and_rgba_files(tmp_path):
    Image.fromarray(np.array([[True, False]] * 2)).save(tmp_path / "mask.png")
    assert images.load(tmp_path / "mask.png").mean() == pytest.approx(127.5)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert images.load(tmp_path / "rgba.png")[..., 0].tolist() == [[200, 200], [200, 200]]


def _truncated_jpeg(path):
    Image.fromarray(cw.samples.load("coffee")).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("make, words", [
    (lambda p: p.mkdir(), ["directory"]),
    (lambda p: p.write_bytes(b""), ["empty file"]),
    (lambda p: p.write_text("not an image at all"), ["not an image file"]),
    (_truncated_jpeg, ["could not be decoded"]),
])
def test_bad_files_name_the_image(tmp_path, make, words):
    path = tmp_path / "photo.jpg"
    make(path)
    with pytest.raises(ValueError) as caught:
        images.load(path)
    assert str(caught.value).startswith("image: ") and str(path) in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_a_huge_image_is_refused_before_decoding(tmp_path, monkeypatch):
    assert images.MAX_PIXELS == 100_000_000  # a 400-megapixel photo is refused by default
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"^image: .*40×30.*MAX_PIXELS"):
        images.load(tmp_path / "big.png")


def test_a_file_loads_writable_and_preprocess_does_not_warn(tmp_path):
    Image.fromarray(cw.samples.load("coffee")).save(tmp_path / "coffee.png")
    loaded = images.load(tmp_path / "coffee.png")
    assert loaded.flags.writeable and loaded.flags.c_contiguous
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preprocess()(loaded)


def test_the_result_is_a_copy_the_caller_cannot_change():
    original = np.zeros((4, 4, 3), np.uint8)
    loaded = images.load(original)
    original[:] = 9
    assert loaded.max() == 0


def test_a_sample_name_is_an_image_for_session_too():
    session = cw.Session(TinyCNN().eval(), "chelsea", preprocess=tiny_preprocess)
    assert (session.image == cw.samples.load("chelsea")).all()
    with pytest.raises(ValueError, match=r"^image: no file at 'chelsey'.*sample name: chelsea"):
        cw.Session(TinyCNN().eval(), "chelsey", preprocess=tiny_preprocess)
