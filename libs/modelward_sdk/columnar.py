"""Tabular data in the columnar form that the monitoring RPCs and the dataset digest use.

`normalize` turns the accepted inputs into named columns of three kinds, matching
`modelward.governance.v1.Column`:

- `double`: float64 values; from float columns.
- `int64`: from signed and unsigned integer columns and from booleans (as 0 and 1).
- `string`: from str, categorical and object columns whose values are str.

Accepted inputs: a mapping of column name to array-like, a pandas DataFrame (its index is
ignored), a 1-D numpy array (one column named `0`) or a 2-D one (columns `0`, `1`, ...).

Nulls: None and pandas' missing markers (None, NaN, NaT, pd.NA) in a pandas column become nulls,
as pandas treats them. In a numpy float array NaN is a value, not a null, so pass a DataFrame or
a masked array (`numpy.ma`) to send nulls from numpy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelward_protos.governance.v1 import monitoring_pb2 as mon

Kind = Literal["double", "int64", "string"]
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class ColumnData:
    name: str
    kind: Kind
    # float64 or int64 array, or an object array of str; placeholders (0 or "") at null rows.
    values: npt.NDArray[Any]
    # Boolean array, True at null rows; None when the column has no null.
    nulls: npt.NDArray[np.bool_] | None

    def __len__(self) -> int:
        return len(self.values)


def normalize(data: object) -> list[ColumnData]:
    """Return the columns of `data` in order; raise TypeError or ValueError naming the column."""
    columns = [_column(str(name), values) for name, values in _named_columns(data)]
    names = [column.name for column in columns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"column names must be unique; repeated: {', '.join(duplicates)}")
    lengths = {len(column) for column in columns}
    if len(lengths) > 1:
        shown = ", ".join(f"{column.name}={len(column)}" for column in columns)
        raise ValueError(f"columns have different lengths ({shown}): give every column the same number of rows")
    return columns


def row_count(columns: list[ColumnData]) -> int:
    return len(columns[0]) if columns else 0


def iter_batches(columns: list[ColumnData], chunk_rows: int) -> Iterator[mon.ColumnarBatch]:
    """Yield the rows as ColumnarBatch messages of at most `chunk_rows` rows each."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows {chunk_rows} is invalid: use 1 or more")
    total = row_count(columns)
    for start in range(0, total, chunk_rows):
        stop = min(start + chunk_rows, total)
        yield mon.ColumnarBatch(
            row_count=stop - start, columns=[_to_proto(column, start, stop) for column in columns]
        )


def to_column_proto(name: str, values: object) -> mon.Column:
    """Convert one array-like into a Column message, for example labels for ReportLabels."""
    column = _column(name, values)
    return _to_proto(column, 0, len(column))


def _named_columns(data: object) -> list[tuple[object, object]]:
    if isinstance(data, Mapping):
        return list(data.items())
    if _is_dataframe(data):
        return [(name, data[name]) for name in data.columns]  # type: ignore[attr-defined]
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            return [("0", data)]
        if data.ndim == 2:
            return [(str(index), data[:, index]) for index in range(data.shape[1])]
        raise ValueError(f"a {data.ndim}-D array has no column layout: reshape it to 1-D or 2-D")
    raise TypeError(
        f"cannot read columns from {type(data).__name__}: pass a mapping of column name to values, "
        "a pandas DataFrame or a 1-D or 2-D numpy array"
    )


def _is_dataframe(data: object) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _column(name: str, raw: object) -> ColumnData:
    nulls: npt.NDArray[np.bool_] | None = None
    if type(raw).__name__ == "Series":
        nulls = np.asarray(raw.isna(), dtype=bool)  # type: ignore[attr-defined]
        array = _series_values(raw, nulls)
    elif isinstance(raw, np.ma.MaskedArray):
        nulls = np.ma.getmaskarray(raw)
        array = np.asarray(raw.filled(raw.fill_value if raw.dtype.kind != "O" else None))
    else:
        array = np.asarray(raw)
    if array.ndim != 1:
        raise ValueError(f"column {name!r} has shape {array.shape}: every column must be 1-D")
    kind, values, found_nulls = _convert(name, array, nulls)
    if found_nulls is not None and not found_nulls.any():
        found_nulls = None
    return ColumnData(name, kind, values, found_nulls)


def _series_values(series: Any, nulls: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if type(dtype).__name__ == "CategoricalDtype":
        return np.asarray(series.astype(object), dtype=object)
    if kind == "f":
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=0.0))
    if kind in "iu":
        return np.asarray(series.to_numpy(dtype=np.int64 if kind == "i" else np.uint64, na_value=0))
    if kind == "b":
        return np.asarray(series.to_numpy(dtype=bool, na_value=False))
    return np.asarray(series.to_numpy(dtype=object, na_value=None), dtype=object)


def _convert(
    name: str, array: npt.NDArray[Any], nulls: npt.NDArray[np.bool_] | None
) -> tuple[Kind, npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
    kind = array.dtype.kind
    if kind == "f":
        values = array.astype("<f8", copy=True)
        if nulls is not None:
            values[nulls] = 0.0
        return "double", values, nulls
    if kind == "b":
        return "int64", array.astype("<i8"), nulls
    if kind == "u":
        if array.size and array.max() > _INT64_MAX:
            raise ValueError(f"column {name!r} has values above {_INT64_MAX}, which int64 cannot hold")
        return "int64", array.astype("<i8"), nulls
    if kind == "i":
        return "int64", array.astype("<i8"), nulls
    if kind in "US":
        text = array.astype(str).astype(object)
        return "string", text, nulls
    if kind == "O":
        return _convert_objects(name, array, nulls)
    raise TypeError(
        f"column {name!r} has dtype {array.dtype}, which has no column kind: convert it to float, "
        "integer, bool or str"
    )


def _convert_objects(
    name: str, array: npt.NDArray[Any], nulls: npt.NDArray[np.bool_] | None
) -> tuple[Kind, npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
    mask = np.zeros(len(array), dtype=bool) if nulls is None else nulls.copy()
    values = np.empty(len(array), dtype=object)
    for index, item in enumerate(array):
        if mask[index] or item is None:
            mask[index] = True
            values[index] = ""
        elif isinstance(item, str):
            values[index] = item
        else:
            raise TypeError(
                f"column {name!r} row {index} contains {type(item).__name__} {item!r}; an object column "
                "may contain only str and None: convert the column to one type first"
            )
    return "string", values, mask


def _to_proto(column: ColumnData, start: int, stop: int) -> mon.Column:
    values = column.values[start:stop]
    message = mon.Column(name=column.name)
    if column.kind == "double":
        message.double_values.values.extend(values.tolist())
    elif column.kind == "int64":
        message.int64_values.values.extend(values.tolist())
    else:
        message.string_values.values.extend(values.tolist())
    if column.nulls is not None:
        nulls = column.nulls[start:stop]
        # A message without a null leaves the mask empty, as the Column message requires.
        if nulls.any():
            message.null_mask.extend(nulls.tolist())
    return message
