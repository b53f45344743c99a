"""The bounded (logit) coupling model and model comparison: known truth is
recovered from synthetic data, intervals stay inside (0, 100), LOO prefers
the true model, and nutpie agrees with PyMC's own NUTS within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from phasewatch.models.comparison import clopper_pearson, compare, loo, pit_coverage, stacking_weights
from phasewatch.models.coupling import (
    CouplingData,
    CouplingSampler,
    ModelSpec,
    Posterior,
    SamplerSettings,
    check_release,
    from_link,
    to_link,
)

TRUTH = {"mu_a": 0.8, "mu_b": 0.7, "sigma_a": 0.35, "sigma_b": 0.15, "sigma": 0.2}
BOUNDED = ModelSpec("logit", "partial")


def _synthetic(seed: int = 3, labs: int = 8, per_lab: int = 6) -> tuple[CouplingData, np.ndarray]:
    """Scores generated on the logit scale (x_ref = logit 0.6), many near the ceiling."""
    rng = np.random.default_rng(seed)
    a = TRUTH["mu_a"] + TRUTH["sigma_a"] * rng.standard_normal(labs)
    b = TRUTH["mu_b"] + TRUTH["sigma_b"] * rng.standard_normal(labs)
    lab_of = np.repeat(np.arange(labs), per_lab)
    x = rng.uniform(20, 92, lab_of.size)
    y_link = (
        a[lab_of] + b[lab_of] * (to_link(x, "logit") - np.log(1.5)) + TRUTH["sigma"] * rng.standard_normal(lab_of.size)
    )
    names = tuple(f"m{i}" for i in range(lab_of.size))
    return CouplingData(names, tuple(f"lab{j}" for j in lab_of), x, from_link(y_link, "logit")), b


def test_link_round_trips_and_refuses_the_bounds() -> None:
    scores = np.array([0.5, 37.0, 99.2])
    assert np.allclose(from_link(to_link(scores, "logit"), "logit"), scores)
    assert np.array_equal(to_link(scores, "identity"), scores)
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        to_link(np.array([100.0]), "logit")
    assert (
        ModelSpec.from_method(BOUNDED.method) == BOUNDED
        and ModelSpec.from_method("hierarchical-studentt-v1") == ModelSpec()
    )
    with pytest.raises(ValueError):
        ModelSpec("probit", "partial")


def test_bounded_log_likelihood_is_a_density_in_percent() -> None:
    """The Jacobian makes the logit model's density integrate to 1 over y in (0, 100)."""
    n = 4
    posterior = Posterior(
        ("A",),
        0.4,
        np.full(n, 0.8),
        np.full(n, 0.7),
        np.zeros(n),
        np.zeros(n),
        np.full(n, 0.3),
        np.full(n, 8.0),
        np.full((n, 1), 0.8),
        np.full((n, 1), 0.7),
        link="logit",
        chains=1,
    )
    ys = np.linspace(0.01, 99.99, 40001)
    data = CouplingData(tuple(str(i) for i in range(ys.size)), ("A",) * ys.size, np.full(ys.size, 70.0), ys)
    density = np.exp(posterior.log_likelihood(data)[0])
    assert np.trapezoid(density, ys) == pytest.approx(1.0, abs=1e-3)


def test_clopper_pearson_and_pit_coverage() -> None:
    low, high = clopper_pearson(31, 34)
    assert 0.76 < low < 0.8 and 0.97 < high < 0.99  # the textbook interval for 31/34
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    pit = np.linspace(0.005, 0.995, 100)
    levels = {c.nominal: c.inside for c in pit_coverage(pit)}
    assert levels == {0.5: 50, 0.8: 80, 0.95: 95}


def test_stacking_puts_the_weight_on_the_model_that_predicts_better() -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(-2.0, 0.3, 60)
    weights = stacking_weights(np.column_stack([good, good - 1.5]))
    assert weights[0] > 0.95 and weights.sum() == pytest.approx(1.0)
    mixed = stacking_weights(np.column_stack([np.r_[good[:30], good[30:] - 3], np.r_[good[:30] - 3, good[30:]]]))
    assert 0.3 < mixed[0] < 0.7  # each model wins half the points: both earn weight


@pytest.fixture(scope="module")
def bounded_fit() -> tuple[CouplingData, np.ndarray, Posterior, object, CouplingSampler]:
    data, slopes = _synthetic()
    sampler = CouplingSampler(data, None, BOUNDED)
    posterior, diagnostics = sampler.fit(data, SamplerSettings(seed=2))
    return data, slopes, posterior, diagnostics, sampler


@pytest.mark.slow
def test_bounded_fit_recovers_known_truth(bounded_fit) -> None:
    _, slopes, posterior, diagnostics, _ = bounded_fit
    assert diagnostics.converged, diagnostics.problems
    assert posterior.link == "logit" and posterior.chains == 4
    for name in ("mu_a", "mu_b", "sigma"):
        draws = getattr(posterior, name)
        low, high = np.quantile(draws, [0.025, 0.975])
        assert low < TRUTH[name] < high, name
    covered = [
        np.quantile(posterior.b[:, i], 0.025) < slopes[int(lab[3:])] < np.quantile(posterior.b[:, i], 0.975)
        for i, lab in enumerate(posterior.labs)
    ]
    assert sum(covered) >= len(covered) - 1


@pytest.mark.slow
def test_bounded_intervals_never_touch_100(bounded_fit) -> None:
    _, _, posterior, _, _ = bounded_fit
    for x, y in ((87.6, 94.2), (95.0, 99.0), (99.9, 99.9)):
        for lab in ("lab0", "a lab never seen"):
            check = check_release(posterior, "r", lab, x, y)
            assert 0.0 < check.predicted.low < check.predicted.high < 100.0


@pytest.mark.slow
def test_loo_prefers_the_generating_model_and_refits_high_k_points(bounded_fit) -> None:
    data, _, posterior, _, sampler = bounded_fit
    settings = SamplerSettings(draws=500, tune=500, seed=2)
    bounded = loo(posterior, data, refit=lambda sub: sampler.fit(sub, settings)[0])
    linear_sampler = CouplingSampler(data, None, ModelSpec("identity", "partial"))
    linear_posterior, _ = linear_sampler.fit(data, settings)
    linear = loo(linear_posterior, data, refit=lambda sub: linear_sampler.fit(sub, settings)[0])
    assert set(bounded.refitted) == set(bounded.high_k[:10])
    ranked = compare({"bounded": bounded, "linear": linear})
    assert ranked[0].name == "bounded" and ranked[0].weight > 0.5
    assert ranked[1].elpd_diff < 0 < ranked[1].diff_se
    # the generating model is calibrated: its LOO-PIT values look uniform, and each nominal
    # coverage lies inside the Clopper-Pearson interval of the coverage observed
    assert len(bounded.pit) == data.n
    assert stats.kstest(bounded.pit, "uniform").pvalue > 0.01
    assert {c.nominal for c in bounded.coverage} == {0.5, 0.8, 0.95}
    for c in bounded.coverage:
        assert c.low <= c.nominal <= c.high, c


@pytest.mark.slow
def test_nutpie_agrees_with_pymc_within_monte_carlo_error(bounded_fit) -> None:
    """The reference sampler (PyMC's own NUTS) on the same compiled model: posterior
    means agree within 4 combined Monte Carlo standard errors."""
    data, _, posterior, _, sampler = bounded_fit
    reference, diagnostics = sampler.fit(data, SamplerSettings(seed=7, sampler="pymc", draws=1000))
    assert diagnostics.converged, diagnostics.problems
    for name in ("mu_a", "mu_b", "sigma", "sigma_a"):
        ours, theirs = getattr(posterior, name), getattr(reference, name)
        # MCSE of a mean ≈ sd / sqrt(ESS); ESS here ≥ 400 by the gate, so sd/20 bounds each MCSE
        mcse = np.hypot(ours.std() / 20, theirs.std() / 20)
        assert abs(ours.mean() - theirs.mean()) < 4 * mcse, name
