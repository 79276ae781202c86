"""Conversion and validation of the columns that callers pass in.

A column is a 1-D numpy array, a numpy masked array or a list. Missing values are of two kinds,
counted apart and both left out of every distribution: null (None in a list or an object array,
or a masked entry, which is how the gRPC layer passes a null mask) and NaN. Infinities are
rejected with `NonFiniteValueError` naming the column.

Categories are compared by their category key, a string: see `category_key`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ColumnTypeError, NonFiniteValueError

ColumnData = np.ndarray | Sequence[object]

_NUMERIC_KINDS = frozenset("biuf")


@dataclass(frozen=True)
class NumericInput:
    """A numeric column as float64, with NaN at every null or NaN row."""

    values: np.ndarray
    n_null: int


@dataclass(frozen=True)
class CategoricalInput:
    """A categorical column as given, with the rows that are null."""

    values: np.ndarray
    null_mask: np.ndarray | None


@dataclass(frozen=True)
class CategoryCounts:
    """Counts of each category key in a column, and of the missing rows."""

    counts: dict[str, int]
    n_null: int
    n_nan: int


def category_key(column: str, value: object, row: int = -1) -> str | None:
    """Return the string that identifies `value` as a category, or None when it is missing.

    Integers and integral floats give their decimal integer ("1" for 1, 1.0 and numpy ints),
    booleans give "1" and "0" (the gRPC API sends booleans as int64 0 and 1), other floats their
    shortest repr, and strings themselves. None and NaN are missing. Raises
    `NonFiniteValueError` for infinities and `ColumnTypeError` for other types; `row` is only
    used in those messages, -1 when unknown.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            raise NonFiniteValueError(column, row, number)
        return str(int(number)) if number.is_integer() else repr(number)
    raise ColumnTypeError(
        column,
        f"column {column!r} has {value!r} of type {type(value).__name__} at row {row}: "
        "a categorical column takes str, int, float, bool or None",
    )


def _as_1d_array(column: str, data: object) -> np.ndarray:
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (list, tuple)):
        array = np.empty(len(data), dtype=object)
        array[:] = list(data)
    else:
        raise ColumnTypeError(
            column,
            f"column {column!r} is a {type(data).__name__}: pass a 1-D numpy array or a list",
        )
    if array.ndim != 1:
        raise ColumnTypeError(
            column,
            f"column {column!r} has shape {array.shape}: pass a 1-D array, one value per row",
        )
    return array


def _split_mask(column: str, data: object) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the values and the null mask of a masked array, or the array and None."""
    if isinstance(data, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(data)
        values = _as_1d_array(column, np.asarray(data.data))
        return values, (mask if mask.any() else None)
    return _as_1d_array(column, data), None


def to_numeric(column: str, data: object) -> NumericInput:
    """Convert a column to float64 with NaN at missing rows, rejecting infinities.

    Accepts numeric and boolean arrays, masked arrays, and lists or object arrays of numbers and
    None. Raises `ColumnTypeError` for strings and other objects.
    """
    values, mask = _split_mask(column, data)
    kind = values.dtype.kind
    if kind in _NUMERIC_KINDS:
        converted = values.astype(np.float64, copy=mask is not None)
        n_null = 0
    elif kind == "O":
        converted, n_null = _object_to_float(column, values)
    else:
        raise ColumnTypeError(
            column,
            f"column {column!r} has dtype {values.dtype}: a numeric column takes numbers, "
            "or declare it categorical",
        )
    if mask is not None:
        # A masked row is null whatever placeholder it holds, NaN included.
        n_null += int(np.count_nonzero(mask))
        converted[mask] = np.nan
    check_finite(column, converted)
    return NumericInput(values=converted, n_null=n_null)


def _object_to_float(column: str, values: np.ndarray) -> tuple[np.ndarray, int]:
    converted = np.empty(values.shape[0], dtype=np.float64)
    n_null = 0
    for row, value in enumerate(values):
        if value is None:
            converted[row] = np.nan
            n_null += 1
        elif isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            converted[row] = float(value)
        else:
            raise ColumnTypeError(
                column,
                f"column {column!r} has {value!r} of type {type(value).__name__} at row {row}: "
                "a numeric column takes numbers or None",
            )
    return converted, n_null


def check_finite(column: str, values: np.ndarray) -> None:
    """Raise `NonFiniteValueError` naming the column and the first row with an infinity."""
    infinite = np.isinf(values)
    if infinite.any():
        row = int(np.argmax(infinite))
        raise NonFiniteValueError(column, row, float(values[row]))


def to_categorical(column: str, data: object) -> CategoricalInput:
    """Check that a column can be read as categories and return it with its null mask."""
    values, mask = _split_mask(column, data)
    if values.dtype.kind not in _NUMERIC_KINDS | {"U", "O"}:
        raise ColumnTypeError(
            column,
            f"column {column!r} has dtype {values.dtype}: a categorical column takes str, int, "
            "float, bool or None",
        )
    if values.dtype.kind == "f":
        check_finite(column, values if mask is None else values[~mask])
    return CategoricalInput(values=values, null_mask=mask)


def count_categories(column: str, data: CategoricalInput) -> CategoryCounts:
    """Count each category key of a column, and its null and NaN rows."""
    values = data.values
    n_null = 0
    if data.null_mask is not None:
        n_null = int(np.count_nonzero(data.null_mask))
        values = values[~data.null_mask]
    if values.dtype.kind == "O":
        return _count_objects(column, values, n_null)
    n_nan = 0
    if values.dtype.kind == "f":
        nan_mask = np.isnan(values)
        n_nan = int(np.count_nonzero(nan_mask))
        values = values[~nan_mask]
    uniques, counts = np.unique(values, return_counts=True)
    merged: dict[str, int] = {}
    for value, count in zip(uniques.tolist(), counts.tolist(), strict=True):
        key = category_key(column, value)
        if key is not None:
            merged[key] = merged.get(key, 0) + count
    return CategoryCounts(counts=merged, n_null=n_null, n_nan=n_nan)


def _count_objects(column: str, values: np.ndarray, n_null: int) -> CategoryCounts:
    listed = values.tolist()
    try:
        raw_counts = Counter(listed)
    except TypeError as error:
        raise ColumnTypeError(
            column, f"column {column!r} has an unhashable value: {error}; send str, int or float"
        ) from error
    merged: dict[str, int] = {}
    n_nan = 0
    for value, count in raw_counts.items():
        if value is None:
            n_null += count
            continue
        try:
            key = category_key(column, value)
        except (NonFiniteValueError, ColumnTypeError):
            # Looking up the row only on failure keeps counting linear; this call raises again
            # with the row in the message.
            category_key(column, value, _first_row_of(listed, value))
            raise
        if key is None:
            n_nan += count
        else:
            merged[key] = merged.get(key, 0) + count
    return CategoryCounts(counts=merged, n_null=n_null, n_nan=n_nan)


def _first_row_of(listed: list[object], value: object) -> int:
    for row, candidate in enumerate(listed):
        if candidate is value:
            return row
    return -1


def category_keys_at(column: str, data: CategoricalInput, rows: np.ndarray) -> np.ndarray:
    """Return the category keys of the given rows as an object array, None where missing."""
    keys = np.empty(rows.shape[0], dtype=object)
    picked = data.values[rows].tolist()
    null = data.null_mask[rows] if data.null_mask is not None else None
    for position, value in enumerate(picked):
        if null is not None and null[position]:
            keys[position] = None
        else:
            keys[position] = category_key(column, value, int(rows[position]))
    return keys
