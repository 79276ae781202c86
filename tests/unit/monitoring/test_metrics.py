"""Drift statistics against direct scipy and numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from modelward_governance.monitoring import NumericProfile, build_reference_profile, metrics
from modelward_governance.monitoring.summary import NumericSummary, summarise_sorted
from scipy import stats
from scipy.spatial import distance


def _direct_psi(reference: np.ndarray, current: np.ndarray) -> float:
    p = reference / reference.sum() + 1e-4
    q = current / current.sum() + 1e-4
    return float(np.sum((q - p) * np.log(q / p)))


def test_psi_matches_formula() -> None:
    reference = np.array([10, 20, 30, 40])
    current = np.array([25, 25, 25, 25])
    assert metrics.psi(reference, current) == pytest.approx(
        _direct_psi(reference, current), abs=1e-12
    )


def test_psi_empty_bin_finite() -> None:
    value = metrics.psi(np.array([50, 50, 0]), np.array([0, 50, 50]))
    assert math.isfinite(value)
    assert value == pytest.approx(
        _direct_psi(np.array([50, 50, 0]), np.array([0, 50, 50])), abs=1e-12
    )


def test_psi_identical_zero() -> None:
    assert metrics.psi(np.array([3, 4, 5]), np.array([6, 8, 10])) == 0.0


def test_psi_smoothing_constant() -> None:
    assert metrics.PSI_SMOOTHING == 1e-4


def test_js_matches_scipy() -> None:
    reference = np.array([10, 20, 30, 40, 0])
    current = np.array([5, 25, 25, 25, 20])
    expected = distance.jensenshannon(reference / 100, current / 100, base=2)
    assert metrics.jensen_shannon_distance(reference, current) == pytest.approx(expected, abs=1e-12)


def test_js_disjoint_is_one() -> None:
    assert metrics.jensen_shannon_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(
        1.0, abs=1e-12
    )


def test_chi2_new_category() -> None:
    # Reference [0,1,2]*10 against current [0,1,3]*10 over the union {0,1,2,3}.
    reference = np.array([10, 10, 10, 0])
    current = np.array([10, 10, 0, 10])
    result = metrics.chi_squared(reference, current)
    expected = stats.chi2_contingency(np.vstack((reference, current)), correction=False)
    assert result.statistic == pytest.approx(20.0, abs=1e-12)
    assert result.dof == 3
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-12)


def test_chi2_matches_scipy_random() -> None:
    rng = np.random.default_rng(5)
    reference = rng.integers(1, 200, 10)
    current = rng.integers(1, 200, 10)
    result = metrics.chi_squared(reference, current)
    expected = stats.chi2_contingency(np.vstack((reference, current)), correction=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.dof == expected.dof


def test_chi2_single_cell() -> None:
    result = metrics.chi_squared(np.array([0, 10, 0]), np.array([0, 4, 0]))
    assert result.statistic == 0.0
    assert result.dof == 0
    assert result.p_value == 1.0


def test_ks_exact_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=3000)
    current = rng.normal(0.1, 1.2, size=2000)
    expected = stats.ks_2samp(reference, current)
    statistic, p_value = metrics.ks_exact(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_wasserstein_exact_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    reference = rng.exponential(size=1000)
    current = rng.exponential(1.3, size=700)
    expected = stats.wasserstein_distance(reference, current)
    assert metrics.wasserstein_exact(reference, current) == pytest.approx(expected, abs=1e-9)


def test_ks_asymptotic_matches_scipy_small() -> None:
    expected = stats.ks_2samp(np.arange(5000.0), np.arange(4000.0) + 100, method="asymp")
    p_value = metrics.ks_asymptotic_p_value(float(expected.statistic), 5000, 4000)
    assert p_value == pytest.approx(expected.pvalue, abs=1e-12)


def _grid_case(
    reference: np.ndarray, current: np.ndarray, cells: int = 4000
) -> tuple[NumericProfile, NumericSummary]:
    from modelward_governance.monitoring import ProfileConfig

    profile = build_reference_profile(
        {"x": reference}, config=ProfileConfig(grid_cells=cells, sample_size=10)
    )
    column = profile.columns["x"]
    assert isinstance(column, NumericProfile)
    totals = summarise_sorted(np.sort(current), column.grid)
    summary = NumericSummary(
        n_rows=current.shape[0],
        n_null=0,
        n_nan=0,
        cell_counts=totals.counts,
        cell_atoms=totals.atoms,
        cell_sums=totals.sums,
        sum_sq=totals.sum_sq,
        minimum=float(current.min()),
        maximum=float(current.max()),
    )
    return column, summary


GRID_CASES = {
    "same": (lambda rng: (rng.normal(size=300_000), rng.normal(size=200_000))),
    "shift": (lambda rng: (rng.normal(size=300_000), rng.normal(0.3, 1.0, size=200_000))),
    "wider": (lambda rng: (rng.normal(size=300_000), rng.normal(0.0, 2.0, size=200_000))),
    "outliers": (
        lambda rng: (rng.normal(size=300_000), np.r_[rng.normal(size=199_990), np.full(10, 1e4)])
    ),
    "outside": (lambda rng: (rng.normal(size=300_000), rng.normal(50.0, 1.0, size=200_000))),
    "offset": (
        lambda rng: (rng.normal(1e7, 1.0, size=300_000), rng.normal(1e7 + 0.1, 1.0, size=200_000))
    ),
    "discrete": (
        lambda rng: (
            rng.integers(0, 5, 300_000).astype(float),
            rng.integers(0, 7, 200_000).astype(float),
        )
    ),
}


@pytest.mark.parametrize("case", sorted(GRID_CASES))
def test_ks_grid_bound_holds(case: str) -> None:
    reference, current = GRID_CASES[case](np.random.default_rng(7))
    column, summary = _grid_case(reference, current)
    bounded = metrics.ks_from_grid(column.summary, summary)
    exact = stats.ks_2samp(reference, current).statistic
    assert bounded.estimate <= exact + 1e-12
    assert exact <= bounded.estimate + bounded.error_bound + 1e-12
    assert bounded.error_bound <= 2.5 / 4000


@pytest.mark.parametrize("case", sorted(GRID_CASES))
def test_wasserstein_grid_bound_holds(case: str) -> None:
    reference, current = GRID_CASES[case](np.random.default_rng(8))
    column, summary = _grid_case(reference, current)
    bounded = metrics.wasserstein_from_grid(column.grid, column.summary, summary)
    exact = stats.wasserstein_distance(reference, current) / column.grid.scale
    tolerance = 1e-9 * max(1.0, exact)
    assert bounded.estimate <= exact + tolerance
    assert exact <= bounded.estimate + bounded.error_bound + tolerance


@pytest.mark.parametrize("case", ["same", "shift", "wider", "offset"])
def test_wasserstein_grid_bound_small(case: str) -> None:
    reference, current = GRID_CASES[case](np.random.default_rng(9))
    column, summary = _grid_case(reference, current)
    bounded = metrics.wasserstein_from_grid(column.grid, column.summary, summary)
    assert bounded.error_bound < 0.01


def test_discrete_grid_exact() -> None:
    reference, current = GRID_CASES["discrete"](np.random.default_rng(10))
    column, summary = _grid_case(reference, current)
    ks = metrics.ks_from_grid(column.summary, summary)
    wasserstein = metrics.wasserstein_from_grid(column.grid, column.summary, summary)
    assert ks.error_bound == 0.0
    assert ks.estimate == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-12)
    assert wasserstein.error_bound == 0.0
