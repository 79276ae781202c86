"""Reference profile of one model version, built from a reference sample given as columns.

The profile keeps a summary per column (see `summary`) with the null and NaN counts. For
numeric columns that is the quantile grid, cell counts and sums, moments, minimum and maximum,
and for categorical columns the category counts. It also keeps a joint sample of at most
`ProfileConfig.sample_size` rows of every column together, which serves the exact
Kolmogorov-Smirnov and Wasserstein tests and driver analysis. A reference with at most that
many rows is kept whole.

`to_bytes()` writes the layout of `binary` with magic b"MWRP" and format version 1. Metadata
goes in the JSON header. Per column i the array section holds `i.edges`, `i.coarse_index`,
`i.cell_counts`, `i.cell_atoms`, `i.cell_sums` (numeric) and `i.sample`, which is float64 for
numeric columns and, for categorical ones, int32 codes into the column's `sample_categories`
with -1 for missing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .binary import decode_blob, encode_blob
from .columns import (
    CategoricalInput,
    ColumnData,
    category_keys_at,
    count_categories,
    to_categorical,
    to_numeric,
)
from .config import ProfileConfig
from .enums import ColumnKind
from .errors import ColumnLengthError, MonitoringInputError, ProfileFormatError
from .summary import (
    CategoricalSummary,
    NumericGrid,
    NumericSummary,
    quantile_edges,
    summarise_sorted,
)

PROFILE_MAGIC = b"MWRP"
PROFILE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class NumericProfile:
    """Reference summary of one numeric column, with the grid that windows bin on."""

    name: str
    grid: NumericGrid
    summary: NumericSummary

    kind = ColumnKind.NUMERIC


@dataclass(frozen=True)
class CategoricalProfile:
    """Reference category counts of one categorical column."""

    name: str
    summary: CategoricalSummary

    kind = ColumnKind.CATEGORICAL


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class JointSample:
    """Rows of several columns kept together, for exact tests and driver analysis.

    Numeric columns are float64 with NaN where missing; categorical columns are object arrays
    of category keys with None where missing.
    """

    n_rows: int
    numeric: Mapping[str, np.ndarray] = field(default_factory=dict)
    categorical: Mapping[str, np.ndarray] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        """Return one column of the sample, numeric or categorical."""
        if name in self.numeric:
            return self.numeric[name]
        return self.categorical[name]


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a window is compared with: column summaries and a bounded joint sample.

    `features` lists the feature columns in the order given; `prediction` and `label` name the
    optional prediction and label columns, which are profiled like features. `sample_is_complete`
    is True when the sample holds every reference row.
    """

    model_version: str
    n_rows: int
    features: tuple[str, ...]
    prediction: str | None
    label: str | None
    columns: Mapping[str, ColumnProfile]
    sample: JointSample
    sample_is_complete: bool
    config: ProfileConfig

    @property
    def monitored_columns(self) -> tuple[str, ...]:
        """Return the features, then the prediction column when there is one."""
        return self.features + ((self.prediction,) if self.prediction is not None else ())

    def exact_values(self, name: str) -> np.ndarray | None:
        """Return every non-missing value of a numeric column, sorted, or None if not all kept."""
        if not self.sample_is_complete or name not in self.sample.numeric:
            return None
        values = self.sample.numeric[name]
        return np.sort(values[~np.isnan(values)])

    def to_bytes(self) -> bytes:
        """Serialise the profile deterministically (layout in this module's docstring)."""
        meta, arrays = _encode_profile(self)
        return encode_blob(PROFILE_MAGIC, PROFILE_FORMAT_VERSION, meta, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        """Read a profile written by `to_bytes`, raising `ProfileFormatError` on other bytes."""
        meta, arrays = decode_blob(data, PROFILE_MAGIC, PROFILE_FORMAT_VERSION)
        try:
            return _decode_profile(meta, arrays)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            if isinstance(error, ProfileFormatError):
                raise
            raise ProfileFormatError(
                f"profile metadata is incomplete or invalid: {error!r}"
            ) from error


def build_reference_profile(
    columns: Mapping[str, ColumnData],
    *,
    features: Collection[str] | None = None,
    categorical: Collection[str] = (),
    prediction: str | None = None,
    label: str | None = None,
    model_version: str = "",
    config: ProfileConfig | None = None,
) -> ReferenceProfile:
    """Build the reference profile of a model version from its reference sample.

    `features` defaults to every column except `prediction` and `label`. A column is
    categorical when it is named in `categorical`, or when its values are booleans, strings or
    other objects that are not numbers. Every other column is numeric. Raises
    `MonitoringInputError` subclasses for missing columns, unequal lengths, infinities and
    values of the wrong type.
    """
    config = config or ProfileConfig()
    names = _column_names(columns, features, prediction, label)
    n_rows = common_length({name: len(columns[name]) for name in names})
    categorical_names = set(categorical)
    profiles: dict[str, ColumnProfile] = {}
    numeric_values: dict[str, np.ndarray] = {}
    categorical_inputs: dict[str, CategoricalInput] = {}
    for name in names:
        if _is_categorical(name, columns[name], categorical_names):
            data = to_categorical(name, columns[name])
            categorical_inputs[name] = data
            profiles[name] = _categorical_profile(name, data, n_rows, config)
        else:
            numeric = to_numeric(name, columns[name])
            numeric_values[name] = numeric.values
            profiles[name] = _numeric_profile(name, numeric.values, numeric.n_null, config)
    sample, complete = _draw_sample(n_rows, numeric_values, categorical_inputs, config)
    feature_names = tuple(name for name in names if name not in (prediction, label))
    return ReferenceProfile(
        model_version=model_version,
        n_rows=n_rows,
        features=feature_names,
        prediction=prediction,
        label=label,
        columns=profiles,
        sample=sample,
        sample_is_complete=complete,
        config=config,
    )


def _column_names(
    columns: Mapping[str, ColumnData],
    features: Collection[str] | None,
    prediction: str | None,
    label: str | None,
) -> list[str]:
    roles = [name for name in (prediction, label) if name is not None]
    if features is None:
        names = [name for name in columns if name not in roles]
    else:
        names = list(features)
    names += roles
    for name in names:
        if name not in columns:
            raise MonitoringInputError(
                name,
                f"column {name!r} is missing from the reference sample: "
                "add it or drop it from the feature list",
            )
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise MonitoringInputError(
            duplicate,
            f"column {duplicate!r} is listed twice: "
            "name it once, as a feature, the prediction or the label",
        )
    return names


def common_length(lengths: Mapping[str, int]) -> int:
    """Return the length shared by all columns, or raise naming a column that differs.

    The most frequent length is taken as the right one, so the error names the odd column out.
    """
    if not lengths:
        return 0
    expected = Counter(lengths.values()).most_common(1)[0][0]
    for name, length in lengths.items():
        if length != expected:
            raise ColumnLengthError(
                name,
                f"column {name!r} has {length} rows but the other columns have {expected}: "
                "send equal lengths",
            )
    return expected


def _is_categorical(name: str, data: object, categorical_names: set[str]) -> bool:
    if name in categorical_names:
        return True
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "b":
            return True
        if data.dtype.kind != "O":
            return data.dtype.kind not in "iuf"
    items = data.tolist() if isinstance(data, np.ndarray) else list(data)  # type: ignore[call-overload]
    for value in items:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        return isinstance(value, (str, bool, np.bool_)) or not isinstance(
            value, (int, float, np.number)
        )
    return False


def _numeric_profile(
    name: str, values: np.ndarray, n_null: int, config: ProfileConfig
) -> NumericProfile:
    sorted_values = np.sort(values)
    n_valid = int(np.searchsorted(sorted_values, np.nan, side="left"))
    valid = sorted_values[:n_valid]
    if n_valid > 0:
        center = float(np.mean(valid))
        std = float(np.std(valid))
    else:
        center, std = 0.0, 0.0
    edges, coarse_index = quantile_edges(valid, config.grid_cells, config.psi_bins)
    grid = NumericGrid(
        edges=edges, coarse_index=coarse_index, center=center, scale=std if std > 0 else 1.0
    )
    totals = summarise_sorted(valid, grid)
    summary = NumericSummary(
        n_rows=int(values.shape[0]),
        n_null=n_null,
        n_nan=int(values.shape[0]) - n_valid - n_null,
        cell_counts=totals.counts,
        cell_atoms=totals.atoms,
        cell_sums=totals.sums,
        sum_sq=totals.sum_sq,
        minimum=float(valid[0]) if n_valid else None,
        maximum=float(valid[-1]) if n_valid else None,
    )
    return NumericProfile(name=name, grid=grid, summary=summary)


def _categorical_profile(
    name: str, data: CategoricalInput, n_rows: int, config: ProfileConfig
) -> CategoricalProfile:
    counted = count_categories(name, data)
    ranked = sorted(counted.counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(sorted(ranked[: config.max_categories]))
    other = sum(count for _, count in ranked[config.max_categories :])
    summary = CategoricalSummary(
        n_rows=n_rows, n_null=counted.n_null, n_nan=counted.n_nan, counts=kept, other_count=other
    )
    return CategoricalProfile(name=name, summary=summary)


def _draw_sample(
    n_rows: int,
    numeric_values: Mapping[str, np.ndarray],
    categorical_inputs: Mapping[str, CategoricalInput],
    config: ProfileConfig,
) -> tuple[JointSample, bool]:
    complete = n_rows <= config.sample_size
    if complete:
        rows = np.arange(n_rows)
    else:
        rng = np.random.default_rng(config.seed)
        rows = np.sort(rng.choice(n_rows, size=config.sample_size, replace=False))
    numeric = {name: values[rows].copy() for name, values in numeric_values.items()}
    categorical = {
        name: category_keys_at(name, data, rows) for name, data in categorical_inputs.items()
    }
    return JointSample(
        n_rows=int(rows.shape[0]), numeric=numeric, categorical=categorical
    ), complete


def _encode_profile(profile: ReferenceProfile) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    column_meta: list[dict[str, Any]] = []
    names = list(profile.columns)
    for index, name in enumerate(names):
        column = profile.columns[name]
        if isinstance(column, NumericProfile):
            column_meta.append(_encode_numeric(index, column, profile.sample, arrays))
        else:
            column_meta.append(_encode_categorical(index, column, profile.sample, arrays))
    config = profile.config
    meta = {
        "model_version": profile.model_version,
        "n_rows": profile.n_rows,
        "features": list(profile.features),
        "prediction": profile.prediction,
        "label": profile.label,
        "sample_rows": profile.sample.n_rows,
        "sample_is_complete": profile.sample_is_complete,
        "config": {
            "psi_bins": config.psi_bins,
            "grid_cells": config.grid_cells,
            "sample_size": config.sample_size,
            "max_categories": config.max_categories,
            "seed": config.seed,
        },
        "columns": column_meta,
    }
    return meta, arrays


def _encode_numeric(
    index: int, column: NumericProfile, sample: JointSample, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    summary = column.summary
    arrays[f"{index}.edges"] = column.grid.edges
    arrays[f"{index}.coarse_index"] = column.grid.coarse_index.astype(np.int64)
    arrays[f"{index}.cell_counts"] = summary.cell_counts.astype(np.int64)
    arrays[f"{index}.cell_atoms"] = summary.cell_atoms.astype(np.int64)
    arrays[f"{index}.cell_sums"] = summary.cell_sums.astype(np.float64)
    arrays[f"{index}.sample"] = sample.numeric[column.name].astype(np.float64)
    return {
        "name": column.name,
        "kind": ColumnKind.NUMERIC.value,
        "n_rows": summary.n_rows,
        "n_null": summary.n_null,
        "n_nan": summary.n_nan,
        "center": column.grid.center,
        "scale": column.grid.scale,
        "sum_sq": summary.sum_sq,
        "minimum": summary.minimum,
        "maximum": summary.maximum,
    }


def _encode_categorical(
    index: int, column: CategoricalProfile, sample: JointSample, arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    summary = column.summary
    keys = sample.categorical[column.name]
    sample_categories = sorted({key for key in keys.tolist() if key is not None})
    code_of = {key: code for code, key in enumerate(sample_categories)}
    codes = np.array([-1 if key is None else code_of[key] for key in keys.tolist()], dtype=np.int32)
    arrays[f"{index}.sample"] = codes
    return {
        "name": column.name,
        "kind": ColumnKind.CATEGORICAL.value,
        "n_rows": summary.n_rows,
        "n_null": summary.n_null,
        "n_nan": summary.n_nan,
        "categories": list(summary.counts),
        "counts": list(summary.counts.values()),
        "other_count": summary.other_count,
        "sample_categories": sample_categories,
    }


def _decode_profile(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ReferenceProfile:
    config = ProfileConfig(**meta["config"])
    columns: dict[str, ColumnProfile] = {}
    numeric_sample: dict[str, np.ndarray] = {}
    categorical_sample: dict[str, np.ndarray] = {}
    for index, entry in enumerate(meta["columns"]):
        name = entry["name"]
        sample_array = arrays[f"{index}.sample"]
        if entry["kind"] == ColumnKind.NUMERIC.value:
            columns[name] = _decode_numeric(index, entry, arrays)
            numeric_sample[name] = sample_array
        elif entry["kind"] == ColumnKind.CATEGORICAL.value:
            columns[name] = _decode_categorical(entry)
            categories = np.array([None, *entry["sample_categories"]], dtype=object)
            categorical_sample[name] = categories[sample_array.astype(np.int64) + 1]
        else:
            raise ProfileFormatError(f"column {name!r} has unknown kind {entry['kind']!r}")
    sample = JointSample(
        n_rows=int(meta["sample_rows"]), numeric=numeric_sample, categorical=categorical_sample
    )
    return ReferenceProfile(
        model_version=meta["model_version"],
        n_rows=int(meta["n_rows"]),
        features=tuple(meta["features"]),
        prediction=meta["prediction"],
        label=meta["label"],
        columns=columns,
        sample=sample,
        sample_is_complete=bool(meta["sample_is_complete"]),
        config=config,
    )


def _decode_numeric(
    index: int, entry: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> NumericProfile:
    grid = NumericGrid(
        edges=arrays[f"{index}.edges"],
        coarse_index=arrays[f"{index}.coarse_index"],
        center=float(entry["center"]),
        scale=float(entry["scale"]),
    )
    summary = NumericSummary(
        n_rows=int(entry["n_rows"]),
        n_null=int(entry["n_null"]),
        n_nan=int(entry["n_nan"]),
        cell_counts=arrays[f"{index}.cell_counts"],
        cell_atoms=arrays[f"{index}.cell_atoms"],
        cell_sums=arrays[f"{index}.cell_sums"],
        sum_sq=float(entry["sum_sq"]),
        minimum=entry["minimum"],
        maximum=entry["maximum"],
    )
    return NumericProfile(name=entry["name"], grid=grid, summary=summary)


def _decode_categorical(entry: Mapping[str, Any]) -> CategoricalProfile:
    counts = dict(zip(entry["categories"], (int(count) for count in entry["counts"]), strict=True))
    summary = CategoricalSummary(
        n_rows=int(entry["n_rows"]),
        n_null=int(entry["n_null"]),
        n_nan=int(entry["n_nan"]),
        counts=counts,
        other_count=int(entry["other_count"]),
    )
    return CategoricalProfile(name=entry["name"], summary=summary)
