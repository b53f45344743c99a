"""Capability coupling at the frontier: the paper's OLS trend and a Bayesian
hierarchical model of per-lab coupling.

The coupling of two benchmarks (x = SWE-bench Verified, y = GPQA Diamond by
default) is the slope dy/dx. The *h-field* of a model is its y minus the
population trend at its x (positive = y-rich, "reasoning-rich" in the paper).

References
----------
Amin, A. (2026). The Growing Pains of Frontier Models. arXiv:2605.18840.
Gelman, A. & Hill, J. (2007). Data Analysis Using Regression and Multilevel/
    Hierarchical Models, ch. 12-13 (varying intercepts and slopes).
Juárez, M. & Steel, M. (2010). Model-based clustering of non-Gaussian panel
    data based on skew-t distributions. JBES 28(1) (the Gamma(2, 0.1) prior on ν).

PyMC, nutpie and ArviZ are imported inside the functions that sample; the
:class:`Posterior` itself is numpy only, so stored fits answer questions
without importing them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from phasewatch.models.intervals import Interval, eti, hdi

# --- the paper's population trend (OLS) --------------------------------------------


@dataclass(frozen=True)
class OLSTrend:
    """Ordinary least squares y = slope·x + intercept, with honest intervals.

    ``paper_band`` is the paper's "±16.2 pp" (1.96 × RMS residual): a constant
    band that ignores parameter uncertainty and the t distribution.
    :meth:`prediction_interval` is the textbook t-based 95 % interval for a new
    observation at x, which widens away from the mean of x.
    """

    n: int
    slope: float
    intercept: float
    r: float
    p_value: float
    slope_se: float
    intercept_se: float
    slope_ci95: tuple[float, float]
    intercept_ci95: tuple[float, float]
    rms_residual: float
    residual_sd: float
    x_mean: float
    sxx: float

    @property
    def paper_band(self) -> float:
        return 1.96 * self.rms_residual

    def predict(self, x: float) -> float:
        return self.intercept + self.slope * x

    def prediction_interval(self, x: float, prob: float = 0.95) -> tuple[float, float]:
        from scipy import stats

        t = stats.t.ppf((1 + prob) / 2, self.n - 2)
        half = t * self.residual_sd * math.sqrt(1 + 1 / self.n + (x - self.x_mean) ** 2 / self.sxx)
        centre = self.predict(x)
        return centre - half, centre + half


def ols_trend(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> OLSTrend:
    """Fit y on x by OLS; coefficient intervals are t-based 95 % intervals."""
    from scipy import stats

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = xs.size
    if n < 3:
        raise ValueError(f"an OLS trend needs at least 3 points, got {n}")
    fit = stats.linregress(xs, ys)
    residuals = ys - (fit.intercept + fit.slope * xs)
    t = stats.t.ppf(0.975, n - 2)
    return OLSTrend(
        n=n,
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        r=float(fit.rvalue),
        p_value=float(fit.pvalue),
        slope_se=float(fit.stderr),
        intercept_se=float(fit.intercept_stderr),
        slope_ci95=(float(fit.slope - t * fit.stderr), float(fit.slope + t * fit.stderr)),
        intercept_ci95=(float(fit.intercept - t * fit.intercept_stderr), float(fit.intercept + t * fit.intercept_stderr)),
        rms_residual=float(np.sqrt(np.mean(residuals**2))),
        residual_sd=float(np.sqrt(np.sum(residuals**2) / (n - 2))),
        x_mean=float(xs.mean()),
        sxx=float(np.sum((xs - xs.mean()) ** 2)),
    )


# --- data, priors, sampler settings ------------------------------------------------------


@dataclass(frozen=True)
class CouplingData:
    """One row per model: its name, lab, x and y (and release date, if known)."""

    names: tuple[str, ...]
    labs: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    dates: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.labs) == len(self.x) == len(self.y)):
            raise ValueError("names, labs, x and y must have one entry per model")

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def lab_names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labs)))

    def lab_index(self, universe: Sequence[str]) -> np.ndarray:
        position = {lab: i for i, lab in enumerate(universe)}
        return np.array([position[lab] for lab in self.labs], dtype=np.int64)

    def subset(self, mask: np.ndarray) -> CouplingData:
        keep = np.flatnonzero(mask)
        return CouplingData(
            names=tuple(self.names[i] for i in keep),
            labs=tuple(self.labs[i] for i in keep),
            x=self.x[keep],
            y=self.y[keep],
            dates=tuple(self.dates[i] for i in keep) if self.dates else (),
        )


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors, in percentage points (see docs/coupling.md).

    x is centred at ``x_ref`` so the intercept is the y expected at x = x_ref,
    a value inside the data rather than an extrapolation to x = 0.
    """

    x_ref: float = 60.0
    intercept_mu: float = 70.0
    intercept_sd: float = 20.0
    slope_mu: float = 0.0
    slope_sd: float = 1.0
    lab_intercept_scale: float = 10.0
    lab_slope_scale: float = 0.5
    noise_scale: float = 10.0
    nu_alpha: float = 2.0
    nu_beta: float = 0.1


SAMPLERS = ("nutpie", "pymc")


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings. ``sampler`` is nutpie (compiled, the default) or PyMC's own
    Python NUTS (kept for comparison; see docs/PERFORMANCE.md)."""

    draws: int = 2000  # 1000 sat on the gate's edge (issue #10: 34/40 seeds passed; 2000: 40/40)
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    sampler: str = "nutpie"
    target_accept: float = 0.9  # above NUTS's 0.8: smaller steps through the lab-spread funnel


ProgressCallback = Callable[[int, int], None]  # (finished draws, total draws)


# --- the posterior ----------------------------------------------------------------------------


POSTERIOR_SCALARS = ("mu_a", "mu_b", "sigma_a", "sigma_b", "sigma", "nu")


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of the hierarchical model, flattened over chains.

    Lab ``i`` has intercept ``a[:, i]`` (y at x = x_ref) and slope ``b[:, i]``;
    the population trend is ``mu_a + mu_b·(x − x_ref)``.
    """

    labs: tuple[str, ...]
    x_ref: float
    mu_a: np.ndarray
    mu_b: np.ndarray
    sigma_a: np.ndarray
    sigma_b: np.ndarray
    sigma: np.ndarray
    nu: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @property
    def n_draws(self) -> int:
        return self.mu_a.size

    @property
    def population_slope(self) -> np.ndarray:
        return self.mu_b

    @property
    def population_intercept(self) -> np.ndarray:
        """Intercept at x = 0, in the paper's convention (y = slope·x + intercept)."""
        return self.mu_a - self.mu_b * self.x_ref

    def trend(self, x: float | np.ndarray) -> np.ndarray:
        """Population trend at x, one value per draw (draws × len(x) for arrays)."""
        xs = np.asarray(x, dtype=float)
        if xs.ndim == 0:
            return self.mu_a + self.mu_b * (float(xs) - self.x_ref)
        return self.mu_a[:, None] + self.mu_b[:, None] * (xs[None, :] - self.x_ref)

    def h_field(self, x: float, y: float) -> np.ndarray:
        """y minus the population trend at x, per draw."""
        return y - self.trend(x)

    def lab_effects(self, lab: str | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
        """Intercept and slope draws for ``lab``; a lab the fit never saw gets
        new effects drawn from the fitted hierarchy (third value False)."""
        if lab in self.labs:
            i = self.labs.index(lab)
            return self.a[:, i], self.b[:, i], True
        a = self.mu_a + self.sigma_a * rng.standard_normal(self.n_draws)
        b = self.mu_b + self.sigma_b * rng.standard_normal(self.n_draws)
        return a, b, False

    def predictive(self, x: float, lab: str | None, seed: int = 0) -> tuple[np.ndarray, bool]:
        """Posterior-predictive draws of y for a new release of ``lab`` at x."""
        rng = np.random.default_rng(seed)
        a, b, known = self.lab_effects(lab, rng)
        noise = self.sigma * rng.standard_t(self.nu)
        return a + b * (x - self.x_ref) + noise, known

    def r_draws(self, data: CouplingData, seed: int = 0) -> np.ndarray:
        """Posterior-predictive Pearson r between x and replicated y, per draw."""
        rng = np.random.default_rng(seed)
        idx = data.lab_index(self.labs)
        mean = self.a[:, idx] + self.b[:, idx] * (data.x[None, :] - self.x_ref)
        replicated = mean + self.sigma[:, None] * rng.standard_t(self.nu[:, None], size=mean.shape)
        xc = data.x - data.x.mean()
        yc = replicated - replicated.mean(axis=1, keepdims=True)
        return (yc @ xc) / np.sqrt((yc**2).sum(axis=1) * (xc**2).sum())

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {name: getattr(self, name) for name in (*POSTERIOR_SCALARS, "a", "b")}
        np.savez_compressed(buffer, labs=np.array(self.labs), x_ref=np.array(self.x_ref), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Posterior:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in (*POSTERIOR_SCALARS, "a", "b")}
            return cls(labs=tuple(str(s) for s in stored["labs"]), x_ref=float(stored["x_ref"]), **arrays)


# --- diagnostics ----------------------------------------------------------------------------------

R_HAT_MAX = 1.01
ESS_MIN = 400


@dataclass(frozen=True)
class Diagnostics:
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    draws: int
    chains: int

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.max_r_hat < R_HAT_MAX:
            out.append(f"max r_hat {self.max_r_hat:.3f} >= {R_HAT_MAX}")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        if not self.min_ess_bulk >= ESS_MIN:
            out.append(f"min bulk ESS {self.min_ess_bulk:.0f} < {ESS_MIN}")
        if not self.min_ess_tail >= ESS_MIN:
            out.append(f"min tail ESS {self.min_ess_tail:.0f} < {ESS_MIN}")
        return out

    @property
    def converged(self) -> bool:
        return not self.problems


# --- the PyMC model and its sampler -------------------------------------------------------------


class CouplingSampler:
    """The hierarchical model compiled once, refittable on any subset of rows.

    Labs are fixed at construction (the "universe"); a lab absent from a
    subset keeps its prior, which is the hierarchy's distribution for a new
    lab, so held-out predictions for it are honest new-lab predictions.
    """

    def __init__(self, data: CouplingData, priors: Priors = Priors()) -> None:
        import pymc as pm

        self.labs = data.lab_names
        self.priors = priors
        p = priors
        with pm.Model(coords={"lab": self.labs}) as model:
            x = pm.Data("x", data.x.astype(float))
            y = pm.Data("y", data.y.astype(float))
            lab_idx = pm.Data("lab_idx", data.lab_index(self.labs))
            mu_a = pm.Normal("mu_a", p.intercept_mu, p.intercept_sd)
            mu_b = pm.Normal("mu_b", p.slope_mu, p.slope_sd)
            sigma_a = pm.HalfNormal("sigma_a", p.lab_intercept_scale)
            sigma_b = pm.HalfNormal("sigma_b", p.lab_slope_scale)
            z_a = pm.Normal("z_a", 0.0, 1.0, dims="lab")
            z_b = pm.Normal("z_b", 0.0, 1.0, dims="lab")
            a = pm.Deterministic("a", mu_a + sigma_a * z_a, dims="lab")
            b = pm.Deterministic("b", mu_b + sigma_b * z_b, dims="lab")
            sigma = pm.HalfNormal("sigma", p.noise_scale)
            nu = pm.Gamma("nu", p.nu_alpha, p.nu_beta)
            pm.StudentT(
                "obs", nu=nu, mu=a[lab_idx] + b[lab_idx] * (x - p.x_ref), sigma=sigma, observed=y, shape=x.shape
            )
        self.model = model
        self._compiled = None

    @property
    def compiled(self):  # noqa: ANN201 (nutpie.CompiledPyMCModel)
        """The nutpie-compiled model, built on first use (numba, ~10 s per process)."""
        if self._compiled is None:
            import nutpie

            self._compiled = nutpie.compile_pymc_model(self.model)
        return self._compiled

    _cache: dict[tuple[tuple[str, ...], Priors], CouplingSampler] = {}

    @classmethod
    def for_data(cls, data: CouplingData, priors: Priors = Priors()) -> CouplingSampler:
        """A compiled sampler for these labs and priors, reused within the process
        (compiling costs ~10-20 s; refitting other data with it costs none)."""
        key = (data.lab_names, priors)
        if key not in cls._cache:
            cls._cache[key] = cls(data, priors)
        return cls._cache[key]

    def fit(
        self, data: CouplingData, settings: SamplerSettings = SamplerSettings(), progress: ProgressCallback | None = None
    ) -> tuple[Posterior, Diagnostics]:
        import nutpie

        unknown = set(data.labs) - set(self.labs)
        if unknown:
            raise ValueError(f"labs not in the compiled model: {sorted(unknown)}")
        if settings.sampler == "pymc":
            return self._fit_with_pymc(data, settings)
        compiled = self.compiled.with_data(x=data.x.astype(float), y=data.y.astype(float), lab_idx=data.lab_index(self.labs))
        def report(chains: list) -> None:  # runs on nutpie's thread
            progress(sum(c.finished_draws for c in chains), sum(c.total_draws for c in chains))

        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=settings.seed,
            progress_bar=False,
            progress_callback=report if progress is not None else None,
            progress_rate=200,
            target_accept=settings.target_accept,
        )
        return posterior_from_trace(trace, self.labs, self.priors.x_ref), diagnose(trace, settings)


    def _fit_with_pymc(self, data: CouplingData, settings: SamplerSettings) -> tuple[Posterior, Diagnostics]:
        import logging
        import os

        import pymc as pm

        logging.getLogger("pymc").setLevel(logging.WARNING)
        with self.model:
            pm.set_data({"x": data.x.astype(float), "y": data.y.astype(float), "lab_idx": data.lab_index(self.labs)})
            trace = pm.sample(
                draws=settings.draws, tune=settings.tune, chains=settings.chains, random_seed=settings.seed,
                cores=min(settings.chains, os.cpu_count() or 1), nuts_sampler="pymc", progressbar=False,
                compute_convergence_checks=False, target_accept=settings.target_accept,
            )  # fmt: skip
        return posterior_from_trace(trace, self.labs, self.priors.x_ref), diagnose(trace, settings)


def posterior_from_trace(trace, labs: tuple[str, ...], x_ref: float) -> Posterior:  # noqa: ANN001 (DataTree)
    post = trace.posterior

    def flat(name: str) -> np.ndarray:
        values = np.asarray(post[name].values, dtype=float)
        return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])

    return Posterior(labs=labs, x_ref=x_ref, **{n: flat(n) for n in (*POSTERIOR_SCALARS, "a", "b")})


def diagnose(trace, settings: SamplerSettings) -> Diagnostics:  # noqa: ANN001 (DataTree)
    import arviz as az

    summary = az.summary(trace, var_names=["mu_a", "mu_b", "sigma_a", "sigma_b", "z_a", "z_b", "sigma", "nu"])
    divergences = int(np.asarray(trace.sample_stats["diverging"].values).sum())
    return Diagnostics(
        max_r_hat=float(np.nanmax(summary["r_hat"].to_numpy(dtype=float))),
        min_ess_bulk=float(np.nanmin(summary["ess_bulk"].to_numpy(dtype=float))),
        min_ess_tail=float(np.nanmin(summary["ess_tail"].to_numpy(dtype=float))),
        divergences=divergences,
        draws=settings.draws,
        chains=settings.chains,
    )


# --- summaries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabCoupling:
    lab: str
    n_models: int
    slope: Interval
    mean_h: Interval
    ols_slope: float | None  # the paper's per-lab OLS slope (None below 3 models)


@dataclass(frozen=True)
class ModelHField:
    name: str
    lab: str
    x: float
    y: float
    date: str | None
    h: Interval


@dataclass(frozen=True)
class CouplingSummary:
    n: int
    population_slope: Interval
    population_intercept: Interval
    r: Interval
    noise_sd: Interval
    nu: Interval
    lab_intercept_sd: Interval
    lab_slope_sd: Interval
    labs: list[LabCoupling] = field(default_factory=list)
    models: list[ModelHField] = field(default_factory=list)


def summarize(posterior: Posterior, data: CouplingData, prob: float = 0.95) -> CouplingSummary:
    """Parameter HDIs, each lab's slope and mean h, every model's h-field."""
    h = data.y[None, :] - posterior.trend(data.x)
    labs = []
    for lab in data.lab_names:
        rows = [i for i, name in enumerate(data.labs) if name == lab]
        ols = ols_trend(data.x[rows], data.y[rows]).slope if len(rows) >= 3 else None
        i = posterior.labs.index(lab)
        labs.append(LabCoupling(lab, len(rows), hdi(posterior.b[:, i], prob), hdi(h[:, rows].mean(axis=1), prob), ols))
    models = [
        ModelHField(
            name=data.names[i],
            lab=data.labs[i],
            x=float(data.x[i]),
            y=float(data.y[i]),
            date=data.dates[i] if data.dates else None,
            h=hdi(h[:, i], prob),
        )
        for i in range(data.n)
    ]
    return CouplingSummary(
        n=data.n,
        population_slope=hdi(posterior.population_slope, prob),
        population_intercept=hdi(posterior.population_intercept, prob),
        r=hdi(posterior.r_draws(data), prob),
        noise_sd=hdi(posterior.sigma, prob),
        nu=hdi(posterior.nu, prob),
        lab_intercept_sd=hdi(posterior.sigma_a, prob),
        lab_slope_sd=hdi(posterior.sigma_b, prob),
        labs=sorted(labs, key=lambda lab: -lab.slope.mean),
        models=models,
    )


# --- prediction intervals and their coverage ---------------------------------------------------


@dataclass(frozen=True)
class ReleaseCheck:
    """Where a release falls against a fit: its h-field and the 95 % predictive interval."""

    name: str
    lab: str
    x: float
    y: float
    h: Interval
    predicted: Interval
    lab_known: bool

    @property
    def inside(self) -> bool:
        return self.predicted.contains(self.y)


def check_release(
    posterior: Posterior, name: str, lab: str, x: float, y: float, prob: float = 0.95, seed: int = 0
) -> ReleaseCheck:
    """The release's h-field (HDI) and whether y lies in the posterior-predictive
    interval (equal-tailed) for its lab at its x; a new lab's effects are drawn
    from the fitted hierarchy."""
    draws, known = posterior.predictive(x, lab, seed=seed)
    return ReleaseCheck(name, lab, x, y, hdi(posterior.h_field(x, y), prob), clip_to_scale(eti(draws, prob)), known)


def clip_to_scale(interval: Interval, low: float = 0.0, high: float = 100.0) -> Interval:
    """A predictive interval cut to the score scale (the Student-t likelihood is
    unbounded; a benchmark score is not), so [74, 104] reads [74, 100]."""
    return Interval(interval.mean, max(interval.low, low), min(interval.high, high), interval.prob, interval.kind)


@dataclass(frozen=True)
class Coverage:
    method: str
    nominal: float
    checks: list[ReleaseCheck]
    refits: list[Diagnostics] = field(default_factory=list)

    @property
    def worst_refit(self) -> dict[str, float]:
        """The worst diagnostics over the refits (a coverage figure is only as good as its fits)."""
        return {
            "refits": len(self.refits),
            "max_r_hat": max((d.max_r_hat for d in self.refits), default=float("nan")),
            "min_ess_bulk": min((d.min_ess_bulk for d in self.refits), default=float("nan")),
            "divergences": sum(d.divergences for d in self.refits),
        }

    @property
    def n(self) -> int:
        return len(self.checks)

    @property
    def inside(self) -> int:
        return sum(c.inside for c in self.checks)

    @property
    def share(self) -> float:
        return self.inside / self.n if self.n else float("nan")


def held_out_checks(
    sampler: CouplingSampler,
    train: CouplingData,
    test: CouplingData,
    settings: SamplerSettings,
    prob: float = 0.95,
) -> tuple[list[ReleaseCheck], Diagnostics]:
    """Fit on ``train`` and check every row of ``test`` out of sample.

    Labs without a training row are predicted as new labs (effects drawn
    from the hierarchy), not from their untrained prior column.
    """
    posterior, diagnostics = sampler.fit(train, settings)
    seen = set(train.labs)
    return [
        check_release(posterior, test.names[i], test.labs[i] if test.labs[i] in seen else f"(new) {test.labs[i]}",
                      float(test.x[i]), float(test.y[i]), prob, seed=settings.seed + i)
        for i in range(test.n)
    ], diagnostics  # fmt: skip


def leave_one_out(
    sampler: CouplingSampler, data: CouplingData, settings: SamplerSettings, prob: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
) -> Coverage:  # fmt: skip
    """Refit without each model in turn and check it against its predictive interval."""
    checks, refits = [], []
    for i in range(data.n):
        mask = np.ones(data.n, dtype=bool)
        mask[i] = False
        held, diagnostics = held_out_checks(sampler, data.subset(mask), data.subset(~mask), settings, prob)
        checks += held
        refits.append(diagnostics)
        if progress:
            progress(i + 1, data.n)
    return Coverage("leave-one-out", prob, checks, refits)


def leave_future_out(
    sampler: CouplingSampler, data: CouplingData, cutoff: str, settings: SamplerSettings, prob: float = 0.95
) -> Coverage:
    """Fit on releases dated before ``cutoff`` (ISO, any precision), check those on or after it."""
    if not data.dates:
        raise ValueError("leave-future-out needs release dates")
    before = np.array([d is not None and d < cutoff for d in data.dates])
    after = np.array([d is not None and d >= cutoff for d in data.dates])
    if before.sum() < 3 or after.sum() < 1:
        raise ValueError(f"cutoff {cutoff} leaves {before.sum()} releases before and {after.sum()} after")
    checks, diagnostics = held_out_checks(sampler, data.subset(before), data.subset(after), settings, prob)
    return Coverage(f"leave-future-out (fit before {cutoff})", prob, checks, [diagnostics])
