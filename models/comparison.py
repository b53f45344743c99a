"""Model comparison of coupling fits: PSIS-LOO with Pareto-k flags (exact
refits for the flagged points), ELPD differences with standard errors,
stacking weights, LOO-PIT and interval coverage with binomial intervals.

References
----------
Vehtari, A., Gelman, A. & Gabry, J. (2017). Practical Bayesian model evaluation
    using leave-one-out cross-validation and WAIC. Stat. Comput. 27, 1413-1432.
Vehtari, A. et al. (2024). Pareto smoothed importance sampling. JMLR 25(72).
Yao, Y., Vehtari, A., Simpson, D. & Gelman, A. (2018). Using stacking to average
    Bayesian predictive distributions. Bayesian Analysis 13(3), 917-1007.
Clopper, C. J. & Pearson, E. S. (1934). Biometrika 26(4) (the binomial interval).

ArviZ (``arviz.loo``) computes the PSIS part; the rest is numpy and scipy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from phasewatch.models.coupling import CouplingData, Posterior

K_THRESHOLD = 0.7  # above it PSIS is unreliable for that point (Vehtari et al. 2024)
COVERAGE_LEVELS = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class CoverageAtLevel:
    """How many held-out points fell inside their central LOO predictive interval."""

    nominal: float
    inside: int
    n: int
    low: float  # 95 % Clopper-Pearson interval of the true coverage
    high: float

    @property
    def share(self) -> float:
        return self.inside / self.n if self.n else float("nan")


@dataclass(frozen=True)
class LooResult:
    """Leave-one-out predictive accuracy of one fit (log score, percent scale)."""

    elpd: float
    se: float
    p_loo: float
    elpd_i: np.ndarray
    pareto_k: np.ndarray
    high_k: tuple[int, ...]  # points whose k exceeded K_THRESHOLD
    refitted: tuple[int, ...]  # of those, the ones replaced by an exact refit
    pit: np.ndarray
    coverage: tuple[CoverageAtLevel, ...]


def clopper_pearson(inside: int, n: int, prob: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    alpha = 1 - prob
    low = stats.beta.ppf(alpha / 2, inside, n - inside + 1) if inside > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, inside + 1, n - inside) if inside < n else 1.0
    return float(low), float(high)


def pit_coverage(pit: np.ndarray, levels: Sequence[float] = COVERAGE_LEVELS) -> tuple[CoverageAtLevel, ...]:
    """A point is inside the central ``level`` interval when (1−level)/2 ≤ PIT ≤ (1+level)/2."""
    out = []
    for level in levels:
        inside = int(np.sum((pit >= (1 - level) / 2) & (pit <= (1 + level) / 2)))
        out.append(CoverageAtLevel(level, inside, pit.size, *clopper_pearson(inside, pit.size)))
    return tuple(out)


def _log_mean_exp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.mean(np.exp(values - top))))


def loo(
    posterior: Posterior,
    data: CouplingData,
    refit: Callable[[CouplingData], Posterior] | None = None,
    max_refits: int = 10,
    log_lik: np.ndarray | None = None,
) -> LooResult:
    """PSIS-LOO of a fit; points with Pareto k > 0.7 are refitted exactly (up to
    ``max_refits`` of them, worst first) when ``refit`` is given: the model is
    sampled without the point and the point's log predictive density taken from
    those draws. LOO-PIT uses the PSIS weights (the refit draws for refitted points).
    ``log_lik`` (draws × n, the draws of ``posterior``) is the stored log-likelihood when the
    caller has it; else it is computed from ``posterior``.
    """
    import arviz as az

    if log_lik is None:
        log_lik = posterior.log_likelihood(data)
    elif log_lik.shape != (posterior.n_draws, data.n):
        raise ValueError(f"log_lik is {log_lik.shape}, the posterior has {posterior.n_draws} draws × {data.n} rows")
    chains = posterior.chains if posterior.n_draws % max(posterior.chains, 1) == 0 else 1
    shaped = log_lik.reshape(chains, -1, data.n)
    tree = az.from_dict(
        {"posterior": {"sigma": posterior.sigma.reshape(chains, -1)}, "log_likelihood": {"obs": shaped}}
    )
    with warnings.catch_warnings():  # high Pareto k is handled below (flagged, refitted), not just warned about
        warnings.simplefilter("ignore", UserWarning)
        result = az.loo(tree, pointwise=True)
    elpd_i = np.asarray(result.elpd_i, dtype=float).copy()
    k = np.asarray(result.pareto_k, dtype=float)
    log_weights = np.asarray(result.log_weights, dtype=float).reshape(data.n, -1).T  # draws × n
    pit = posterior.loo_pit(data, log_weights)
    high = tuple(int(i) for i in np.flatnonzero(k > K_THRESHOLD))
    refitted = []
    if refit is not None:
        for i in sorted(high, key=lambda j: -k[j])[:max_refits]:
            keep = np.ones(data.n, dtype=bool)
            keep[i] = False
            held_out = data.subset(~keep)
            without = refit(data.subset(keep))
            elpd_i[i] = _log_mean_exp(without.log_likelihood(held_out)[:, 0])
            flat = np.zeros((without.n_draws, 1))
            pit[i] = without.loo_pit(held_out, flat)[0]
            refitted.append(i)
    lpd_i = np.array([_log_mean_exp(log_lik[:, i]) for i in range(data.n)])
    return LooResult(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(data.n * np.var(elpd_i))),
        p_loo=float((lpd_i - elpd_i).sum()),
        elpd_i=elpd_i,
        pareto_k=k,
        high_k=high,
        refitted=tuple(refitted),
        pit=pit,
        coverage=pit_coverage(pit),
    )


def stacking_weights(elpd_i: np.ndarray) -> np.ndarray:
    """Stacking of predictive distributions (Yao et al. 2018): weights on the
    simplex maximising Σ_i log Σ_k w_k exp(elpd_ik); ``elpd_i`` is n × models."""
    from scipy import optimize

    n_models = elpd_i.shape[1]
    if n_models == 1:
        return np.ones(1)
    dens = np.exp(elpd_i - elpd_i.max(axis=1, keepdims=True))

    def negative(theta: np.ndarray) -> float:
        w = np.exp(np.append(theta, 0.0))
        w /= w.sum()
        return -float(np.sum(np.log(dens @ w)))

    best = optimize.minimize(negative, np.zeros(n_models - 1), method="BFGS")
    w = np.exp(np.append(best.x, 0.0))
    return w / w.sum()


@dataclass(frozen=True)
class ComparedModel:
    name: str
    rank: int
    elpd: float
    se: float
    elpd_diff: float  # against the best model (0 for it)
    diff_se: float  # SE of the pointwise difference (0 for the best)
    p_loo: float
    weight: float  # stacking weight
    loo: LooResult


def compare(results: dict[str, LooResult]) -> list[ComparedModel]:
    """Rank fits of the same data by ELPD; differences carry the SE of the
    paired pointwise differences, the honest scale for "is it better"."""
    names = list(results)
    matrix = np.column_stack([results[n].elpd_i for n in names])
    weights = stacking_weights(matrix)
    order = sorted(range(len(names)), key=lambda j: -results[names[j]].elpd)
    best = matrix[:, order[0]]
    out = []
    for rank, j in enumerate(order, start=1):
        diff = matrix[:, j] - best
        r = results[names[j]]
        out.append(
            ComparedModel(
                name=names[j],
                rank=rank,
                elpd=r.elpd,
                se=r.se,
                elpd_diff=float(diff.sum()),
                diff_se=float(np.sqrt(diff.size * np.var(diff))),
                p_loo=r.p_loo,
                weight=float(weights[j]),
                loo=r,
            )
        )
    return out
