"""Production windows: accumulate batches in bounded memory and close them into `WindowStats`.

A `WindowAccumulator` lives as long as the monitored model version. It keeps one open window
and the label-join buffer, which outlives windows. Per window it keeps:

- numeric columns: cell counts and standardised sums on the reference grid, moments, minimum
  and maximum, and null and NaN counts. Raw values go to a buffer of `exact_limit` rows first.
  While the window fits in it, the values are kept for the exact tests and sorted at close.
  Once a batch would overflow it, the buffer and every later batch are folded into the grid
  as they come, through the grid's `CellLocator`, without sorting.
- categorical columns: counts per category key, with the reference categories and at most
  `max_new_categories` new ones, the rest pooled.
- a uniform sample of rows (features and prediction) for driver analysis, and a uniform sample
  of the labelled rows (features, prediction and label) for performance and driver analysis.
"""

from __future__ import annotations

import logging
import pickle
import struct
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .columns import (
    CategoricalInput,
    CategoryCounts,
    ColumnData,
    NumericInput,
    category_keys_at,
    count_categories,
    to_categorical,
    to_numeric,
)
from .config import MonitoringConfig
from .enums import TaskType
from .errors import (
    ColumnLengthError,
    DuplicateRequestIdError,
    MissingColumnError,
    ProfileFormatError,
    UnexpectedColumnError,
)
from .profile import (
    CategoricalProfile,
    JointSample,
    NumericProfile,
    ReferenceProfile,
    common_length,
)
from .sampling import KeysAt, PendingLabelBuffer, RowReservoir
from .summary import CategoricalSummary, CellTotals, NumericSummary, summarise_sorted

logger = logging.getLogger(__name__)

_STATE_MAGIC = b"MWWA"
_STATE_FORMAT_VERSION = 1
_STATE_PREFIX = struct.Struct("<4sH")


@dataclass(frozen=True)
class LabelledSample:
    """Uniform sample of a window's labelled rows: features, prediction and label.

    `labels` is float64 for regression and an object array of category keys for classifiers.
    """

    rows: JointSample
    labels: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.rows.n_rows


@dataclass(frozen=True)
class LabelJoin:
    """Outcome of `WindowAccumulator.add_labels`.

    `predictions` and `labels` hold the joined rows in the order of the request ids given.
    Predictions are float64 for a numeric prediction column and category keys otherwise; labels
    are float64 for regression and category keys for classifiers. Feed them to
    `concept.error_values` and a `PageHinkley` detector.
    """

    matched: int
    unmatched: int
    missing_labels: int
    predictions: np.ndarray
    labels: np.ndarray
    # Positions in the given request ids of the non-null labels that matched no waiting row.
    unmatched_positions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))


@dataclass(frozen=True)
class WindowStats:
    """Everything a closed window contributes to the drift, performance and driver reports.

    Times are in the caller's clock, in seconds. `opened_at` is None for a window that got no
    batch. `n_labelled` counts every label joined while the window was open; the labelled
    sample keeps at most `WindowConfig.labelled_sample_size` of them. `pending_evicted` counts
    rows that left the label-join buffer unlabelled while the window was open.
    """

    index: int
    opened_at: float | None
    closed_at: float
    n_rows: int
    numeric: Mapping[str, NumericSummary]
    categorical: Mapping[str, CategoricalSummary]
    joint_sample: JointSample
    labelled_sample: LabelledSample
    n_labelled: int
    labels_unmatched: int
    labels_missing: int
    pending_evicted: int


class _NumericAccumulator:
    """Grid summaries of every numeric column of one window, vectorised over columns."""

    def __init__(self, profiles: Sequence[NumericProfile], exact_limit: int) -> None:
        self._profiles = list(profiles)
        width = max((profile.grid.n_cells for profile in self._profiles), default=1)
        count = len(self._profiles)
        self._buffer = np.empty((count, exact_limit), dtype=np.float64)
        self._buffered = 0
        self._overflowed = False
        self._counts = np.zeros((count, width), dtype=np.int64)
        self._atoms = np.zeros((count, width), dtype=np.int64)
        self._sums = np.zeros((count, width), dtype=np.float64)
        self._sum_sq = np.zeros(count, dtype=np.float64)
        self._minimum = np.full(count, np.inf)
        self._maximum = np.full(count, -np.inf)
        self._missing = np.zeros(count, dtype=np.int64)
        self._n_null = np.zeros(count, dtype=np.int64)
        self._exact: list[np.ndarray | None] = [None] * count

    def __getstate__(self) -> dict[str, object]:
        # Only the filled part of the buffer is state; the profiles come back from the caller.
        state = dict(self.__dict__)
        state["_buffer"] = self._buffer[:, : self._buffered].copy()
        state["_capacity"] = self._buffer.shape[1]
        state["_profiles"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        filled = state.pop("_buffer")
        capacity = state.pop("_capacity")
        self.__dict__.update(state)
        assert isinstance(filled, np.ndarray) and isinstance(capacity, int)
        self._buffer = np.empty((filled.shape[0], capacity), dtype=np.float64)
        self._buffer[:, : filled.shape[1]] = filled

    def add(self, inputs: Sequence[NumericInput], n_rows: int) -> None:
        for index, data in enumerate(inputs):
            self._n_null[index] += data.n_null
        if not self._overflowed and self._buffered + n_rows > self._buffer.shape[1]:
            self._overflowed = True
            self._fold_buffer()
        if self._overflowed:
            for index, data in enumerate(inputs):
                self._fold(index, data.values)
            return
        for index, data in enumerate(inputs):
            self._buffer[index, self._buffered : self._buffered + n_rows] = data.values
        self._buffered += n_rows

    def _fold_buffer(self) -> None:
        for index in range(len(self._profiles)):
            self._fold(index, self._buffer[index, : self._buffered])
        self._buffered = 0

    def _fold(self, index: int, values: np.ndarray) -> None:
        missing = np.isnan(values)
        n_missing = int(np.count_nonzero(missing))
        self._missing[index] += n_missing
        valid = values[~missing] if n_missing else values
        if valid.shape[0] == 0:
            return
        totals = self._profiles[index].grid.locator.totals(valid)
        self._add_totals(index, totals, float(valid.min()), float(valid.max()))

    def _summarise_exact(self) -> None:
        ordered = np.sort(self._buffer[:, : self._buffered], axis=1)
        for index, profile in enumerate(self._profiles):
            row = ordered[index]
            # np.sort puts NaN last and searchsorted orders NaN the same way.
            n_valid = int(np.searchsorted(row, np.nan, side="left"))
            self._missing[index] += self._buffered - n_valid
            valid = row[:n_valid]
            self._exact[index] = valid.copy()
            if n_valid == 0:
                continue
            totals = summarise_sorted(valid, profile.grid)
            self._add_totals(index, totals, float(valid[0]), float(valid[-1]))
        self._buffered = 0

    def _add_totals(self, index: int, totals: CellTotals, minimum: float, maximum: float) -> None:
        n_cells = totals.counts.shape[0]
        self._counts[index, :n_cells] += totals.counts
        self._atoms[index, :n_cells] += totals.atoms
        self._sums[index, :n_cells] += totals.sums
        self._sum_sq[index] += totals.sum_sq
        self._minimum[index] = min(self._minimum[index], minimum)
        self._maximum[index] = max(self._maximum[index], maximum)

    def close(self, n_rows: int) -> dict[str, NumericSummary]:
        # Values are exact only when the whole window fitted in the buffer.
        if self._overflowed:
            self._fold_buffer()
        else:
            self._summarise_exact()
        summaries: dict[str, NumericSummary] = {}
        for index, profile in enumerate(self._profiles):
            n_cells = profile.grid.n_cells
            n_null = int(self._n_null[index])
            has_values = bool(np.isfinite(self._minimum[index]))
            summaries[profile.name] = NumericSummary(
                n_rows=n_rows,
                n_null=n_null,
                n_nan=int(self._missing[index]) - n_null,
                cell_counts=self._counts[index, :n_cells].copy(),
                cell_atoms=self._atoms[index, :n_cells].copy(),
                cell_sums=self._sums[index, :n_cells].copy(),
                sum_sq=float(self._sum_sq[index]),
                minimum=float(self._minimum[index]) if has_values else None,
                maximum=float(self._maximum[index]) if has_values else None,
                values=self._exact[index],
            )
        return summaries


class _CategoryCounter:
    """Category counts of one categorical column of one window, with the cap on new ones."""

    def __init__(self, reference: CategoricalProfile, max_new: int) -> None:
        self._known = frozenset(reference.summary.counts)
        self._max_new = max_new
        self._new = 0
        self.counts: dict[str, int] = {}
        self.other = 0
        self.n_null = 0
        self.n_nan = 0

    def merge(self, counted: CategoryCounts) -> None:
        self.n_null += counted.n_null
        self.n_nan += counted.n_nan
        for key, count in counted.counts.items():
            if key in self.counts:
                self.counts[key] += count
            elif key in self._known:
                self.counts[key] = count
            elif self._new < self._max_new:
                self.counts[key] = count
                self._new += 1
            else:
                self.other += count

    def summary(self, n_rows: int) -> CategoricalSummary:
        return CategoricalSummary(
            n_rows=n_rows,
            n_null=self.n_null,
            n_nan=self.n_nan,
            counts=dict(sorted(self.counts.items())),
            other_count=self.other,
        )


@dataclass(frozen=True)
class _ConvertedBatch:
    """Batch columns after validation: numeric as float64, categorical with their counts."""

    numeric: list[NumericInput]
    categorical: dict[str, CategoricalInput]
    counted: dict[str, CategoryCounts]


class _OpenWindow:
    """State of the window being filled."""

    def __init__(
        self,
        profile: ReferenceProfile,
        config: MonitoringConfig,
        index: int,
        rng: np.random.Generator,
    ) -> None:
        window = config.window
        monitored = [profile.columns[name] for name in profile.monitored_columns]
        numeric = [column for column in monitored if isinstance(column, NumericProfile)]
        self.index = index
        self.opened_at: float | None = None
        self.n_rows = 0
        self.numeric = _NumericAccumulator(numeric, window.exact_limit)
        self.categorical = {
            column.name: _CategoryCounter(column, window.max_new_categories)
            for column in monitored
            if isinstance(column, CategoricalProfile)
        }
        numeric_names = [column.name for column in numeric]
        categorical_names = list(self.categorical)
        self.joint = RowReservoir(window.joint_sample_size, numeric_names, categorical_names, rng)
        self.labelled = RowReservoir(
            window.labelled_sample_size, numeric_names, categorical_names, rng, with_labels=True
        )
        self.n_labelled = 0
        self.labels_unmatched = 0
        self.labels_missing = 0
        self.evicted_at_open = 0


class WindowAccumulator:
    """Accumulates production batches of one model version into windows of bounded memory.

    Call `add_batch` for each batch of predictions and `add_labels` when labels arrive.
    `add_batch` closes windows by row count itself; close a window by time with `close` when
    `should_close` returns True. It is not thread-safe, so call it
    from one task.
    """

    def __init__(self, profile: ReferenceProfile, config: MonitoringConfig | None = None) -> None:
        self.profile = profile
        self.config = config or MonitoringConfig()
        self._rng = np.random.default_rng(self.config.window.seed)
        self._numeric_names = [
            name
            for name in profile.monitored_columns
            if isinstance(profile.columns[name], NumericProfile)
        ]
        self._categorical_names = [
            name
            for name in profile.monitored_columns
            if isinstance(profile.columns[name], CategoricalProfile)
        ]
        self._pending = PendingLabelBuffer(
            self.config.window.pending_label_capacity, self._numeric_names, self._categorical_names
        )
        self._window = _OpenWindow(profile, self.config, 0, self._rng)

    @property
    def n_rows(self) -> int:
        """Rows in the open window."""
        return self._window.n_rows

    @property
    def pending_labels(self) -> int:
        """Rows waiting for their label in the label-join buffer."""
        return len(self._pending)

    def add_batch(
        self,
        columns: Mapping[str, ColumnData],
        request_ids: Sequence[object] | np.ndarray | None = None,
        now: float | None = None,
    ) -> list[WindowStats]:
        """Add a batch of production rows, closing each window that reaches `max_rows`.

        `columns` must contain every feature of the profile and its prediction column, each with
        one value per row. The label column is not sent here but through `add_labels`.
        `request_ids`, one per row, make the rows joinable with labels later. A row whose id is
        None has no id: it is counted but never joined. An id that repeats within the batch, or
        that still waits for the label of an earlier row, raises `DuplicateRequestIdError`. `now` is the time in seconds, in any clock used consistently,
        and defaults to `time.time()`.

        A window with a `max_rows` limit closes as soon as it holds exactly that many rows, and
        the rest of the batch goes on into the next window, so one batch may close several
        windows. Returns their statistics, oldest first, each closed at `now`. Closing by time
        is left to the caller, through `should_close` and `close`. The batch is validated whole
        before any state changes, so a rejected batch leaves the accumulator as it was.
        """
        moment = time.time() if now is None else now
        n_rows = self._check_shape(columns, request_ids)
        ids = None if request_ids is None else list(request_ids)
        if ids is not None:
            self._check_request_ids(ids)
        whole = self._convert(columns)
        closed: list[WindowStats] = []
        if n_rows == 0:
            return closed
        if self._window_full():
            # A config with a lower max_rows may apply to a window that already holds more.
            closed.append(self.close(moment))
        start = 0
        while start < n_rows:
            stop = n_rows
            if self.config.window.max_rows is not None:
                stop = min(n_rows, start + self.config.window.max_rows - self._window.n_rows)
            if start == 0 and stop == n_rows:
                part = whole
            else:
                # The whole batch passed validation above, so converting a slice cannot fail.
                part = self._convert({name: columns[name][start:stop] for name in self.profile.monitored_columns})
            self._add_rows(part, None if ids is None else ids[start:stop], stop - start, moment)
            if self._window_full():
                closed.append(self.close(moment))
            start = stop
        return closed

    def _check_request_ids(self, ids: list[object]) -> None:
        check_unique_request_ids(ids)
        waiting = self._pending.first_waiting(ids)
        if waiting is not None:
            raise DuplicateRequestIdError(ids[waiting], [waiting], earlier=True)

    def _convert(self, columns: Mapping[str, ColumnData]) -> _ConvertedBatch:
        categorical = {
            name: to_categorical(name, columns[name]) for name in self._categorical_names
        }
        return _ConvertedBatch(
            numeric=[to_numeric(name, columns[name]) for name in self._numeric_names],
            categorical=categorical,
            counted={name: count_categories(name, data) for name, data in categorical.items()},
        )

    def _add_rows(
        self, batch: _ConvertedBatch, request_ids: list[object] | None, n_rows: int, moment: float
    ) -> None:
        window = self._window
        if window.opened_at is None:
            window.opened_at = moment
        window.numeric.add(batch.numeric, n_rows)
        for name, counter in window.categorical.items():
            counter.merge(batch.counted[name])
        numeric_by_name = dict(
            zip(self._numeric_names, (data.values for data in batch.numeric), strict=True)
        )
        keys_at = {name: _keys_reader(name, data) for name, data in batch.categorical.items()}
        window.joint.add(n_rows, numeric_by_name, keys_at)
        if request_ids is not None:
            with_id = [row for row, request_id in enumerate(request_ids) if request_id is not None]
            if len(with_id) == n_rows:
                self._pending.put(request_ids, numeric_by_name, batch.categorical)
            elif with_id:
                rows = np.asarray(with_id, dtype=np.intp)
                self._pending.put(
                    [request_ids[row] for row in with_id],
                    {name: values[rows] for name, values in numeric_by_name.items()},
                    {name: _take_rows(data, rows) for name, data in batch.categorical.items()},
                )
        window.n_rows += n_rows

    def _window_full(self) -> bool:
        max_rows = self.config.window.max_rows
        return max_rows is not None and self._window.n_rows >= max_rows

    def _check_shape(
        self, columns: Mapping[str, ColumnData], request_ids: Sequence[object] | np.ndarray | None
    ) -> int:
        expected = self.profile.monitored_columns
        for name in expected:
            if name not in columns:
                raise MissingColumnError(
                    name,
                    f"column {name!r} is missing from the batch: "
                    "send every feature and the prediction",
                )
        for name in columns:
            if name not in expected:
                fix = (
                    "send labels with add_labels, joined by request id"
                    if name == self.profile.label
                    else f"send only the profile's columns {list(expected)}"
                )
                raise UnexpectedColumnError(name, f"column {name!r} is not monitored: {fix}")
        n_rows = common_length({name: len(columns[name]) for name in expected})
        if request_ids is not None and len(request_ids) != n_rows:
            raise ColumnLengthError(
                "request_ids",
                f"request_ids has {len(request_ids)} entries for {n_rows} rows: "
                "send one id per row",
            )
        return n_rows

    def add_labels(
        self, request_ids: Sequence[object] | np.ndarray, labels: ColumnData
    ) -> LabelJoin:
        """Join labels to waiting rows by request id, into the open window.

        Labels of unknown, already joined or evicted ids count as unmatched; null and NaN labels
        count as missing and leave their row waiting. An id that repeats within `request_ids`
        raises `DuplicateRequestIdError` before anything changes. Returns the joined predictions
        and labels.
        """
        label_column = self.profile.label or "label"
        if len(request_ids) != len(labels):
            raise ColumnLengthError(
                "request_ids",
                f"request_ids has {len(request_ids)} entries for {len(labels)} labels: "
                "send one id per label",
            )
        check_unique_request_ids(request_ids)
        values = self._read_labels(label_column, labels)
        present = np.flatnonzero(
            np.array([value is not None for value in values.tolist()], dtype=bool)
        )
        ids = list(request_ids)
        positions, rows = self._pending.take([ids[position] for position in present.tolist()])
        unmatched_positions = np.setdiff1d(
            present, present[positions], assume_unique=True
        ).astype(np.intp)
        joined_labels = values[present[positions]]
        window = self._window
        window.labels_missing += len(ids) - int(present.shape[0])
        window.labels_unmatched += int(present.shape[0]) - int(positions.shape[0])
        window.n_labelled += int(positions.shape[0])
        keys_at = {name: _array_reader(keys) for name, keys in rows.categorical.items()}
        window.labelled.add(int(positions.shape[0]), dict(rows.numeric), keys_at, joined_labels)
        prediction = self.profile.prediction
        if prediction is None:
            predictions = np.empty(0, dtype=np.float64)
        elif prediction in rows.numeric:
            predictions = rows.numeric[prediction]
        else:
            predictions = rows.categorical[prediction]
        return LabelJoin(
            matched=int(positions.shape[0]),
            unmatched=int(present.shape[0]) - int(positions.shape[0]),
            missing_labels=len(ids) - int(present.shape[0]),
            predictions=predictions,
            labels=_label_array(joined_labels, self.config.task.task),
            unmatched_positions=unmatched_positions,
        )

    def _read_labels(self, column: str, labels: ColumnData) -> np.ndarray:
        """Return labels as an object array: floats for regression, category keys otherwise."""
        if self.config.task.task is TaskType.REGRESSION:
            numeric = to_numeric(column, labels).values
            return np.array(
                [None if np.isnan(value) else value for value in numeric.tolist()], dtype=object
            )
        data = to_categorical(column, labels)
        return category_keys_at(column, data, np.arange(data.values.shape[0]))

    def should_close(self, now: float | None = None) -> bool:
        """Return whether the open window reached its row count or its duration."""
        window = self._window
        limits = self.config.window
        if limits.max_rows is not None and window.n_rows >= limits.max_rows:
            return True
        if limits.max_duration_seconds is None or window.opened_at is None:
            return False
        moment = time.time() if now is None else now
        return moment - window.opened_at >= limits.max_duration_seconds

    def close(self, now: float | None = None) -> WindowStats:
        """Close the open window, return its statistics and open the next one."""
        window = self._window
        moment = time.time() if now is None else now
        joint, _ = window.joint.snapshot()
        labelled_rows, labelled_labels = window.labelled.snapshot()
        assert labelled_labels is not None
        evicted = self._pending.evicted - window.evicted_at_open

        stats = WindowStats(
            index=window.index,
            opened_at=window.opened_at,
            closed_at=moment,
            n_rows=window.n_rows,
            numeric=window.numeric.close(window.n_rows),
            categorical={
                name: counter.summary(window.n_rows) for name, counter in window.categorical.items()
            },
            joint_sample=joint,
            labelled_sample=LabelledSample(
                rows=labelled_rows, labels=_label_array(labelled_labels, self.config.task.task)
            ),
            n_labelled=window.n_labelled,
            labels_unmatched=window.labels_unmatched,
            labels_missing=window.labels_missing,
            pending_evicted=evicted,
        )

        if evicted:
            logger.warning(
                "window %d: %d rows left the label-join buffer unlabelled; raise "
                "pending_label_capacity (%d) if labels arrive later than that many rows",
                window.index,
                evicted,
                self._pending.capacity,
            )
        logger.debug(
            "closed window %d with %d rows and %d labels",
            window.index,
            window.n_rows,
            window.n_labelled,
        )

        self._window = _OpenWindow(self.profile, self.config, window.index + 1, self._rng)
        self._window.evicted_at_open = self._pending.evicted
        return stats

    @property
    def window_index(self) -> int:
        """Index of the open window: 0 for the first, counting every window closed before."""
        return self._window.index

    @property
    def window_opened_at(self) -> float | None:
        """Time of the open window's first batch, None while it has none."""
        return self._window.opened_at

    def to_bytes(self) -> bytes:
        """Serialise the accumulator's state, without its profile and config, for `from_bytes`.

        The state is pickled and compressed behind the magic b"MWWA" and a format version, so
        it may only be read back from storage that the service itself wrote. Its size is
        bounded by the window's memory bounds, not by the window's length.
        """
        state = dict(self.__dict__)
        state.pop("profile")
        state.pop("config")
        payload = zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)
        return _STATE_PREFIX.pack(_STATE_MAGIC, _STATE_FORMAT_VERSION) + payload

    @classmethod
    def from_bytes(
        cls, data: bytes, profile: ReferenceProfile, config: MonitoringConfig
    ) -> WindowAccumulator:
        """Restore an accumulator written by `to_bytes` for the same profile.

        `config` replaces the stored config, so a changed config applies from now on: its
        window limits at once, its memory bounds from the next window.
        """
        if len(data) < _STATE_PREFIX.size:
            raise ProfileFormatError("accumulator state is shorter than its header")
        magic, version = _STATE_PREFIX.unpack_from(data)
        if magic != _STATE_MAGIC or version != _STATE_FORMAT_VERSION:
            raise ProfileFormatError(
                f"accumulator state has magic {magic!r} version {version}, "
                f"expected {_STATE_MAGIC!r} version {_STATE_FORMAT_VERSION}"
            )
        state = pickle.loads(zlib.decompress(data[_STATE_PREFIX.size :]))  # noqa: S301
        accumulator = cls.__new__(cls)
        accumulator.__dict__.update(state)
        accumulator.profile = profile
        accumulator.config = config
        monitored = [profile.columns[name] for name in profile.monitored_columns]
        accumulator._window.numeric._profiles = [
            column for column in monitored if isinstance(column, NumericProfile)
        ]
        return accumulator



def check_unique_request_ids(ids: Sequence[object]) -> None:
    """Raise `DuplicateRequestIdError` naming the first id that repeats and all its rows.

    None means a row without an id and may repeat.
    """
    if len(set(ids)) == len(ids):
        return
    seen: set[object] = set()
    for request_id in ids:
        if request_id is None:
            continue
        if request_id in seen:
            rows = [position for position, other in enumerate(ids) if other == request_id]
            raise DuplicateRequestIdError(request_id, rows, earlier=False)
        seen.add(request_id)


def _take_rows(data: CategoricalInput, rows: np.ndarray) -> CategoricalInput:
    return CategoricalInput(data.values[rows], None if data.null_mask is None else data.null_mask[rows])


def _keys_reader(column: str, data: CategoricalInput) -> KeysAt:
    def read(rows: np.ndarray) -> np.ndarray:
        return category_keys_at(column, data, rows)

    return read


def _array_reader(keys: np.ndarray) -> KeysAt:
    def read(rows: np.ndarray) -> np.ndarray:
        return np.asarray(keys[rows])

    return read


def _label_array(labels: np.ndarray, task: TaskType) -> np.ndarray:
    if task is TaskType.REGRESSION:
        return labels.astype(np.float64)
    return labels
