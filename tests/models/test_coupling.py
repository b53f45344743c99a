"""The coupling model: the paper's OLS numbers, and the hierarchical fit
recovering known truth from synthetic data (within tolerances: numba-compiled
samplers are not bit-reproducible across a fresh compile)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.models.coupling import (
    CouplingData,
    CouplingSampler,
    Posterior,
    SamplerSettings,
    check_release,
    leave_one_out,
    ols_trend,
    summarize,
)

SOURCES = Path(__file__).resolve().parents[2] / "registry" / "data" / "sources" / "cape-scaling"


def _paper_panel() -> tuple[np.ndarray, np.ndarray]:
    models = json.loads((SOURCES / "frontier_34models.json").read_text())["models"]
    return np.array([m["swe"] for m in models]), np.array([m["gpqa"] for m in models])


def test_ols_reproduces_the_papers_published_trend() -> None:
    x, y = _paper_panel()
    trend = ols_trend(x, y)
    # published: GPQA = 0.513·SWE + 46.4, r = +0.72, p < 1e-6 (two-sided p is 1.3e-6), "±16.2 pp"
    assert trend.slope == pytest.approx(0.513, abs=5e-4)
    assert trend.intercept == pytest.approx(46.4, abs=0.05)
    assert trend.r == pytest.approx(0.72, abs=5e-3)
    assert trend.paper_band == pytest.approx(16.2, abs=0.05)
    # the honest intervals are wider than the paper's "± 0.08" and "± 5.2"
    assert trend.slope_ci95[1] - trend.slope > 0.15 and trend.intercept_ci95[1] - trend.intercept > 10


def test_ols_prediction_interval_is_t_based_and_widens_away_from_mean_x() -> None:
    from scipy import stats

    x, y = _paper_panel()
    trend = ols_trend(x, y)
    low, high = trend.prediction_interval(trend.x_mean)
    expected = stats.t.ppf(0.975, trend.n - 2) * trend.residual_sd * np.sqrt(1 + 1 / trend.n)
    assert (high - low) / 2 == pytest.approx(expected)
    far_low, far_high = trend.prediction_interval(trend.x_mean + 40)
    assert far_high - far_low > high - low > 2 * trend.paper_band


TRUTH = {"mu_a": 70.0, "mu_b": 0.6, "sigma_a": 5.0, "sigma_b": 0.25, "sigma": 3.0}


def _synthetic(seed: int = 11, labs: int = 8, per_lab: int = 6) -> tuple[CouplingData, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = TRUTH["mu_a"] + TRUTH["sigma_a"] * rng.standard_normal(labs)
    b = TRUTH["mu_b"] + TRUTH["sigma_b"] * rng.standard_normal(labs)
    lab_of = np.repeat(np.arange(labs), per_lab)
    x = rng.uniform(25, 85, lab_of.size)
    y = a[lab_of] + b[lab_of] * (x - 60) + TRUTH["sigma"] * rng.standard_normal(lab_of.size)
    names = tuple(f"m{i}" for i in range(lab_of.size))
    return CouplingData(names, tuple(f"lab{j}" for j in lab_of), x, y), b


@pytest.fixture(scope="module")
def synthetic_fit() -> tuple[CouplingData, np.ndarray, Posterior, object]:
    data, true_slopes = _synthetic()
    sampler = CouplingSampler(data)
    posterior, diagnostics = sampler.fit(data, SamplerSettings(seed=5))
    return data, true_slopes, posterior, diagnostics


@pytest.mark.slow
def test_hierarchical_fit_recovers_known_truth(synthetic_fit) -> None:
    data, true_slopes, posterior, diagnostics = synthetic_fit
    assert diagnostics.converged, diagnostics.problems
    summary = summarize(posterior, data)
    assert summary.population_slope.contains(TRUTH["mu_b"])
    assert abs(summary.population_slope.mean - TRUTH["mu_b"]) < 0.15
    assert abs(summary.noise_sd.mean - TRUTH["sigma"]) < 1.5
    covered = [lab.slope.contains(true_slopes[int(lab.lab[3:])]) for lab in summary.labs]
    assert sum(covered) >= len(covered) - 1  # 95 % intervals: at most one miss in eight
    # shrinkage: lab slopes are pulled towards the population slope, never past it
    for lab in summary.labs:
        assert lab.ols_slope is not None
        assert (
            abs(lab.slope.mean - summary.population_slope.mean)
            <= abs(lab.ols_slope - summary.population_slope.mean) + 0.05
        )


@pytest.mark.slow
def test_predictive_intervals_cover_new_draws_from_the_truth(synthetic_fit) -> None:
    data, true_slopes, posterior, _ = synthetic_fit
    rng = np.random.default_rng(99)
    lab_intercepts = {lab: posterior.a[:, posterior.labs.index(lab)].mean() for lab in posterior.labs}
    inside = 0
    trials = 200
    for t in range(trials):
        j = int(rng.integers(len(true_slopes)))
        x = float(rng.uniform(25, 85))
        y = lab_intercepts[f"lab{j}"] + true_slopes[j] * (x - 60) + TRUTH["sigma"] * rng.standard_normal()
        inside += check_release(posterior, "new", f"lab{j}", x, y, seed=t).inside
    assert 0.88 <= inside / trials <= 1.0


@pytest.mark.slow
def test_unknown_lab_gets_a_wider_interval_drawn_from_the_hierarchy(synthetic_fit) -> None:
    _, _, posterior, _ = synthetic_fit
    known = check_release(posterior, "r", "lab0", 60.0, 70.0)
    unknown = check_release(posterior, "r", "a lab never seen", 60.0, 70.0)
    assert known.lab_known and not unknown.lab_known
    assert unknown.predicted.width > known.predicted.width


@pytest.mark.slow
def test_leave_one_out_refits_without_recompiling(synthetic_fit) -> None:
    data, _, _, _ = synthetic_fit
    small = data.subset(np.arange(data.n) < 12)  # labs 0 and 1
    coverage = leave_one_out(CouplingSampler(data), small, SamplerSettings(draws=300, tune=300, chains=2))
    assert coverage.n == 12 and coverage.share >= 0.75


def test_posterior_round_trips_through_bytes() -> None:
    rng = np.random.default_rng(0)
    n, labs = 50, ("A", "B")
    posterior = Posterior(labs, 60.0, *(rng.random(n) for _ in range(6)), rng.random((n, 2)), rng.random((n, 2)))
    again = Posterior.from_bytes(posterior.to_bytes())
    assert again.labs == labs and again.x_ref == 60.0
    assert np.array_equal(again.b, posterior.b) and np.array_equal(again.nu, posterior.nu)
