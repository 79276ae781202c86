"""A small deterministic container for JSON metadata plus numpy arrays.

Layout, all integers little-endian:

    bytes 0-3    magic, which names the kind of object (b"MWRP" for a reference profile)
    bytes 4-5    uint16 format version
    bytes 6-7    uint16, zero
    bytes 8-11   uint32 length H of the header
    bytes 12-    header: UTF-8 JSON, keys sorted, no whitespace, ASCII only
    then         zero bytes up to the next multiple of 8
    then         the array section

The header is `{"arrays": {name: {"dtype": ..., "offset": ..., "shape": [...]}}, "meta": {...}}`.
Each array is stored in C order with a little-endian dtype (one of `ALLOWED_DTYPES`) at
`offset` bytes from the start of the array section, in name order, each padded to a multiple of
8 bytes. The same metadata and arrays always give the same bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ProfileFormatError

ALLOWED_DTYPES = frozenset({"<f8", "<i8", "<i4", "|u1", "|b1"})
_PREFIX = struct.Struct("<4sHHI")


def _padding(length: int) -> int:
    return (-length) % 8


def encode_blob(
    magic: bytes, version: int, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> bytes:
    """Serialise metadata and arrays in the layout of this module's docstring."""
    entries: dict[str, dict[str, Any]] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype.str not in ALLOWED_DTYPES:
            raise ValueError(
                f"array {name!r} has dtype {array.dtype}: store one of {sorted(ALLOWED_DTYPES)}"
            )
        raw = array.astype(dtype, copy=False).tobytes(order="C")
        entries[name] = {"dtype": dtype.str, "offset": offset, "shape": list(array.shape)}
        chunks.append(raw + b"\0" * _padding(len(raw)))
        offset += len(raw) + _padding(len(raw))
    header = json.dumps(
        {"arrays": entries, "meta": meta}, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("ascii")
    prefix = _PREFIX.pack(magic, version, 0, len(header))
    head = prefix + header
    return head + b"\0" * _padding(len(head)) + b"".join(chunks)


def decode_blob(
    data: bytes, magic: bytes, version: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse bytes written by `encode_blob`, raising `ProfileFormatError` when they are not."""
    if len(data) < _PREFIX.size:
        raise ProfileFormatError(
            f"blob has {len(data)} bytes, fewer than the {_PREFIX.size}-byte prefix"
        )
    found_magic, found_version, _, header_length = _PREFIX.unpack_from(data, 0)
    if found_magic != magic:
        raise ProfileFormatError(f"blob starts with {found_magic!r}, expected {magic!r}")
    if found_version != version:
        raise ProfileFormatError(
            f"blob has format version {found_version}; this code reads version {version}"
        )
    header_end = _PREFIX.size + header_length
    if header_end > len(data):
        raise ProfileFormatError(f"header length {header_length} runs past the end of the blob")
    try:
        header = json.loads(data[_PREFIX.size : header_end].decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProfileFormatError(f"header is not valid JSON: {error}") from error
    section_start = header_end + _padding(header_end)
    arrays = {
        name: _read_array(data, section_start, name, entry)
        for name, entry in header.get("arrays", {}).items()
    }
    return header.get("meta", {}), arrays


def _read_array(data: bytes, section_start: int, name: str, entry: Mapping[str, Any]) -> np.ndarray:
    try:
        dtype_text = entry["dtype"]
        shape = tuple(int(size) for size in entry["shape"])
        offset = int(entry["offset"])
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileFormatError(
            f"array {name!r} has an invalid header entry: {entry!r}"
        ) from error
    if dtype_text not in ALLOWED_DTYPES:
        raise ProfileFormatError(
            f"array {name!r} has dtype {dtype_text!r}, not one of {sorted(ALLOWED_DTYPES)}"
        )
    dtype = np.dtype(dtype_text)
    count = int(np.prod(shape, dtype=np.int64))
    start = section_start + offset
    end = start + count * dtype.itemsize
    if offset < 0 or end > len(data):
        raise ProfileFormatError(f"array {name!r} runs past the end of the blob")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=start).reshape(shape)
    # A copy detaches the array from the input bytes and makes it writeable for the owner.
    return array.astype(dtype.newbyteorder("="), copy=True)
