"""The joint coupling matrix: pattern grouping = one density per model, the PyMC model's
likelihood against a brute-force one, recovery of a known correlation matrix with ~30 %
missing cells, positive definiteness, and the stored summary's round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from phasewatch.models.coupling import SamplerSettings
from phasewatch.models.errors import ModelInputError
from phasewatch.models.joint_matrix import (
    JointMatrix,
    MatrixData,
    MatrixPriors,
    build_model,
    marginal_log_likelihood,
    pattern_groups,
    summarize_draws,
)

TRUE_R = np.array(
    [
        [1.0, 0.8, 0.5, 0.2],
        [0.8, 1.0, 0.6, 0.3],
        [0.5, 0.6, 1.0, -0.3],
        [0.2, 0.3, -0.3, 1.0],
    ]
)
TRUE_MU = np.array([0.5, 1.0, -1.0, 0.0])
TRUE_SD = np.array([0.8, 0.6, 1.0, 0.7])


def synthetic(n: int, missing: float, seed: int, r: np.ndarray = TRUE_R) -> MatrixData:
    """n models' scores in percent drawn from the joint model, each cell missing with
    probability ``missing`` (every model keeps at least one)."""
    rng = np.random.default_rng(seed)
    cov = np.outer(TRUE_SD, TRUE_SD) * r
    logits = rng.multivariate_normal(TRUE_MU, cov, size=n)
    values = 100.0 / (1.0 + np.exp(-logits))
    drop = rng.random(values.shape) < missing
    for i in np.flatnonzero(drop.all(axis=1)):
        drop[i, rng.integers(values.shape[1])] = False
    values[drop] = np.nan
    keys = tuple(f"b{k}" for k in range(values.shape[1]))
    return MatrixData(keys, tuple(f"m{i}" for i in range(n)), values)


def brute_force(y: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> float:
    """One density per model: its observed sub-vector's marginal normal."""
    total = 0.0
    for row in y:
        o = ~np.isnan(row)
        total += multivariate_normal(mu[o], cov[np.ix_(o, o)]).logpdf(row[o])
    return float(total)


def test_pattern_groups_partition_the_rows_by_observed_columns() -> None:
    mask = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
    groups = pattern_groups(mask)
    assert sorted(i for g in groups for i in g.rows) == list(range(6))
    assert {g.observed: g.rows for g in groups} == {(0, 1): (0, 1), (1, 2): (2, 5), (0,): (3,), (0, 1, 2): (4,)}
    for g in groups:
        assert all(tuple(np.flatnonzero(mask[i])) == g.observed for i in g.rows)


def test_grouped_log_likelihood_equals_one_density_per_model() -> None:
    data = synthetic(40, 0.3, seed=3)
    y = data.logits
    cov = np.outer(TRUE_SD, TRUE_SD) * TRUE_R
    assert len(pattern_groups(data.observed)) > 3  # several patterns, so the grouping is exercised
    assert marginal_log_likelihood(y, TRUE_MU, cov) == pytest.approx(brute_force(y, TRUE_MU, cov), rel=1e-10)
    other = np.outer([1.1, 0.4, 0.9, 1.3], [1.1, 0.4, 0.9, 1.3]) * np.array(
        [[1, 0.2, 0.1, 0], [0.2, 1, 0.3, 0.1], [0.1, 0.3, 1, 0.2], [0, 0.1, 0.2, 1]]
    )
    mu = np.array([0.0, 0.3, -0.2, 0.4])
    assert marginal_log_likelihood(y, mu, other) == pytest.approx(brute_force(y, mu, other), rel=1e-10)


def test_pymc_model_likelihood_is_the_brute_force_marginal_likelihood() -> None:
    """The model's observed densities (one MvNormal per pattern, a Normal for one-benchmark
    patterns) at a point equal the per-model marginal densities of that point's μ and Σ."""
    data = synthetic(12, 0.35, seed=5)
    model = build_model(data, MatrixPriors())
    point = model.initial_point()
    rng = np.random.default_rng(0)
    for name in point:
        point[name] = point[name] + rng.normal(0, 0.3, size=np.shape(point[name]))
    inputs = {"inputs": model.value_vars, "on_unused_input": "ignore", "mode": "FAST_COMPILE"}  # no C compile
    observed = model.compile_fn(model.logp(vars=model.observed_RVs, sum=True), **inputs)
    cov_fn = model.compile_fn(
        model.replace_rvs_by_values([model["mu"], model["chol_stds"], model["chol_corr"]]), **inputs
    )
    mu, stds, corr = cov_fn(point)
    cov = np.outer(stds, stds) * corr
    assert float(observed(point)) == pytest.approx(brute_force(data.logits, mu, cov), rel=1e-8)


def test_bad_data_is_refused() -> None:
    keys = ("a", "b")
    with pytest.raises(ModelInputError, match="strictly between 0 and 100"):
        MatrixData(keys, tuple("m" + str(i) for i in range(6)), np.array([[100.0, 50.0]] + [[40.0, 50.0]] * 5))
    with pytest.raises(ModelInputError, match="at least one observed"):
        MatrixData(keys, tuple("m" + str(i) for i in range(6)), np.array([[np.nan, np.nan]] + [[40.0, 50.0]] * 5))
    with pytest.raises(ModelInputError, match="fewer than 5 models observe b"):
        MatrixData(keys, tuple("m" + str(i) for i in range(6)), np.array([[40.0, np.nan]] * 2 + [[40.0, 50.0]] * 4))
    with pytest.raises(ModelInputError, match="at least two benchmarks"):
        MatrixData(("a",), ("m",), np.array([[40.0]]))


def test_summary_round_trips_through_json_and_states_positive_definiteness() -> None:
    """summarize_draws on synthetic draws: HDIs, P(r > 0), the same-data pairwise r, the
    eigenvalues; to_dict → from_dict gives the same record."""
    from phasewatch.models.coupling import Diagnostics

    data = synthetic(60, 0.3, seed=7)
    rng = np.random.default_rng(1)
    draws = 400
    corr = np.empty((draws, 4, 4))
    for d in range(draws):  # jittered around TRUE_R, each draw a correlation matrix
        a = np.linalg.cholesky(TRUE_R) + rng.normal(0, 0.03, (4, 4)) * np.tri(4)
        c = a @ a.T
        s = np.sqrt(np.diag(c))
        corr[d] = c / np.outer(s, s)
    mu = TRUE_MU + rng.normal(0, 0.1, (draws, 4))
    scale = TRUE_SD + np.abs(rng.normal(0, 0.05, (draws, 4)))
    diag = Diagnostics(1.002, 900.0, 800.0, 0, draws, 4)
    matrix = summarize_draws(data, corr, mu, scale, diag, MatrixPriors(), SamplerSettings(draws=100))
    assert len(matrix.cells) == 6 and matrix.n_models == 60 and 0.2 < matrix.missing_share < 0.4
    c01 = matrix.cell("b1", "b0")
    assert c01.r.low < 0.8 < c01.r.high and c01.p_positive == 1.0
    both = int((data.observed[:, 0] & data.observed[:, 1]).sum())
    assert c01.n == both and c01.pairwise is not None
    u, w = data.logits[data.observed[:, 0] & data.observed[:, 1]].T[:2]
    assert c01.pairwise.mean == pytest.approx(float(np.corrcoef(u, w)[0, 1]))
    assert matrix.min_eigenvalue > 0 and matrix.min_draw_eigenvalue > 0
    assert [b.n for b in matrix.marginals] == data.n_per_benchmark.tolist()
    again = JointMatrix.from_dict(matrix.to_dict())
    assert again == matrix
    assert matrix.to_dict()["diagnostics"]["converged"] is True


@pytest.mark.slow
def test_recovers_a_known_correlation_matrix_with_30_percent_missing_cells() -> None:
    """150 models × 4 benchmarks, ~30 % of cells missing: every true correlation (one of them
    negative) lies inside its 95 % HDI, the gate passes, and every draw is positive definite."""
    from phasewatch.models.joint_matrix import fit_joint_matrix

    data = synthetic(150, 0.3, seed=11)
    assert 0.25 < data.missing_share < 0.35
    matrix = fit_joint_matrix(data, SamplerSettings(draws=500, tune=500, chains=4, seed=2, target_accept=0.95))
    assert matrix.diagnostics.converged, matrix.diagnostics.problems
    for i in range(4):
        for j in range(i + 1, 4):
            cell = matrix.cell(f"b{i}", f"b{j}")
            assert cell.r.contains(TRUE_R[i, j]), (i, j, cell.r)
            assert cell.r.width < 0.45  # informative: the data, not the prior, decide
    assert matrix.cell("b2", "b3").p_positive < 0.05  # the negative one is found negative
    for b, mu in zip(matrix.marginals, TRUE_MU, strict=True):
        assert b.mean.contains(mu)
    assert matrix.min_draw_eigenvalue > 0 and matrix.min_eigenvalue > 0
    assert not math.isnan(matrix.diagnostics.min_ess_bulk)
