"""Compact summaries of one column, shared by the reference profile and production windows.

A numeric column is summarised on its reference grid: the fine cell edges are reference
quantiles, so that each fine cell holds about 1/`grid_cells` of the reference. Cell j of a grid
with edges e_0 < ... < e_{m-1} is (-inf, e_0) for j = 0, [e_{j-1}, e_j) in between and
[e_{m-1}, +inf) for j = m. For each cell the summary keeps the count of values, the count of
values equal to the cell's left edge (its atom, which makes the CDF known exactly at every
edge, so that discrete columns whose values are edges get exact statistics) and the sum of
the standardised values z = (x - center) / scale, where center and scale are the reference mean
and standard deviation. Counts give PSI, Jensen-Shannon and chi-squared on the coarse cells
and bound Kolmogorov-Smirnov; counts and sums together bound Wasserstein (see `metrics`).
Standardising before summing keeps the sums accurate for columns with a large offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class NumericGrid:
    """Reference-derived cells of one numeric column.

    `edges` are the fine edges, strictly increasing. `coarse_index` contains the positions in
    `edges` of the coarse (PSI) edges, so coarse cell k is the union of the fine cells between
    two of them. `center` and `scale` standardise values; `scale` is the reference standard
    deviation (population, ddof=0), or 1.0 when that is 0 or the reference has no value.
    """

    edges: np.ndarray
    coarse_index: np.ndarray
    center: float
    scale: float

    @property
    def n_cells(self) -> int:
        return int(self.edges.shape[0]) + 1

    @property
    def coarse_edges(self) -> np.ndarray:
        return np.asarray(self.edges[self.coarse_index])

    def coarse_counts(self, cell_counts: np.ndarray) -> np.ndarray:
        """Add up fine cell counts into the coarse cells."""
        starts = np.concatenate(([0], self.coarse_index + 1)).astype(np.intp)
        return np.add.reduceat(cell_counts, starts)


@dataclass(frozen=True)
class NumericSummary:
    """Distribution of one numeric column on a reference grid.

    `cell_atoms[j]` counts the values equal to the left edge of cell j (0 for cell 0).
    `cell_sums` and `sum_sq` are in standardised units of the grid. `minimum` and `maximum` are
    None when the column has no value. `values` contains every non-missing value, sorted, when the
    summary kept them all (windows up to `WindowConfig.exact_limit` rows), and None otherwise.
    """

    n_rows: int
    n_null: int
    n_nan: int
    cell_counts: np.ndarray
    cell_atoms: np.ndarray
    cell_sums: np.ndarray
    sum_sq: float
    minimum: float | None
    maximum: float | None
    values: np.ndarray | None = None

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_null - self.n_nan

    def mean(self, grid: NumericGrid) -> float | None:
        """Return the mean of the values in the column's own unit."""
        if self.n_values == 0:
            return None
        return grid.center + grid.scale * float(self.cell_sums.sum()) / self.n_values

    def std(self, grid: NumericGrid) -> float | None:
        """Return the population standard deviation in the column's own unit."""
        if self.n_values == 0:
            return None
        mean_z = float(self.cell_sums.sum()) / self.n_values
        variance_z = max(self.sum_sq / self.n_values - mean_z * mean_z, 0.0)
        return grid.scale * float(np.sqrt(variance_z))


@dataclass(frozen=True)
class CategoricalSummary:
    """Counts of one categorical column, keyed by category key (see `columns.category_key`).

    `other_count` counts the values of categories beyond the cap on distinct categories, pooled.
    """

    n_rows: int
    n_null: int
    n_nan: int
    counts: Mapping[str, int] = field(default_factory=dict)
    other_count: int = 0

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_null - self.n_nan


def quantile_edges(
    sorted_values: np.ndarray, grid_cells: int, psi_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return fine edges and coarse edge positions from sorted non-missing reference values.

    Edge j is the inverted-CDF quantile at level j / `grid_cells` (the smallest value with at
    least that share of values at or below it), so edges are values of the data. The coarse
    edges are the fine edges at levels k / `psi_bins`, which needs `grid_cells` to be a multiple
    of `psi_bins`. Repeated quantiles collapse into one edge.
    """
    count = sorted_values.shape[0]
    if count == 0:
        return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    levels = np.arange(1, grid_cells, dtype=np.int64)
    # ceil(j * n / M) - 1 in integers: the 0-based index of the inverted-CDF quantile.
    positions = (levels * count + grid_cells - 1) // grid_cells - 1
    fine = sorted_values[np.clip(positions, 0, count - 1)]
    edges = np.unique(fine)
    step = grid_cells // psi_bins
    coarse_values = np.unique(fine[step - 1 :: step][: psi_bins - 1])
    coarse_index = np.searchsorted(edges, coarse_values).astype(np.int64)
    return edges, coarse_index


@dataclass(frozen=True)
class CellTotals:
    """Per-cell counts, atoms and standardised sums of a set of values, and their sum of squares."""

    counts: np.ndarray
    atoms: np.ndarray
    sums: np.ndarray
    sum_sq: float


def summarise_sorted(sorted_values: np.ndarray, grid: NumericGrid) -> CellTotals:
    """Return the cell totals of sorted values on a grid.

    `sorted_values` must be sorted and free of NaN. The cost is a few passes over the values
    plus a binary search per edge, which is why windows sort their values in chunks instead of
    searching the edges once per value.
    """
    count = sorted_values.shape[0]
    positions = np.searchsorted(sorted_values, grid.edges, side="left")
    boundaries = np.concatenate(([0], positions, [count]))
    counts = np.diff(boundaries).astype(np.int64)
    atoms = np.concatenate(([0], _edge_atoms(sorted_values, grid.edges, positions)))
    standardised = (sorted_values - grid.center) * (1.0 / grid.scale)
    sums = np.zeros(counts.shape[0], dtype=np.float64)
    nonempty = counts > 0
    if count > 0:
        # reduceat sums from each start to the next one given. It returns the element at the
        # start for an empty segment, so only the starts of non-empty cells are passed.
        sums[nonempty] = np.add.reduceat(standardised, boundaries[:-1][nonempty])
    sum_sq = float(np.dot(standardised, standardised))
    return CellTotals(counts=counts, atoms=atoms.astype(np.int64), sums=sums, sum_sq=sum_sq)


def _edge_atoms(sorted_values: np.ndarray, edges: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Count the values equal to each edge, searching again only for edges that occur."""
    count = sorted_values.shape[0]
    atoms = np.zeros(edges.shape[0], dtype=np.int64)
    inside = positions < count
    occurs = np.zeros(edges.shape[0], dtype=bool)
    occurs[inside] = sorted_values[positions[inside]] == edges[inside]
    if occurs.any():
        through = np.searchsorted(sorted_values, edges[occurs], side="right")
        atoms[occurs] = through - positions[occurs]
    return atoms
