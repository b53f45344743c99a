"""The joint coupling matrix: one model of all frontier benchmarks at once.

Each model's scores on the K benchmarks, on the logit scale of the score fraction, are one
draw from a multivariate normal with per-benchmark means μ_k, scales s_k and a correlation
matrix R (an LKJ prior): y_i ~ MvNormal(μ, diag(s) R diag(s)). A model that reports only
some benchmarks contributes the marginal density of its observed sub-vector, which for a
multivariate normal is exactly MvNormal(μ[o], Σ[o, o]): so a missing cell is integrated out,
not imputed. Models are grouped by their pattern of observed benchmarks (one MvNormal per
pattern), which gives the same log-likelihood as one density per model (a test checks it)
at a fraction of the cost.

Unlike the pairwise-complete matrix (:mod:`phasewatch.models.coupling_matrix`), every
correlation rests on all models, R is positive definite in every draw (it is built from
its Cholesky factor), and a model's other scores inform the cells it lacks (valid when
missingness depends on what is observed, "missing at random"; pairwise deletion needs
"completely at random").

PyMC, nutpie and ArviZ are imported inside the functions that sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from phasewatch.models.coupling import Diagnostics, SamplerSettings, diagnose
from phasewatch.models.coupling_matrix import MIN_PAIRS, fisher_interval
from phasewatch.models.errors import ModelInputError
from phasewatch.models.intervals import Interval, hdi

MIN_PER_BENCHMARK = 5  # a benchmark with fewer observed models is not in the matrix
# Measured on the bundled live panel (docs/coupling.md 2c): 500 draws left r_hat 1.007-1.013, so 1000;
# target acceptance 0.95 takes more, smaller steps (ESS up ~20 % per draw against 0.9).
JOINT_SETTINGS = SamplerSettings(draws=1000, tune=1000, chains=4, seed=1, target_accept=0.95)


@dataclass(frozen=True)
class MatrixPriors:
    """Weakly informative priors on the logit scale (docs/coupling.md 2c says why).

    μ_k ~ Normal(mean_mu, mean_sd): a benchmark's mean is anywhere from ~2 % to ~98 %;
    s_k ~ HalfNormal(scale_sd): the spread of frontier models on one benchmark (observed
    0.4-1.5 logits); R ~ LKJ(eta): eta = 2 leans mildly away from |r| = 1 (eta = 1, uniform
    over correlation matrices, left divergences at the boundary on the bundled panel).
    """

    mean_mu: float = 0.0
    mean_sd: float = 2.0
    scale_sd: float = 1.5
    eta: float = 2.0


@dataclass(frozen=True)
class MatrixData:
    """Models × benchmarks scores in percent; NaN marks a missing cell."""

    benchmarks: tuple[str, ...]
    models: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=float)
        object.__setattr__(self, "values", values)
        if values.shape != (len(self.models), len(self.benchmarks)):
            raise ModelInputError(f"values are {values.shape}, not {len(self.models)} × {len(self.benchmarks)}")
        if len(self.benchmarks) < 2:
            raise ModelInputError("a coupling matrix needs at least two benchmarks")
        seen = ~np.isnan(values)
        if np.any((values[seen] <= 0) | (values[seen] >= 100)):
            raise ModelInputError("scores must lie strictly between 0 and 100 (the logit of 0 or 100 is infinite)")
        if np.any(seen.sum(axis=1) == 0):
            raise ModelInputError("every model needs at least one observed benchmark")
        few = [k for k, n in zip(self.benchmarks, seen.sum(axis=0), strict=True) if n < MIN_PER_BENCHMARK]
        if few:
            raise ModelInputError(f"fewer than {MIN_PER_BENCHMARK} models observe {', '.join(few)}")

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.values)

    @property
    def logits(self) -> np.ndarray:
        """The logit of the score fraction (NaN where missing)."""
        p = self.values / 100.0
        return np.log(p) - np.log1p(-p)

    @property
    def n_per_benchmark(self) -> np.ndarray:
        return self.observed.sum(axis=0)

    @property
    def n_per_pair(self) -> np.ndarray:
        """K × K: how many models observe both benchmarks (the diagonal: each one)."""
        seen = self.observed.astype(int)
        return seen.T @ seen

    @property
    def missing_share(self) -> float:
        return float(1.0 - self.observed.mean())


@dataclass(frozen=True)
class PatternGroup:
    """The models (rows) that observe exactly these benchmarks (column indices)."""

    observed: tuple[int, ...]
    rows: tuple[int, ...]


def pattern_groups(observed: np.ndarray) -> list[PatternGroup]:
    """Group the rows of a boolean models × benchmarks mask by their pattern of observed columns."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(np.asarray(observed, dtype=bool)):
        groups.setdefault(tuple(int(k) for k in np.flatnonzero(row)), []).append(i)
    return [PatternGroup(cols, tuple(rows)) for cols, rows in sorted(groups.items()) if cols]


def marginal_log_likelihood(y: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> float:
    """Σ_i log MvNormal(y_i[o_i] | μ[o_i], Σ[o_i, o_i]) by pattern groups (numpy; NaN = missing)."""
    y = np.asarray(y, dtype=float)
    total = 0.0
    for group in pattern_groups(~np.isnan(y)):
        idx = np.array(group.observed)
        sub = cov[np.ix_(idx, idx)]
        chol = np.linalg.cholesky(sub)
        resid = (y[np.array(group.rows)][:, idx] - mu[idx]).T  # |o| × n_g
        z = np.linalg.solve(chol, resid)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        total += float(-0.5 * (z**2).sum() - len(group.rows) * (0.5 * logdet + 0.5 * len(idx) * math.log(2 * math.pi)))
    return total


def build_model(data: MatrixData, priors: MatrixPriors = MatrixPriors()):
    """The PyMC model: one MvNormal per pattern of observed benchmarks."""
    import pymc as pm

    y = data.logits
    k = len(data.benchmarks)
    with pm.Model(coords={"benchmark": data.benchmarks, "benchmark_": data.benchmarks}) as model:
        mu = pm.Normal("mu", priors.mean_mu, priors.mean_sd, dims="benchmark")
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=k, eta=priors.eta, sd_dist=pm.HalfNormal.dist(priors.scale_sd, shape=k), compute_corr=True
        )
        cov = pm.math.dot(chol, chol.T)
        for g, group in enumerate(pattern_groups(data.observed)):
            idx = np.array(group.observed)
            rows = y[np.array(group.rows)][:, idx]
            if len(idx) == 1:
                pm.Normal(f"obs_{g}", mu=mu[idx[0]], sigma=pm.math.sqrt(cov[idx[0], idx[0]]), observed=rows[:, 0])
            else:
                pm.MvNormal(f"obs_{g}", mu=mu[idx], cov=cov[idx][:, idx], observed=rows)
    return model


@dataclass(frozen=True)
class CorrelationCell:
    """One pair: the joint model's correlation (posterior mean, 95 % HDI, P(r > 0)) and, on
    the same data, the pairwise-complete Pearson r with its Fisher-z interval (None below
    ``MIN_PAIRS`` models with both)."""

    x: str
    y: str
    n: int
    r: Interval
    p_positive: float
    pairwise: Interval | None


@dataclass(frozen=True)
class BenchmarkMarginal:
    """A benchmark's logit-scale mean and spread across the frontier models (95 % HDI)."""

    key: str
    n: int
    mean: Interval
    scale: Interval


@dataclass(frozen=True)
class JointMatrix:
    """The fitted joint matrix: every unordered pair once (``cells``), the marginals, the gate."""

    benchmarks: tuple[str, ...]
    models: tuple[str, ...]
    n_cells: int
    missing_share: float
    patterns: int
    cells: tuple[CorrelationCell, ...]
    marginals: tuple[BenchmarkMarginal, ...]
    mean_matrix: tuple[tuple[float, ...], ...]  # posterior mean of R (positive definite: a mean of PD matrices)
    min_eigenvalue: float  # of ``mean_matrix``
    min_draw_eigenvalue: float  # the smallest eigenvalue over every draw's R
    diagnostics: Diagnostics
    priors: MatrixPriors
    settings: SamplerSettings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_models(self) -> int:
        return len(self.models)

    def cell(self, x: str, y: str) -> CorrelationCell:
        for c in self.cells:
            if (c.x, c.y) in ((x, y), (y, x)):
                return c
        raise KeyError((x, y))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["diagnostics"]["converged"] = self.diagnostics.converged
        out["diagnostics"]["problems"] = self.diagnostics.problems
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JointMatrix:
        def iv(d: dict | None) -> Interval | None:
            return None if d is None else Interval(**d)

        diag = {k: v for k, v in raw["diagnostics"].items() if k not in ("converged", "problems")}
        return cls(
            benchmarks=tuple(raw["benchmarks"]),
            models=tuple(raw["models"]),
            n_cells=raw["n_cells"],
            missing_share=raw["missing_share"],
            patterns=raw["patterns"],
            cells=tuple(
                CorrelationCell(c["x"], c["y"], c["n"], Interval(**c["r"]), c["p_positive"], iv(c["pairwise"]))
                for c in raw["cells"]
            ),
            marginals=tuple(
                BenchmarkMarginal(m["key"], m["n"], Interval(**m["mean"]), Interval(**m["scale"]))
                for m in raw["marginals"]
            ),
            mean_matrix=tuple(tuple(row) for row in raw["mean_matrix"]),
            min_eigenvalue=raw["min_eigenvalue"],
            min_draw_eigenvalue=raw["min_draw_eigenvalue"],
            diagnostics=Diagnostics(**diag),
            priors=MatrixPriors(**raw["priors"]),
            settings=SamplerSettings(**raw["settings"]),
            timings=dict(raw.get("timings", {})),
        )


def pairwise_on(data: MatrixData, i: int, j: int) -> Interval | None:
    """Pearson r of the logits over the models with both, Fisher-z 95 % (None below MIN_PAIRS)."""
    both = data.observed[:, i] & data.observed[:, j]
    if both.sum() < MIN_PAIRS:
        return None
    u, w = data.logits[both, i], data.logits[both, j]
    if np.std(u) == 0 or np.std(w) == 0:
        return None
    return fisher_interval(float(np.corrcoef(u, w)[0, 1]), int(both.sum()))


def summarize_draws(
    data: MatrixData,
    corr: np.ndarray,
    mu: np.ndarray,
    scale: np.ndarray,
    diagnostics: Diagnostics,
    priors: MatrixPriors,
    settings: SamplerSettings,
    timings: dict[str, float] | None = None,
) -> JointMatrix:
    """Summarise draws (``corr``: draws × K × K, ``mu`` and ``scale``: draws × K)."""
    keys = data.benchmarks
    pairs = data.n_per_pair
    cells = []
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            r = corr[:, i, j]
            cells.append(
                CorrelationCell(
                    keys[i], keys[j], int(pairs[i, j]), hdi(r), float((r > 0).mean()), pairwise_on(data, i, j)
                )
            )
    marginals = tuple(
        BenchmarkMarginal(k, int(data.n_per_benchmark[i]), hdi(mu[:, i]), hdi(scale[:, i])) for i, k in enumerate(keys)
    )
    mean = corr.mean(axis=0)
    return JointMatrix(
        benchmarks=keys,
        models=data.models,
        n_cells=int(data.observed.sum()),
        missing_share=data.missing_share,
        patterns=len(pattern_groups(data.observed)),
        cells=tuple(cells),
        marginals=marginals,
        mean_matrix=tuple(tuple(float(v) for v in row) for row in mean),
        min_eigenvalue=float(np.linalg.eigvalsh(mean).min()),
        min_draw_eigenvalue=float(np.linalg.eigvalsh(corr).min()),
        diagnostics=diagnostics,
        priors=priors,
        settings=settings,
        timings=dict(timings or {}),
    )


class JointMatrixSampler:
    """The joint model of ``data`` built and compiled once (nutpie, numba: most of a fit's
    cost), sampled any number of times (the gate's retry reuses it)."""

    def __init__(self, data: MatrixData, priors: MatrixPriors = MatrixPriors()) -> None:
        self.data, self.priors = data, priors
        self.model = build_model(data, priors)

    @cached_property
    def compiled(self) -> Any:
        """The nutpie-compiled model, built on first use."""
        import nutpie

        return nutpie.compile_pymc_model(self.model)

    def fit(self, settings: SamplerSettings = JOINT_SETTINGS, clock: Callable[[], float] | None = None) -> JointMatrix:
        """Sample and summarise; ``clock`` (e.g. ``time.perf_counter``) times the compile (first
        call only) and the sampling into ``timings``."""
        import nutpie

        tick = clock or (lambda: 0.0)
        started = tick()
        compiled = self.compiled
        timings = {"compile_s": tick() - started}
        started = tick()
        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=settings.seed,
            progress_bar=False,
            target_accept=settings.target_accept,
        )
        timings["sample_s"] = tick() - started
        return summarize_trace(trace, self.data, free_names(self.model), self.priors, settings, timings)


def fit_joint_matrix(
    data: MatrixData,
    settings: SamplerSettings = JOINT_SETTINGS,
    priors: MatrixPriors = MatrixPriors(),
    clock: Callable[[], float] | None = None,
) -> JointMatrix:
    """Build, compile and sample the joint model once (:class:`JointMatrixSampler`)."""
    return JointMatrixSampler(data, priors).fit(settings, clock)


def free_names(model) -> tuple[str, ...]:
    return tuple(rv.name for rv in model.free_RVs)


def summarize_trace(
    trace,
    data: MatrixData,
    free: Sequence[str],
    priors: MatrixPriors,
    settings: SamplerSettings,
    timings: dict[str, float] | None = None,
) -> JointMatrix:
    """The gate over the sampler's free parameters (μ and the packed Cholesky factor) and every
    off-diagonal correlation, then :func:`summarize_draws`."""
    post = trace.posterior
    k = len(data.benchmarks)

    def flat(name: str) -> np.ndarray:
        values = np.asarray(post[name].values, dtype=float)
        return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])

    corr = flat("chol_corr").reshape(-1, k, k)
    diagnostics = diagnose(trace, settings, free)
    if k > 1:
        corr_gate = _correlation_gate(np.asarray(post["chol_corr"].values, dtype=float), k)
        diagnostics = Diagnostics(
            max_r_hat=max(diagnostics.max_r_hat, corr_gate[0]),
            min_ess_bulk=min(diagnostics.min_ess_bulk, corr_gate[1]),
            min_ess_tail=min(diagnostics.min_ess_tail, corr_gate[2]),
            divergences=diagnostics.divergences,
            draws=diagnostics.draws,
            chains=diagnostics.chains,
        )
    return summarize_draws(data, corr, flat("mu"), flat("chol_stds"), diagnostics, priors, settings, timings)


def _correlation_gate(corr: np.ndarray, k: int) -> tuple[float, float, float]:
    """max r_hat, min bulk and tail ESS over the off-diagonal correlations (chain × draw × K × K)."""
    import arviz as az

    iu = np.triu_indices(k, 1)
    upper = corr[:, :, iu[0], iu[1]]  # chain × draw × pairs
    r_hat = np.asarray(az.rhat(upper, chain_axis=0, draw_axis=1), dtype=float)
    bulk = np.asarray(az.ess(upper, method="bulk", chain_axis=0, draw_axis=1), dtype=float)
    tail = np.asarray(az.ess(upper, method="tail", prob=(0.05, 0.95), chain_axis=0, draw_axis=1), dtype=float)
    return float(np.nanmax(r_hat)), float(np.nanmin(bulk)), float(np.nanmin(tail))
