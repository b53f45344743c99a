"""Capability coupling at the frontier: the paper's OLS trend and a Bayesian
hierarchical model of per-lab coupling.

The coupling of two benchmarks (x = SWE-bench Verified, y = GPQA Diamond by
default) is the slope dy/dx, on the percentage scale (``link="identity"``, the
paper's) or on the log-odds of the score fraction (``link="logit"``, bounded: the
default of the registry since issue #13), with lab effects partially pooled,
pooled or unpooled (:class:`ModelSpec`). The *h-field* of a model is its y minus the
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

import dataclasses
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phasewatch.models.errors import ModelInputError
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
        raise ModelInputError(f"an OLS trend needs at least 3 points, got {n}")
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
        intercept_ci95=(
            float(fit.intercept - t * fit.intercept_stderr),
            float(fit.intercept + t * fit.intercept_stderr),
        ),
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
            raise ModelInputError("names, labs, x and y must have one entry per model")

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

    @classmethod
    def for_link(cls, link: str) -> Priors:
        """The default priors of a link: percentage points (identity) or logits.

        On the logit scale x_ref = logit(0.6); the intercept prior N(0.85, 1.5)
        is logit(0.7) ± a range covering 5-99 %; lab spreads of 0.5 logit are
        ~10 pp in mid-range and shrink towards the ceiling, as scores do.
        """
        if link == "identity":
            return cls()
        if link == "logit":
            return cls(
                x_ref=math.log(0.6 / 0.4),
                intercept_mu=0.85,
                intercept_sd=1.5,
                slope_mu=0.0,
                slope_sd=1.0,
                lab_intercept_scale=0.5,
                lab_slope_scale=0.5,
                noise_scale=0.5,
            )
        raise ModelInputError(f"unknown link {link!r}; use one of {LINKS}")


LINKS = ("identity", "logit")
POOLINGS = ("partial", "complete", "none")
POOLING_LABELS = {"partial": "hierarchical", "complete": "pooled", "none": "no pooling"}


@dataclass(frozen=True)
class ModelSpec:
    """Which coupling model: the scale (``identity`` = percentage points, the
    paper's; ``logit`` = log-odds of the score fraction, bounded) and the
    pooling of lab effects (``partial`` = hierarchical, ``complete`` = one
    line for all labs, ``none`` = each lab on its own)."""

    link: str = "identity"
    pooling: str = "partial"

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise ModelInputError(f"unknown link {self.link!r}; use one of {', '.join(LINKS)}")
        if self.pooling not in POOLINGS:
            raise ModelInputError(f"unknown pooling {self.pooling!r}; use one of {', '.join(POOLINGS)}")

    @property
    def method(self) -> str:
        """The stored method name (the first model keeps its original name)."""
        if self == ModelSpec():
            return "hierarchical-studentt-v1"
        return f"studentt-{self.link}-{self.pooling}-v2"

    @property
    def label(self) -> str:
        scale = "linear (pp)" if self.link == "identity" else "bounded (logit)"
        return f"{scale}, {POOLING_LABELS[self.pooling]}"

    @classmethod
    def from_method(cls, method: str) -> ModelSpec:
        if method == "hierarchical-studentt-v1":
            return cls()
        parts = method.split("-")
        if len(parts) != 4 or parts[0] != "studentt":
            raise ModelInputError(f"unknown coupling method {method!r}")
        return cls(parts[1], parts[2])


def to_link(score: float | np.ndarray, link: str) -> np.ndarray:
    """Scores in percent onto the model's scale (logit: log-odds of score/100)."""
    values = np.asarray(score, dtype=float)
    if link == "identity":
        return values
    if np.any((values <= 0) | (values >= 100)):
        raise ModelInputError("the bounded (logit) model needs scores strictly between 0 and 100")
    fraction = values / 100.0
    return np.log(fraction) - np.log1p(-fraction)


def from_link(value: float | np.ndarray, link: str) -> np.ndarray:
    """The inverse of :func:`to_link`: back to percent."""
    values = np.asarray(value, dtype=float)
    if link == "identity":
        return values
    return 100.0 / (1.0 + np.exp(-values))


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
    # 0.99: on sourced-2026-11 (61 models) 0.9 left 1-4 divergences in 5 of 6 seeds and 0.95 18 in one,
    # all in the upper tail of the lab-slope spread sigma_b; 0.99 gave none in 10 of 10 (docs/coupling.md)
    target_accept: float = 0.99


ProgressCallback = Callable[[int, int], None]  # (finished draws, total draws)


# --- the posterior ----------------------------------------------------------------------------


POSTERIOR_SCALARS = ("mu_a", "mu_b", "sigma_a", "sigma_b", "sigma", "nu")


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of the coupling model, flattened over chains (chain-major).

    Lab ``i`` has intercept ``a[:, i]`` (the model-scale y at x = x_ref) and
    slope ``b[:, i]``; the population trend is ``mu_a + mu_b·(x − x_ref)`` on the
    model's scale (``link``: identity = percentage points, logit = log-odds of
    score/100, with x on the same scale). Every method taking or returning
    scores works in percent.
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
    link: str = "identity"
    chains: int = 1

    @property
    def n_draws(self) -> int:
        return self.mu_a.size

    @property
    def population_slope(self) -> np.ndarray:
        return self.mu_b

    @property
    def population_intercept(self) -> np.ndarray:
        """Intercept at x = 0 on the model's scale (y = slope·x + intercept, the paper's convention)."""
        return self.mu_a - self.mu_b * self.x_ref

    def _x_link(self, x: float | np.ndarray) -> np.ndarray:
        """x on the model's scale; a score of exactly 0 or 100 is read as 0.01 or 99.99 (logit)."""
        values = np.asarray(x, dtype=float)
        return to_link(np.clip(values, 0.01, 99.99) if self.link == "logit" else values, self.link)

    def _link_trend(self, x: float | np.ndarray) -> np.ndarray:
        xs = self._x_link(x)
        if xs.ndim == 0:
            return self.mu_a + self.mu_b * (float(xs) - self.x_ref)
        return self.mu_a[:, None] + self.mu_b[:, None] * (xs[None, :] - self.x_ref)

    def trend(self, x: float | np.ndarray) -> np.ndarray:
        """Population trend at x in percent, one value per draw (draws × len(x) for arrays).

        For the bounded model this is the trend's median curve 100·expit(mu_a + mu_b·(logit x − x_ref)),
        always inside (0, 100).
        """
        return from_link(self._link_trend(x), self.link)

    def h_field(self, x: float, y: float) -> np.ndarray:
        """y minus the population trend at x, per draw, in percentage points
        (for the bounded model: the logit-scale residual translated back to percent)."""
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
        """Posterior-predictive draws of y (percent) for a new release of ``lab`` at x."""
        rng = np.random.default_rng(seed)
        a, b, known = self.lab_effects(lab, rng)
        noise = self.sigma * rng.standard_t(self.nu)
        return from_link(a + b * (float(self._x_link(x)) - self.x_ref) + noise, self.link), known

    def _means(self, data: CouplingData) -> np.ndarray:
        idx = data.lab_index(self.labs)
        return self.a[:, idx] + self.b[:, idx] * (to_link(data.x, self.link)[None, :] - self.x_ref)

    def r_draws(self, data: CouplingData, seed: int = 0) -> np.ndarray:
        """Posterior-predictive Pearson r between x and replicated y, per draw."""
        rng = np.random.default_rng(seed)
        mean = self._means(data)
        replicated = from_link(
            mean + self.sigma[:, None] * rng.standard_t(self.nu[:, None], size=mean.shape), self.link
        )
        xc = data.x - data.x.mean()
        yc = replicated - replicated.mean(axis=1, keepdims=True)
        return (yc @ xc) / np.sqrt((yc**2).sum(axis=1) * (xc**2).sum())

    def log_likelihood(self, data: CouplingData) -> np.ndarray:
        """Pointwise log density of each observed y in percent (draws × n).

        The bounded model's density on the logit scale carries the Jacobian of
        y ↦ logit(y/100), so linear and bounded models are compared on one scale.
        """
        from scipy import stats

        y = to_link(data.y, self.link)
        out = stats.t.logpdf(y[None, :], self.nu[:, None], loc=self._means(data), scale=self.sigma[:, None])
        if self.link == "logit":
            fraction = data.y / 100.0
            out = out - (np.log(fraction) + np.log1p(-fraction) + math.log(100.0))[None, :]
        return out

    def loo_pit(self, data: CouplingData, log_weights: np.ndarray, seed: int = 0) -> np.ndarray:
        """LOO probability integral transform: P(y_rep_i <= y_i) under each
        point's PSIS leave-one-out weights (``log_weights``: draws × n)."""
        from scipy import stats

        below = stats.t.cdf(
            (to_link(data.y, self.link)[None, :] - self._means(data)) / self.sigma[:, None], self.nu[:, None]
        )
        weights = np.exp(log_weights - log_weights.max(axis=0, keepdims=True))
        weights /= weights.sum(axis=0, keepdims=True)
        return (weights * below).sum(axis=0)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {name: getattr(self, name) for name in (*POSTERIOR_SCALARS, "a", "b")}
        np.savez_compressed(
            buffer,
            labs=np.array(self.labs),
            x_ref=np.array(self.x_ref),
            link=np.array(self.link),
            chains=np.array(self.chains),
            **arrays,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Posterior:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in (*POSTERIOR_SCALARS, "a", "b")}
            extra: dict[str, Any] = (
                {"link": str(stored["link"]), "chains": int(stored["chains"])} if "link" in stored else {}
            )
            return cls(labs=tuple(str(s) for s in stored["labs"]), x_ref=float(stored["x_ref"]), **arrays, **extra)


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


PARAMETRISATIONS = ("non-centred", "centred")
CENTRED_MIN_PER_LAB = 10  # median models per lab from which the data, not the prior, pin each lab (see docs)


def choose_parametrisation(data: CouplingData) -> str:
    """Non-centred lab effects unless the median lab has at least ``CENTRED_MIN_PER_LAB`` models.

    With a few releases per lab the lab effects are prior-dominated and the centred form
    has the hierarchical funnel (measured on the bundled panels: r_hat up to 1.30); with
    many per lab the likelihood pins each lab and the non-centred form couples z and σ
    instead (the issue's 3,000 models × 100 labs: r_hat 1.025). Both forms are the same
    model, so the posterior is the same (tests/models/test_coupling.py checks it).
    """
    counts = np.unique(np.asarray(data.labs), return_counts=True)[1]
    return "centred" if float(np.median(counts)) >= CENTRED_MIN_PER_LAB else "non-centred"


class CouplingSampler:
    """The coupling model compiled once, refittable on any subset of rows.

    Labs are fixed at construction (the "universe"); a lab absent from a
    subset keeps its prior, which is the hierarchy's distribution for a new
    lab, so held-out predictions for it are honest new-lab predictions.
    ``spec`` chooses the scale (linear or bounded) and the pooling;
    ``parametrisation`` the form of the lab effects (default: chosen by
    :func:`choose_parametrisation` from ``data``). The compiled model depends on
    the number of labs only, so :meth:`relabelled` reuses it for another universe
    of the same size (the rows' count may change between fits: nutpie's
    ``with_data`` takes data of any length).
    """

    def __init__(
        self,
        data: CouplingData,
        priors: Priors | None = None,
        spec: ModelSpec = ModelSpec(),
        parametrisation: str | None = None,
    ) -> None:
        import pymc as pm

        self.labs = data.lab_names
        self.spec = spec
        self.priors = p = priors if priors is not None else Priors.for_link(spec.link)
        self.parametrisation = parametrisation or choose_parametrisation(data)
        if self.parametrisation not in PARAMETRISATIONS:
            raise ValueError(f"unknown parametrisation {self.parametrisation!r}; use one of {PARAMETRISATIONS}")
        with pm.Model(coords={"lab": self.labs}) as model:
            x = pm.Data("x", to_link(data.x, spec.link))
            y = pm.Data("y", to_link(data.y, spec.link))
            lab_idx = pm.Data("lab_idx", data.lab_index(self.labs))
            if spec.pooling == "none":  # each lab its own line, drawn from the wide priors
                a = pm.Normal("a", p.intercept_mu, p.intercept_sd, dims="lab")
                b = pm.Normal("b", p.slope_mu, p.slope_sd, dims="lab")
            else:
                mu_a = pm.Normal("mu_a", p.intercept_mu, p.intercept_sd)
                mu_b = pm.Normal("mu_b", p.slope_mu, p.slope_sd)
            if spec.pooling == "partial":
                sigma_a = pm.HalfNormal("sigma_a", p.lab_intercept_scale)
                sigma_b = pm.HalfNormal("sigma_b", p.lab_slope_scale)
                if self.parametrisation == "centred":
                    a = pm.Normal("a", mu_a, sigma_a, dims="lab")
                    b = pm.Normal("b", mu_b, sigma_b, dims="lab")
                else:  # non-centred: measured against centred and per-lab mixed forms (docs/coupling.md)
                    z_a = pm.Normal("z_a", 0.0, 1.0, dims="lab")
                    z_b = pm.Normal("z_b", 0.0, 1.0, dims="lab")
                    a = pm.Deterministic("a", mu_a + sigma_a * z_a, dims="lab")
                    b = pm.Deterministic("b", mu_b + sigma_b * z_b, dims="lab")
            elif spec.pooling == "complete":
                a = pm.Deterministic("a", mu_a + np.zeros(len(self.labs)), dims="lab")
                b = pm.Deterministic("b", mu_b + np.zeros(len(self.labs)), dims="lab")
            sigma = pm.HalfNormal("sigma", p.noise_scale)
            nu = pm.Gamma("nu", p.nu_alpha, p.nu_beta)
            pm.StudentT(
                "obs", nu=nu, mu=a[lab_idx] + b[lab_idx] * (x - p.x_ref), sigma=sigma, observed=y, shape=x.shape
            )
        self.model = model
        self.free = tuple(rv.name for rv in model.free_RVs)
        self._compiled: object | None = None

    @property
    def compiled(self):
        """The nutpie-compiled model, built on first use (numba, ~10 s per process)."""
        if self._compiled is None:
            import nutpie

            self._compiled = nutpie.compile_pymc_model(self.model)
        return self._compiled

    def relabelled(self, labs: Sequence[str]) -> CouplingSampler:
        """This compiled model for another universe of as many labs (lab i of ``labs`` takes column i)."""
        import copy

        labs = tuple(labs)
        if len(labs) != len(self.labs):
            raise ValueError(f"the compiled model has {len(self.labs)} labs, not {len(labs)}")
        out = copy.copy(self)
        out.labs = labs
        return out

    def fit(
        self,
        data: CouplingData,
        settings: SamplerSettings = SamplerSettings(),
        progress: ProgressCallback | None = None,
    ) -> tuple[Posterior, Diagnostics]:
        posterior, diagnostics, _ = self.fit_with_trace(data, settings, progress)
        return posterior, diagnostics

    def fit_with_trace(
        self,
        data: CouplingData,
        settings: SamplerSettings = SamplerSettings(),
        progress: ProgressCallback | None = None,
    ) -> tuple[Posterior, Diagnostics, object]:
        """As :meth:`fit`, also returning the sampler's own DataTree."""
        unknown = set(data.labs) - set(self.labs)
        if unknown:
            raise ModelInputError(f"labs not in the compiled model: {sorted(unknown)}")
        if settings.sampler == "pymc":
            trace = self._sample_with_pymc(data, settings)
        else:
            trace = self._sample_with_nutpie(data, settings, progress)
        return self._posterior(trace), diagnose(trace, settings, self.free), trace

    def _sample_with_nutpie(self, data: CouplingData, settings: SamplerSettings, progress: ProgressCallback | None):
        import nutpie

        link = self.spec.link
        compiled = self.compiled.with_data(
            x=to_link(data.x, link), y=to_link(data.y, link), lab_idx=data.lab_index(self.labs)
        )

        def report(chains: list) -> None:  # runs on nutpie's thread
            assert progress is not None
            progress(sum(c.finished_draws for c in chains), sum(c.total_draws for c in chains))

        return nutpie.sample(
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

    def _posterior(self, trace) -> Posterior:
        return posterior_from_trace(trace, self.labs, self.priors, self.spec)

    def _sample_with_pymc(self, data: CouplingData, settings: SamplerSettings):
        import logging
        import os

        import pymc as pm

        logging.getLogger("pymc").setLevel(logging.WARNING)
        with self.model:
            link = self.spec.link
            pm.set_data({"x": to_link(data.x, link), "y": to_link(data.y, link), "lab_idx": data.lab_index(self.labs)})
            return pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                random_seed=settings.seed,
                cores=min(settings.chains, os.cpu_count() or 1),
                nuts_sampler="pymc",
                progressbar=False,
                compute_convergence_checks=False,
                target_accept=settings.target_accept,
            )


def posterior_from_trace(trace, labs: tuple[str, ...], priors: Priors, spec: ModelSpec = ModelSpec()) -> Posterior:
    """Flatten a DataTree's draws. Pooled fits have no lab spread (zeros); unpooled
    fits have no population: their trend is the mean of the lab lines, and a new
    lab is drawn from the wide prior (it learns nothing from the others)."""
    post = trace.posterior

    def flat(name: str) -> np.ndarray:
        values = np.asarray(post[name].values, dtype=float)
        return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])

    draws = {n: flat(n) for n in ("a", "b", "sigma", "nu")}
    if spec.pooling == "partial":
        draws |= {n: flat(n) for n in ("mu_a", "mu_b", "sigma_a", "sigma_b")}
    elif spec.pooling == "complete":
        zeros = np.zeros_like(draws["sigma"])
        draws |= {"mu_a": flat("mu_a"), "mu_b": flat("mu_b"), "sigma_a": zeros, "sigma_b": zeros}
    else:
        ones = np.ones_like(draws["sigma"])
        draws |= {
            "mu_a": draws["a"].mean(axis=1),
            "mu_b": draws["b"].mean(axis=1),
            "sigma_a": priors.intercept_sd * ones,
            "sigma_b": priors.slope_sd * ones,
        }
    return Posterior(labs=labs, x_ref=priors.x_ref, link=spec.link, chains=int(post.sizes["chain"]), **draws)


def diagnose(
    trace,
    settings: SamplerSettings,
    free: Sequence[str] = ("mu_a", "mu_b", "sigma_a", "sigma_b", "z_a", "z_b", "sigma", "nu"),
) -> Diagnostics:
    """r_hat and ESS over every free parameter (the sampler's own coordinates)."""
    import arviz as az

    summary = az.summary(trace, var_names=list(free))
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


def summary_from_dict(raw: dict) -> CouplingSummary:
    """The inverse of ``dataclasses.asdict`` on a :class:`CouplingSummary` (as stored, or sent by the fit server)."""
    raw = dict(raw)
    labs = [
        LabCoupling(**{**lab, "slope": Interval(**lab["slope"]), "mean_h": Interval(**lab["mean_h"])})
        for lab in raw.pop("labs")
    ]
    models = [ModelHField(**{**m, "h": Interval(**m["h"])}) for m in raw.pop("models")]
    scalars: dict[str, Any] = {k: Interval(**v) if isinstance(v, dict) else v for k, v in raw.items()}
    return CouplingSummary(**scalars, labs=labs, models=models)


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
        check_release(
            posterior,
            test.names[i],
            test.labs[i] if test.labs[i] in seen else f"(new) {test.labs[i]}",
            float(test.x[i]),
            float(test.y[i]),
            prob,
            seed=settings.seed + i,
        )
        for i in range(test.n)
    ], diagnostics


def leave_one_out(
    sampler: CouplingSampler,
    data: CouplingData,
    settings: SamplerSettings,
    prob: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
) -> Coverage:
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
        raise ModelInputError("leave-future-out needs release dates")
    before = np.array([d is not None and d < cutoff for d in data.dates])
    after = np.array([d is not None and d >= cutoff for d in data.dates])
    if before.sum() < 3 or after.sum() < 1:
        raise ModelInputError(
            f"cutoff {cutoff} leaves {before.sum()} releases before and {after.sum()} after; "
            "choose a cutoff with at least 3 releases before it and 1 on or after it"
        )
    checks, diagnostics = held_out_checks(sampler, data.subset(before), data.subset(after), settings, prob)
    return Coverage(f"leave-future-out (fit before {cutoff})", prob, checks, [diagnostics])


# --- the stored posterior: an ArviZ DataTree with log-likelihood ---------------------------------

LOG_LIK_MAX_VALUES = 2_000_000  # log_likelihood values kept per fit (float32: 8 MB before compression)
SAMPLE_STATS_KEPT = ("diverging", "energy", "tree_depth", "n_steps", "step_size", "lp", "logp", "acceptance_rate")


def thinning_stride(chains: int, draws: int, n: int, max_values: int = LOG_LIK_MAX_VALUES) -> int:
    """Keep every k-th draw of each chain so that chains × draws/k × n stays within ``max_values``."""
    return max(1, math.ceil(chains * draws * n / max_values))


def thinned(posterior: Posterior, chains: int, stride: int) -> Posterior:
    """Every ``stride``-th draw of each chain (the draws are flattened chain-major)."""
    if stride == 1:
        return posterior

    def take(values: np.ndarray) -> np.ndarray:
        per_chain = values.reshape(chains, -1, *values.shape[1:])[:, ::stride]
        return per_chain.reshape(-1, *values.shape[1:])

    arrays: dict[str, Any] = {name: take(getattr(posterior, name)) for name in (*POSTERIOR_SCALARS, "a", "b")}
    return dataclasses.replace(posterior, **arrays)


def posterior_tree(trace, posterior: Posterior, data: CouplingData, max_values: int = LOG_LIK_MAX_VALUES):
    """The fit as an ArviZ DataTree: ``posterior`` (every sampled and derived variable, on the
    model's scale), ``sample_stats`` (divergences, energy, tree depth, step size),
    ``log_likelihood`` (``obs``: each observed y's log density in percent, as
    :meth:`Posterior.log_likelihood`, so linear and bounded fits compare on one scale),
    ``observed_data`` and ``constant_data`` (percent). Thinned by one stride over all groups when
    the log-likelihood would exceed ``max_values`` numbers (attribute ``thinned_by``)."""
    import xarray as xr

    post = trace.posterior.to_dataset()
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    stride = thinning_stride(chains, draws, data.n, max_values)
    keep = slice(None, None, stride)
    post = post.isel(draw=keep)
    if "lab" in post.coords:
        post = post.assign_coords(lab=list(posterior.labs))
    stats = trace.sample_stats.to_dataset()
    stats = stats[[name for name in SAMPLE_STATS_KEPT if name in stats.data_vars]].isel(draw=keep)
    kept = thinned(posterior, chains, stride)  # the log density of the kept draws only (3,000 models: 1/12 of them)
    log_lik = kept.log_likelihood(data).reshape(chains, -1, data.n).astype(np.float32)
    sample = {"chain": post["chain"].values, "draw": post["draw"].values}
    model = {"model": list(data.names)}
    attrs = {"link": posterior.link, "x_ref": posterior.x_ref, "thinned_by": stride, "draws_sampled": draws}
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs=attrs),
            "posterior": post,
            "sample_stats": stats,
            "log_likelihood": xr.Dataset({"obs": (("chain", "draw", "model"), log_lik)}, coords={**sample, **model}),
            "observed_data": xr.Dataset({"obs": ("model", np.asarray(data.y, dtype=float))}, coords=model),
            "constant_data": xr.Dataset(
                {"x": ("model", np.asarray(data.x, dtype=float)), "lab": ("model", list(data.labs))}, coords=model
            ),
        }
    )


def tree_to_bytes(tree) -> bytes:
    """A DataTree as bytes: its Zarr v3 store (chunks compressed by Zarr) in an uncompressed zip."""
    import zipfile

    from zarr.storage import MemoryStore

    entries: dict = {}
    tree.to_zarr(MemoryStore(entries), consolidated=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(entries):
            archive.writestr(key, entries[key].to_bytes())
    return buffer.getvalue()


def tree_from_bytes(blob: bytes):
    """The DataTree written by :func:`tree_to_bytes`, loaded into memory."""
    import zipfile

    import xarray as xr
    from zarr.core.buffer import cpu
    from zarr.storage import MemoryStore

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        entries: dict[str, Any] = {name: cpu.Buffer.from_bytes(archive.read(name)) for name in archive.namelist()}
    store: Any = MemoryStore(entries)
    return xr.open_datatree(store, engine="zarr", consolidated=False).load()


# --- one whole fit, as stored ----------------------------------------------------------------------


@dataclass(frozen=True)
class FitOutcome:
    """Everything one fit computes: the draws, the gate, the summaries and the stored DataTree."""

    posterior: Posterior
    diagnostics: Diagnostics
    summary: CouplingSummary
    ols: OLSTrend
    tree: bytes  # tree_to_bytes(posterior_tree(...))
    priors: Priors
    parametrisation: str
    timings: dict[str, float] = field(default_factory=dict)


def fit_outcome(
    sampler: CouplingSampler,
    data: CouplingData,
    settings: SamplerSettings,
    progress: ProgressCallback | None = None,
    stage: Callable[[str], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> FitOutcome:
    """Sample ``data`` with ``sampler`` and compute what a stored fit holds.

    ``clock`` (e.g. ``time.perf_counter``) times the phases into ``timings``; the compile
    (first use of ``sampler.compiled``) is timed apart from sampling.
    """
    tick = clock or (lambda: 0.0)
    timings: dict[str, float] = {}
    started = tick()
    if settings.sampler == "nutpie" and sampler._compiled is None:
        if stage:
            stage("compiling the model")
        sampler.compiled  # noqa: B018 (compiles now, so the phase is timed on its own)
    timings["compile_s"] = tick() - started
    if stage:
        stage("sampling")
    started = tick()
    posterior, diagnostics, trace = sampler.fit_with_trace(data, settings, progress)
    timings["sample_s"] = tick() - started
    if stage:
        stage("summarising")
    started = tick()
    summary = summarize(posterior, data)
    ols = ols_trend(data.x, data.y)
    tree = tree_to_bytes(posterior_tree(trace, posterior, data))
    timings["summary_s"] = tick() - started
    return FitOutcome(posterior, diagnostics, summary, ols, tree, sampler.priors, sampler.parametrisation, timings)
