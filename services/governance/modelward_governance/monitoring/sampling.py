"""Bounded row stores of a production window: a uniform reservoir and the label-join buffer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .columns import CategoricalInput, category_key
from .profile import JointSample

# Maps row indices of a batch to an object array of the category keys of those rows.
KeysAt = Callable[[np.ndarray], np.ndarray]


class BottomKSampler:
    """Uniform sample without replacement of at most `capacity` rows from a stream.

    Each row gets a random key and the sample keeps the rows with the `capacity` smallest keys
    (bottom-k sampling), which gives every subset of that size the same probability whatever
    the batch sizes. Only the keys are stored here, and `admit` returns which new rows go to
    which slot.
    """

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self._rng = rng
        self._keys = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def admit(self, n_new: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw keys for `n_new` rows and return (rows that enter, slots they replace or fill)."""
        keys = self._rng.random(n_new)
        free = min(self.capacity - self.size, n_new)
        rows = np.arange(free)
        slots = np.arange(self.size, self.size + free)
        self._keys[self.size : self.size + free] = keys[:free]
        self.size += free
        if free == n_new:
            return rows, slots
        entering_rows, entering_slots = self._replace(keys[free:], offset=free)
        # A slot filled and then replaced within this batch must appear once, with its last row,
        # because numpy leaves the result of repeated indices in an assignment unspecified.
        filled_only = ~np.isin(slots, entering_slots)
        return np.concatenate((rows[filled_only], entering_rows)), np.concatenate(
            (slots[filled_only], entering_slots)
        )

    def _replace(self, keys: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
        # Only rows whose key beats the largest kept key can enter.
        candidates = np.flatnonzero(keys < self._keys.max())
        if candidates.shape[0] == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        combined = np.concatenate((self._keys, keys[candidates]))
        kept = np.argpartition(combined, self.capacity - 1)[: self.capacity]
        entering = kept[kept >= self.capacity] - self.capacity
        staying = np.zeros(self.capacity, dtype=bool)
        staying[kept[kept < self.capacity]] = True
        leaving = np.flatnonzero(~staying)
        self._keys[leaving] = keys[candidates[entering]]
        return candidates[entering] + offset, leaving


class RowReservoir:
    """A `BottomKSampler` with the values of its rows, column by column.

    Numeric columns are float64 with NaN where missing; categorical columns are object arrays
    of category keys with None where missing. With `with_labels`, each row also carries a
    label (object array), for the sample of labelled rows.
    """

    def __init__(
        self,
        capacity: int,
        numeric: Sequence[str],
        categorical: Sequence[str],
        rng: np.random.Generator,
        *,
        with_labels: bool = False,
    ) -> None:
        self._sampler = BottomKSampler(capacity, rng)
        self._numeric = {name: np.full(capacity, np.nan) for name in numeric}
        self._categorical = {name: np.full(capacity, None, dtype=object) for name in categorical}
        self._labels = np.full(capacity, None, dtype=object) if with_labels else None

    @property
    def size(self) -> int:
        return self._sampler.size

    def add(
        self,
        n_rows: int,
        numeric: Mapping[str, np.ndarray],
        categorical_keys: Mapping[str, KeysAt],
        labels: np.ndarray | None = None,
    ) -> None:
        """Offer `n_rows` rows; only the entering rows' category keys are computed."""
        rows, slots = self._sampler.admit(n_rows)
        if rows.shape[0] == 0:
            return
        for name, store in self._numeric.items():
            store[slots] = numeric[name][rows]
        for name, store in self._categorical.items():
            store[slots] = categorical_keys[name](rows)
        if self._labels is not None and labels is not None:
            self._labels[slots] = labels[rows]

    def snapshot(self) -> tuple[JointSample, np.ndarray | None]:
        """Return a copy of the kept rows in slot order, and their labels when kept."""
        size = self.size
        sample = JointSample(
            n_rows=size,
            numeric={name: store[:size].copy() for name, store in self._numeric.items()},
            categorical={name: store[:size].copy() for name, store in self._categorical.items()},
        )
        labels = self._labels[:size].copy() if self._labels is not None else None
        return sample, labels


@dataclass(frozen=True)
class PendingRows:
    """Rows taken out of the label-join buffer, in the order of the requested ids.

    Categorical columns hold category keys, None where missing.
    """

    numeric: Mapping[str, np.ndarray]
    categorical: Mapping[str, np.ndarray]

    @property
    def n_rows(self) -> int:
        for values in (*self.numeric.values(), *self.categorical.values()):
            return int(values.shape[0])
        return 0


class PendingLabelBuffer:
    """Rows that wait for their label, keyed by request id, in a ring of fixed capacity.

    Eviction policy: first in, first out. When the ring is full, a new row overwrites the
    oldest row still in the ring, and a row that was still waiting for its label counts as
    evicted. Callers must not `put` an id that is still waiting (see `first_waiting`). The buffer outlives windows, so a
    label that arrives after its row's window closed still joins, in the window open at the time.
    Categorical values are stored as given and turned into category keys when taken, so that
    only joined rows pay for the conversion. Memory is `capacity` x (8 bytes per numeric column
    + one object reference per categorical column) plus one dict entry per waiting row.
    """

    def __init__(self, capacity: int, numeric: Sequence[str], categorical: Sequence[str]) -> None:
        self.capacity = capacity
        self._numeric_names = list(numeric)
        self._categorical_names = list(categorical)
        # The ring is allocated on the first `put`, so callers without request ids pay nothing.
        self._numeric: dict[str, np.ndarray] = {}
        self._categorical: dict[str, np.ndarray] = {}
        self._ids: list[object] = []
        self._slot_of: dict[object, int] = {}
        self._head = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def put(
        self,
        request_ids: Sequence[object],
        numeric: Mapping[str, np.ndarray],
        categorical: Mapping[str, CategoricalInput],
    ) -> None:
        """Store rows under their request ids, overwriting the oldest rows when full."""
        n_rows = len(request_ids)
        if self.capacity == 0:
            self.evicted += n_rows
            return
        if not self._ids:
            self._allocate()
        # Rows beyond one ring's worth would be overwritten by the same batch at once.
        skipped = max(n_rows - self.capacity, 0)
        self.evicted += skipped
        rows = np.arange(skipped, n_rows)
        slots = (self._head + np.arange(rows.shape[0])) % self.capacity
        slot_list = slots.tolist()
        self._forget(slot_list)
        for name, store in self._numeric.items():
            store[slots] = numeric[name][rows]
        for name, store in self._categorical.items():
            data = categorical[name]
            store[slots] = data.values[rows]
            if data.null_mask is not None:
                store[slots[data.null_mask[rows]]] = None
        new_ids = list(request_ids[skipped:])
        for ring_slice, id_slice in self._ring_slices(len(new_ids)):
            self._ids[ring_slice] = new_ids[id_slice]
        self._slot_of.update(zip(new_ids, slot_list, strict=True))
        self._head = int((self._head + rows.shape[0]) % self.capacity)

    def _ring_slices(self, count: int) -> list[tuple[slice, slice]]:
        """Split `count` slots from the head into at most two runs: (ring slots, new rows)."""
        first = min(count, self.capacity - self._head)
        runs = [(slice(self._head, self._head + first), slice(0, first))]
        if count > first:
            runs.append((slice(0, count - first), slice(first, count)))
        return runs

    def _allocate(self) -> None:
        self._numeric = {name: np.full(self.capacity, np.nan) for name in self._numeric_names}
        self._categorical = {
            name: np.full(self.capacity, None, dtype=object) for name in self._categorical_names
        }
        self._ids = [None] * self.capacity

    def _forget(self, slots: list[int]) -> None:
        slot_of = self._slot_of
        ids = self._ids
        for slot in slots:
            old_id = ids[slot]
            if old_id is not None and slot_of.get(old_id) == slot:
                del slot_of[old_id]
                self.evicted += 1

    def first_waiting(self, request_ids: Sequence[object]) -> int | None:
        """Return the position of the first id that still waits for its label, or None."""
        slot_of = self._slot_of
        if not slot_of:
            return None
        for position, request_id in enumerate(request_ids):
            if request_id is not None and request_id in slot_of:
                return position
        return None

    def take(self, request_ids: Sequence[object]) -> tuple[np.ndarray, PendingRows]:
        """Remove the rows of the ids that are waiting; return their positions in `request_ids`."""
        positions: list[int] = []
        slots: list[int] = []
        for position, request_id in enumerate(request_ids):
            slot = self._slot_of.pop(request_id, None)
            if slot is None:
                continue
            self._ids[slot] = None
            positions.append(position)
            slots.append(slot)
        index = np.asarray(slots, dtype=np.intp)
        empty_numeric = np.empty(0, dtype=np.float64)
        empty_keys = np.empty(0, dtype=object)
        rows = PendingRows(
            numeric={
                name: self._numeric[name][index] if self._numeric else empty_numeric
                for name in self._numeric_names
            },
            categorical={
                name: _keys_of(name, self._categorical[name][index])
                if self._categorical
                else empty_keys
                for name in self._categorical_names
            },
        )
        return np.asarray(positions, dtype=np.intp), rows


def _keys_of(column: str, values: np.ndarray) -> np.ndarray:
    keys = np.empty(values.shape[0], dtype=object)
    for position, value in enumerate(values.tolist()):
        keys[position] = category_key(column, value)
    return keys
