"""Whole chunks (and new arrays' metadata) written straight to a local Zarr store: the bytes Zarr
would write, without its machinery.

A unit of ``explain_dataset`` writes one chunk of each of its ~134 arrays (maps and weights of
every layer). Through ``zarr``'s ``setitem`` (an event loop, a task and a worker thread per
chunk, a read-modify-write check per selection) that cost 0.4–0.9 s per unit of 32 items on this
machine, of which encoding and the files themselves are ~0.1 s. Where the chunk is whole and
the array is plain — float32, int32 or bool, Zarr v3, the ``bytes`` codec (little-endian) followed by ``zstd`` (no
sharding, no other codec), a regular grid with one chunk across every axis but the first, on a
``LocalStore`` — this module encodes the block with the same codec (``numcodecs.Zstd`` with the
array's level and checksum flag), and writes it under the array's own chunk key as Zarr does: to a
temporary file, then renamed, so a chunk is never half-written. Anything else goes through Zarr.
A block shorter than the chunk (the last unit) is padded with the fill value, as Zarr stores an
edge chunk. The metadata documents of a new store's arrays (and of their parent groups) are
written the same way from the metadata objects Zarr made (``write_metadata``). Tests read every
direct write back through Zarr.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The dtypes written directly (fixed size, one byte order): the maps, weights, targets, scores and done flags.
DIRECT_DTYPES = (np.dtype("float32"), np.dtype("int32"), np.dtype("bool"))

def _zstd_of(array) -> Any:
    """The numcodecs compressor equal to ``array``'s codecs, or None when they are anything else."""
    from zarr.codecs import BytesCodec, ZstdCodec

    metadata = array.metadata
    if getattr(metadata, "zarr_format", None) != 3:
        return None
    codecs = tuple(metadata.codecs)
    if len(codecs) != 2 or not isinstance(codecs[0], BytesCodec) or not isinstance(codecs[1], ZstdCodec):
        return None
    if codecs[0].endian is not None and codecs[0].endian.value != "little":
        return None
    from numcodecs import Zstd

    return Zstd.from_config({"level": codecs[1].level, "checksum": codecs[1].checksum})


def direct_path(array, rows: slice, values: np.ndarray) -> tuple[str, bytes] | None:
    """``(file path, encoded bytes)`` of the one whole chunk that ``values`` at ``rows`` fills, or
    None when this array or selection must go through Zarr."""
    from zarr.storage import LocalStore

    store = array.store_path.store
    if not isinstance(store, LocalStore) or array.dtype not in DIRECT_DTYPES or values.dtype != array.dtype:
        return None
    chunks, shape = tuple(array.chunks), tuple(array.shape)
    start, stop = rows.start or 0, rows.stop
    if start % chunks[0] or chunks[1:] != shape[1:] or values.shape[1:] != shape[1:]:
        return None
    if stop - start != len(values) or (len(values) != chunks[0] and stop != shape[0]):
        return None  # not one whole chunk (or the array's last, partial one)
    compressor = _zstd_of(array)
    if compressor is None:
        return None
    block = values
    if len(values) < chunks[0]:  # the edge chunk: stored at full size, padded with the fill value
        block = np.full(chunks, array.fill_value, dtype=array.dtype)
        block[:len(values)] = values
    key = array.metadata.encode_chunk_key((start // chunks[0], *([0] * (len(shape) - 1))))
    path = os.path.join(str(store.root), *array.path.split("/"), *key.split("/"))
    return path, compressor.encode(np.ascontiguousarray(block, dtype=array.dtype.newbyteorder("<")))


def write_file(path: str, data: bytes) -> None:
    """``data`` at ``path``, atomically (a temporary file renamed over it), as Zarr's LocalStore.
    Its folders are made when the file cannot be opened (one system call where they exist,
    instead of ``makedirs``' one per level)."""
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        try:
            file = open(partial, "wb")
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            file = open(partial, "wb")
        with file:
            file.write(data)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def split(blocks: Sequence[tuple[Any, np.ndarray]], rows: slice,
          threads: int = 1) -> tuple[list[tuple[str, bytes]], list]:
    """``blocks`` (array, values) split into the direct writes, encoded (in ``threads`` threads),
    and the rest (for Zarr)."""
    if threads > 1 and len(blocks) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(threads, len(blocks)), thread_name_prefix="camwidget-encode") as pool:
            encodings = list(pool.map(lambda block: direct_path(block[0], rows, block[1]), blocks))
    else:
        encodings = [direct_path(array, rows, values) for array, values in blocks]
    direct, rest = [], []
    for (array, values), encoded in zip(blocks, encodings):
        if encoded is None:
            rest.append((array, values))
        else:
            direct.append(encoded)
    return direct, rest


def open_local_array(group, name: str):
    """The v3 array ``name`` of ``group`` on a local store, built from its ``zarr.json`` read as a
    file (~0.1 ms; ``group[name]`` takes ~0.5 ms, the first unit of Grad-CAM at every layer of the
    default model opens 134), or None (not local, not there, not a v3 array: open it through Zarr)."""
    import json

    from zarr import Array
    from zarr.core.array import AsyncArray
    from zarr.core.metadata import ArrayV3Metadata
    from zarr.storage import LocalStore, StorePath

    store = group.store
    if not isinstance(store, LocalStore):
        return None
    path = f"{group.path}/{name}" if group.path else name
    try:
        with open(os.path.join(str(store.root), *path.split("/"), "zarr.json"), "rb") as file:
            document = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("zarr_format") != 3 or document.get("node_type") != "array":
        return None
    return Array(AsyncArray(metadata=ArrayV3Metadata.from_dict(document), store_path=StorePath(store, path)))


def write_metadata(group, nodes: dict[str, Any]) -> bool:
    """Write the ``zarr.json`` of every array ``nodes`` (path in the store → Zarr v3 array metadata)
    and of every parent group not yet there, as files; False (nothing written) where the store is
    not local or a node is not v3 (then ``zarr.create_hierarchy`` does it)."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.group import GroupMetadata
    from zarr.storage import LocalStore

    store = group.store
    if not isinstance(store, LocalStore) or any(getattr(m, "zarr_format", None) != 3 for m in nodes.values()):
        return False
    prototype = default_buffer_prototype()
    documents: dict[int, bytes] = {}  # one encoding per distinct metadata object
    root = str(store.root)
    folder = group.path.split("/") if group.path else []
    group_document = GroupMetadata(zarr_format=3).to_buffer_dict(prototype)["zarr.json"].to_bytes()
    for path, metadata in nodes.items():
        parts = path.split("/")
        for depth in range(len(folder) + 1, len(parts)):  # parent groups below ``group``
            parent = os.path.join(root, *parts[:depth], "zarr.json")
            if not os.path.exists(parent):
                write_file(parent, group_document)
        if id(metadata) not in documents:
            documents[id(metadata)] = metadata.to_buffer_dict(prototype)["zarr.json"].to_bytes()
        write_file(os.path.join(root, *parts, "zarr.json"), documents[id(metadata)])
    return True
