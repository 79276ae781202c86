"""Dataset and file digests, and the columnar form behind them."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelward_sdk import dataset_digest, file_digest
from modelward_sdk.columnar import iter_batches, normalize


def test_file_digest_streams_large_file(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    content = bytes(range(256)) * 20_000  # about 5 MB, several 1 MiB chunks
    path.write_bytes(content)
    assert file_digest(path) == hashlib.sha256(content).hexdigest()
    assert dataset_digest(str(path)) == hashlib.sha256(content).hexdigest()


def test_same_data_same_digest_across_forms() -> None:
    frame = pd.DataFrame({"amount": [1.5, 2.0, 3.25], "count": [1, 2, 3], "city": ["Recife", "Lisboa", "Porto"]})
    as_dict = {"amount": np.array([1.5, 2.0, 3.25]), "count": [1, 2, 3], "city": np.array(["Recife", "Lisboa", "Porto"])}
    assert dataset_digest(frame) == dataset_digest(as_dict)


def test_digest_ignores_index_and_byte_order() -> None:
    values = np.array([1.0, 2.0, 3.0])
    big_endian = values.astype(">f8")
    assert dataset_digest({"x": values}) == dataset_digest({"x": big_endian})
    frame = pd.DataFrame({"x": values}, index=[10, 20, 30])
    assert dataset_digest(frame) == dataset_digest({"x": values})


def test_digest_depends_on_order_names_and_values() -> None:
    base = dataset_digest({"a": [1, 2], "b": [3, 4]})
    assert dataset_digest({"b": [3, 4], "a": [1, 2]}) != base
    assert dataset_digest({"a": [2, 1], "b": [4, 3]}) != base
    assert dataset_digest({"a": [1, 2], "c": [3, 4]}) != base
    assert dataset_digest({"a": [1, 2], "b": [3, 5]}) != base


def test_nan_payloads_give_one_digest() -> None:
    other_nan = np.frombuffer(struct.pack("<Q", 0x7FF8000000000001), dtype="<f8")[0]
    assert np.isnan(other_nan)
    assert dataset_digest({"x": np.array([1.0, np.nan])}) == dataset_digest({"x": np.array([1.0, other_nan])})


def test_null_differs_from_nan_and_placeholder() -> None:
    with_null = dataset_digest(pd.DataFrame({"x": pd.array([1.0, None], dtype="Float64")}))
    with_nan = dataset_digest({"x": np.array([1.0, np.nan])})
    with_zero = dataset_digest({"x": np.array([1.0, 0.0])})
    assert len({with_null, with_nan, with_zero}) == 3


def test_bool_counts_as_int() -> None:
    assert dataset_digest({"flag": np.array([True, False])}) == dataset_digest({"flag": np.array([1, 0])})


def test_two_d_array_named_by_position() -> None:
    matrix = np.arange(6, dtype=np.float64).reshape(3, 2)
    assert dataset_digest(matrix) == dataset_digest({"0": matrix[:, 0], "1": matrix[:, 1]})


def test_known_digest_is_stable() -> None:
    # Pins layout version 1: a change of this value means existing lineage digests no longer match.
    assert dataset_digest({"x": [1]}) == hashlib.sha256(
        b"modelward-dataset-v1\n" + struct.pack("<QQ", 1, 1) + struct.pack("<I", 1) + b"x" + b"i" + b"\x00"
        + struct.pack("<q", 1)
    ).hexdigest()


def test_unsupported_input_named() -> None:
    with pytest.raises(TypeError, match="column 'when' has dtype datetime64"):
        normalize({"when": np.array(["2024-01-01"], dtype="datetime64[D]")})
    with pytest.raises(TypeError, match="row 1 contains int"):
        normalize({"mixed": np.array(["a", 3], dtype=object)})
    with pytest.raises(ValueError, match="different lengths"):
        normalize({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="3-D array"):
        normalize(np.zeros((2, 2, 2)))


def test_batches_cover_rows_with_nulls() -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0, 5.0], "city": ["a", None, "c", "d", "e"]})
    batches = list(iter_batches(normalize(frame), chunk_rows=2))
    assert [batch.row_count for batch in batches] == [2, 2, 1]
    first = batches[0]
    assert list(first.columns[0].double_values.values) == [1.0, 0.0]
    assert list(first.columns[0].null_mask) == [False, True]
    assert list(first.columns[1].string_values.values) == ["a", ""]
    assert list(first.columns[1].null_mask) == [False, True]
    # A chunk without nulls sends no mask.
    assert list(batches[2].columns[0].null_mask) == []
