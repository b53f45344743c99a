"""Phase analysis on synthetic families with a known crossing; reproducible bootstraps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.models.phase import (
    Point,
    calibrate_isocline,
    cross_family_prediction,
    isocline_phase,
    local_couplings,
    nc_gamma_bootstrap,
    nc_quadratic_bootstrap,
    permutation_correlation,
    phase_of,
)

TRUE_NC_LOG10 = math.log10(4e9)


def synthetic_family(noise: float = 0.0, seed: int = 0) -> list[Point]:
    """TQA = 40 + 3·(log10 N − log10 4e9)²: falls until 4B, rises after; HS rises with size."""
    rng = np.random.default_rng(seed)
    points = []
    for log_n in np.linspace(8.0, 11.0, 10):
        tqa = 40 + 3 * (log_n - TRUE_NC_LOG10) ** 2 + noise * rng.standard_normal()
        points.append(Point(f"m{log_n:.2f}", 10**log_n, 20 + 15 * (log_n - 8), tqa))
    return points


def test_phase_bands() -> None:
    assert [phase_of(g) for g in (-0.5, -0.1, 0.0, 0.1, 0.3)] == [
        "tax",
        "transition",
        "transition",
        "transition",
        "bonus",
    ]


def test_local_coupling_changes_sign_at_the_crossing() -> None:
    couplings = local_couplings(synthetic_family())
    assert couplings[0].phase == "tax" and couplings[-1].phase == "bonus"
    negatives = [c.mid_log10_params for c in couplings if c.gamma < 0]
    positives = [c.mid_log10_params for c in couplings if c.gamma > 0]
    assert max(negatives) < TRUE_NC_LOG10 < min(positives)


def test_both_nc_methods_find_the_known_crossing() -> None:
    points = synthetic_family(noise=0.3, seed=1)
    quad = nc_quadratic_bootstrap(points, resamples=500, seed=7)
    gamma = nc_gamma_bootstrap(points, resamples=500, seed=7)
    for estimate in (quad, gamma):
        assert estimate.ci95_billions[0] < 4.0 < estimate.ci95_billions[1]
        assert estimate.valid_resamples > 400
    assert quad.point_billions == pytest.approx(4.0, rel=0.15)


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    points = synthetic_family(noise=0.3, seed=1)
    assert nc_quadratic_bootstrap(points, 300, seed=3) == nc_quadratic_bootstrap(points, 300, seed=3)
    assert nc_gamma_bootstrap(points, 300, seed=3) == nc_gamma_bootstrap(points, 300, seed=3)
    assert nc_quadratic_bootstrap(points, 300, seed=3) != nc_quadratic_bootstrap(points, 300, seed=4)


def test_a_family_without_a_sign_change_has_no_nc() -> None:
    falling = [Point(f"m{i}", 10 ** (8 + i / 3), 20 + 5 * i, 50 - 2 * i) for i in range(7)]
    estimate = nc_quadratic_bootstrap(falling, resamples=200)
    assert estimate.point_billions is None and "no sign change" in estimate.note
    assert all(c.phase == "tax" for c in local_couplings(falling))


def test_permutation_p_value_exact_and_monte_carlo() -> None:
    x = [1, 2, 3, 4, 5, 6]
    exact = permutation_correlation(x, [6, 5, 4, 3, 2, 1])
    assert exact.r == pytest.approx(-1) and exact.p_value == pytest.approx(2 / 720)  # both perfect orderings
    rng = np.random.default_rng(0)
    noise = permutation_correlation(list(range(20)), list(rng.standard_normal(20)), resamples=2000, seed=1)
    assert "Monte Carlo" in noise.method and noise.p_value > 0.05


def test_isocline_and_cross_family() -> None:
    pair = [Point("a", 1e9, 60.0, 36.0), Point("b", 7e9, 80.0, 36.0)]  # γ12 = 0
    iso = calibrate_isocline(pair)
    assert iso.ratio == pytest.approx(0.36**2 / 0.70)
    assert isocline_phase(iso, 70.0, 40.0)[0].startswith("bonus") and isocline_phase(iso, 70.0, 30.0)[0].startswith(
        "tax"
    )
    family = synthetic_family()
    result = cross_family_prediction(family[:7], family[7:])
    assert result.mape_percent == pytest.approx(0.0, abs=1e-6)  # a quadratic family is predicted exactly
