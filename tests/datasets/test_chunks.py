"""datasets/chunks.py: whole chunks written as files read back through Zarr exactly as Zarr's own writes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camwidget.datasets import chunks
from camwidget.datasets.store import write_blocks

zarr = pytest.importorskip("zarr")


FILLS = {"float32": np.nan, "int32": -1, "bool": False}


def _array(group, name: str, n: int, chunk: int, grid: tuple[int, ...], compressors=None, dtype="float32"):
    if compressors is None:
        compressors = zarr.codecs.ZstdCodec(level=1)
    return group.create_array(name, shape=(n, *grid), chunks=(chunk, *grid), dtype=dtype,
                              fill_value=FILLS[dtype], compressors=compressors)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 9), chunk=st.integers(1, 4), grid=st.lists(st.integers(1, 5), min_size=0, max_size=2),
       level=st.integers(1, 5), seed=st.integers(0, 2**16), dtype=st.sampled_from(sorted(FILLS)))
def test_direct_chunks_read_back_as_zarrs_own(tmp_path_factory, n, chunk, grid, level, seed, dtype):
    root = tmp_path_factory.mktemp("store")
    group = zarr.open_group(str(root / "direct.zarr"), mode="w")
    reference = zarr.open_group(str(root / "zarr.zarr"), mode="w")
    grid = tuple(grid)
    ours = _array(group, "maps/a", n, chunk, grid, zarr.codecs.ZstdCodec(level=level), dtype)
    theirs = _array(reference, "maps/a", n, chunk, grid, zarr.codecs.ZstdCodec(level=level), dtype)
    normal = np.random.default_rng(seed).standard_normal((n, *grid))
    values = {"float32": np.where(normal > 1.5, np.nan, normal).astype(np.float32),
              "int32": (normal * 1000).astype(np.int32), "bool": normal > 0}[dtype]
    direct = 0
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        direct += chunks.direct_path(ours, rows, values[rows]) is not None
        write_blocks([(ours, values[rows])], rows)
        theirs[rows] = values[rows]
    assert direct == -(-n // chunk)  # every unit, the last partial one included, went straight to a file
    np.testing.assert_array_equal(ours[:], theirs[:])
    np.testing.assert_array_equal(zarr.open_group(str(root / "direct.zarr"), mode="r")["maps/a"][:], values)


def test_what_is_not_one_plain_whole_chunk_goes_through_zarr(tmp_path):
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    plain = _array(group, "plain", 8, 4, (3,))
    other_codec = _array(group, "gzip", 8, 4, (3,), zarr.codecs.GzipCodec())
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert chunks.direct_path(plain, slice(0, 4), values) is not None
    assert chunks.direct_path(plain, slice(2, 6), values) is None  # not at a chunk boundary
    assert chunks.direct_path(plain, slice(0, 2), values[:2]) is None  # part of a chunk, not the last
    assert chunks.direct_path(plain, slice(0, 4), values.astype(np.float64)) is None
    assert chunks.direct_path(other_codec, slice(0, 4), values) is None
    write_blocks([(plain, values), (other_codec, values)], slice(4, 8))
    np.testing.assert_array_equal(plain[4:], values)
    np.testing.assert_array_equal(other_codec[4:], values)
    assert np.isnan(plain[:4]).all()


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "c" / "0"

    def refuse(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(chunks.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        chunks.write_file(str(target), b"abc")
    assert list((tmp_path / "c").iterdir()) == []


def test_new_arrays_metadata_written_as_files_equals_zarrs_own(tmp_path):
    from zarr.storage import MemoryStore

    from camwidget.datasets.store import create_arrays

    arrays = [("items/id", {"shape": (5,), "chunks": (4,), "dtype": str}),
              ("maps/gradcam/a", {"shape": (5, 3, 2), "chunks": (4, 3, 2), "dtype": "float32", "fill_value": np.nan}),
              ("maps/gradcam/b", {"shape": (5, 3, 2), "chunks": (4, 3, 2), "dtype": "float32", "fill_value": np.nan}),
              ("weights/gradcam/a", {"shape": (5, 7), "chunks": (4, 7), "dtype": "float32",
                                     "compressors": zarr.codecs.ZstdCodec(level=1)})]
    local = zarr.open_group(str(tmp_path / "local.zarr"), mode="w")
    memory = zarr.open_group(MemoryStore(), mode="w")  # not local: through zarr.create_hierarchy
    create_arrays(local, arrays)
    create_arrays(memory, arrays)
    reopened = zarr.open_group(str(tmp_path / "local.zarr"), mode="r")
    def documents(group):  # JSON text: a NaN fill value is unequal to itself as a float
        return {name: json.dumps(node.metadata.to_dict(), default=str, sort_keys=True)
                for name, node in group.members(max_depth=None)}

    assert documents(reopened) == documents(memory)
    assert len(documents(memory)) == 4 + 5  # the arrays and items, maps, maps/gradcam, weights, weights/gradcam
    reopened_rw = zarr.open_group(str(tmp_path / "local.zarr"), mode="r+")
    reopened_rw["maps/gradcam/b"][:] = np.ones((5, 3, 2), np.float32)
    assert reopened_rw["maps/gradcam/b"][:].sum() == 30


def test_an_array_opened_from_its_metadata_file_is_zarrs_own(tmp_path):
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    sub = group.create_group("maps")
    _array(sub, "m/layer.1", 5, 2, (3, 4))
    group.create_array("items/label", shape=(5,), dtype=str)
    reopened = zarr.open_group(str(tmp_path / "s.zarr"), mode="r+")
    for base, name in ((reopened, "maps/m/layer.1"), (reopened["maps"], "m/layer.1"), (reopened, "items/label")):
        ours, theirs = chunks.open_local_array(base, name), base[name]
        assert ours is not None and ours.path == theirs.path
        assert repr(ours.metadata.to_dict()) == repr(theirs.metadata.to_dict())
    ours = chunks.open_local_array(reopened, "maps/m/layer.1")
    ours[0:2] = np.ones((2, 3, 4), dtype=np.float32)  # writable, and read back through Zarr
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "s.zarr"))["maps/m/layer.1"][0:2], 1)
    assert chunks.open_local_array(reopened, "maps") is None  # a group
    assert chunks.open_local_array(reopened, "no/such") is None
    memory = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    _array(memory, "a", 2, 1, ())
    assert chunks.open_local_array(memory, "a") is None  # not a local store: through Zarr


def test_chunks_encoded_in_threads_are_the_same_files(tmp_path):
    values = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    stores = []
    for threads in (1, 3):
        group = zarr.open_group(str(tmp_path / f"t{threads}.zarr"), mode="w")
        arrays = [_array(group, f"maps/a{i}", 4, 4, (3, 5)) for i in range(5)]
        labels = group.create_array("items/label", shape=(4,), dtype=str)
        write_blocks([(a, values + i) for i, a in enumerate(arrays)] + [(labels, np.asarray(list("abcd")))],
                     slice(0, 4), threads)
        stores.append(group)
    for i in range(5):
        np.testing.assert_array_equal(stores[1][f"maps/a{i}"][:], values + i)
        first = (tmp_path / "t1.zarr" / "maps" / f"a{i}" / "c" / "0" / "0" / "0").read_bytes()
        assert (tmp_path / "t3.zarr" / "maps" / f"a{i}" / "c" / "0" / "0" / "0").read_bytes() == first
    assert list(stores[1]["items/label"][:]) == list("abcd")
