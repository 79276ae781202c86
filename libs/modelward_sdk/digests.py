"""SHA-256 digests of artifacts and datasets, as lowercase hexadecimal.

`file_digest(path)` hashes the file's bytes, read in 1 MiB chunks.

`dataset_digest(data)` hashes tabular data in a canonical byte layout, so the same values give
the same digest whether they come from a DataFrame, a dict of arrays or a numpy array, and on
any platform. The data is first normalized into columns as described in `modelward_sdk.columnar`
(the index of a DataFrame is ignored; booleans count as int64 0 and 1). The layout, version 1:

    b"modelward-dataset-v1\\n"
    u64 number of columns, u64 number of rows
    for each column, in order:
        u32 byte length of the name, the name in UTF-8
        one byte kind: b"d" double, b"i" int64, b"s" string
        one byte: 1 when the column has nulls, else 0; when 1, the null mask follows as
            numpy.packbits(mask, bitorder="little")
        the values: doubles as little-endian IEEE 754 binary64 with every NaN written as
            0x7FF8000000000000 (so NaN payloads do not matter, but -0.0 and 0.0 differ); int64 as
            little-endian two's complement; strings as u32 byte length and UTF-8 bytes each.
            Null rows hold 0 or "".

Integers (u32, u64) are little-endian. Row order and column order matter.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

from modelward_sdk.columnar import ColumnData, normalize, row_count

CHUNK_BYTES = 1024 * 1024
LAYOUT_HEADER = b"modelward-dataset-v1\n"
_KIND_BYTE = {"double": b"d", "int64": b"i", "string": b"s"}
_CANONICAL_NAN = np.frombuffer(struct.pack("<Q", 0x7FF8000000000000), dtype="<f8")[0]


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_digest(data: object) -> str:
    """Hash a DataFrame, a mapping of columns or a numpy array; a str or Path is hashed as a file."""
    if isinstance(data, (str, Path)):
        return file_digest(data)
    columns = normalize(data)
    digest = hashlib.sha256(LAYOUT_HEADER)
    digest.update(struct.pack("<QQ", len(columns), row_count(columns)))
    for column in columns:
        _update_column(digest, column)
    return digest.hexdigest()


def _update_column(digest: hashlib._Hash, column: ColumnData) -> None:
    name = column.name.encode("utf-8")
    digest.update(struct.pack("<I", len(name)) + name + _KIND_BYTE[column.kind])
    if column.nulls is None:
        digest.update(b"\x00")
    else:
        digest.update(b"\x01" + np.packbits(column.nulls, bitorder="little").tobytes())

    if column.kind == "double":
        values = column.values.astype("<f8", copy=True)
        values[np.isnan(values)] = _CANONICAL_NAN
        digest.update(values.tobytes())
    elif column.kind == "int64":
        digest.update(column.values.astype("<i8").tobytes())
    else:
        for text in column.values:
            encoded = text.encode("utf-8")
            digest.update(struct.pack("<I", len(encoded)) + encoded)
