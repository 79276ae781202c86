"""Cell lookup without sorting: `CellLocator` against np.searchsorted and `summarise_sorted`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from modelward_governance.monitoring.summary import (
    CellLocator,
    NumericGrid,
    quantile_edges,
    summarise_sorted,
)

Sides = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]

# Each case returns (reference, values to place); the values reach past the reference on
# both sides wherever the case allows.
CASES: dict[str, Sides] = {
    "normal": lambda rng: (rng.normal(size=200_000), rng.normal(0.2, 1.5, size=50_000)),
    "lognormal": lambda rng: (rng.lognormal(size=200_000), rng.lognormal(0.1, 1.2, size=50_000)),
    "pareto": lambda rng: (rng.pareto(1.0, size=200_000), rng.pareto(0.8, size=50_000)),
    "offset": lambda rng: (
        rng.normal(1e7, 1e-3, size=200_000),
        rng.normal(1e7, 2e-3, size=50_000),
    ),
    "discrete": lambda rng: (
        rng.integers(0, 5, 200_000).astype(float),
        rng.integers(-1, 7, 50_000).astype(float),
    ),
    "huge": lambda rng: (
        rng.normal(size=200_000) * 1e300,
        np.r_[rng.normal(size=49_998) * 1e300, -1.7e308, 1.7e308],
    ),
    "tiny": lambda rng: (rng.normal(size=200_000) * 1e-300, rng.normal(size=50_000) * 1e-300),
}


def _grid(reference: np.ndarray, cells: int = 4000) -> NumericGrid:
    """Return the grid that a profile of `reference` gets, scaled to its largest edge.

    Built from `quantile_edges` directly because a profile of the "huge" case overflows the
    reference standard deviation.
    """
    edges, coarse_index = quantile_edges(np.sort(reference), cells, 10)
    largest = float(np.max(np.abs(edges)))
    return NumericGrid(
        edges=edges,
        coarse_index=coarse_index,
        center=float(np.median(reference)),
        scale=largest if largest > 0 else 1.0,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_locator_cells_match_searchsorted(case: str) -> None:
    reference, values = CASES[case](np.random.default_rng(3))
    grid = _grid(reference)
    # Every edge and its two neighbouring floats are the values most likely to be misplaced.
    probes = np.concatenate(
        (
            values,
            grid.edges,
            np.nextafter(grid.edges, -np.inf),
            np.nextafter(grid.edges, np.inf),
        )
    )
    expected = np.searchsorted(grid.edges, probes, side="right")
    assert np.array_equal(grid.locator.cells(probes), expected)


# "huge" is left out because its standardised sums overflow, in either summation order.
@pytest.mark.parametrize("case", sorted(set(CASES) - {"huge"}))
def test_locator_totals_match_sorted(case: str) -> None:
    reference, values = CASES[case](np.random.default_rng(4))
    grid = _grid(reference)
    totals = grid.locator.totals(values)
    expected = summarise_sorted(np.sort(values), grid)
    assert np.array_equal(totals.counts, expected.counts)
    assert np.array_equal(totals.atoms, expected.atoms)
    assert np.allclose(totals.sums, expected.sums, rtol=1e-9, atol=1e-9)
    assert totals.sum_sq == pytest.approx(expected.sum_sq, rel=1e-9)


@pytest.mark.parametrize("edges", [[], [0.5], [0.5, 0.5000000000000001], [-1.0, 2.0]])
def test_locator_few_edges(edges: list[float]) -> None:
    grid = NumericGrid(
        edges=np.asarray(edges, dtype=np.float64),
        coarse_index=np.empty(0, dtype=np.int64),
        center=0.0,
        scale=1.0,
    )
    values = np.array([-3.0, -1.0, 0.0, 0.5, 0.5000000000000001, 1.0, 2.0, 5.0])
    expected = np.searchsorted(grid.edges, values, side="right")
    assert np.array_equal(CellLocator(grid).cells(values), expected)


def test_locator_empty_input() -> None:
    grid = _grid(np.random.default_rng(5).normal(size=1000))
    totals = grid.locator.totals(np.empty(0, dtype=np.float64))
    assert totals.counts.shape[0] == grid.n_cells
    assert int(totals.counts.sum()) == 0
    assert totals.sum_sq == 0.0


def test_locator_built_once_per_grid() -> None:
    grid = _grid(np.random.default_rng(6).normal(size=1000))
    assert grid.locator is grid.locator
