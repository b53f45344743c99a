"""Stored results in the shapes the dashboard and the CLI both read: every frontier release
with both fit benchmarks, a hypothetical release analysed against the stored posterior, the
posterior draws that analysis needs (for the page's in-browser copy), the base-scale
classifier's constants, and the pairwise correlation matrix of frontier benchmarks."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.models.coupling import Posterior, ReleaseCheck, check_release
from phasewatch.models.intervals import Interval, hdi
from phasewatch.models.phase import Isocline, calibrate_isocline, nc_quadratic_bootstrap
from phasewatch.registry.catalog import Catalog, check_score
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.fits import get_fit, summary_of
from phasewatch.registry.schema import Benchmark, Fit, Lab, Model, ModelKind, Observation

MAX_EMBEDDED_DRAWS = 8000


def latest_scores(session: Session, kind: str = ModelKind.FRONTIER) -> dict[int, dict[str, float]]:
    """Each model's most recently logged value of each benchmark (the rule `releases check` uses)."""
    rows = session.execute(
        select(Observation.model_id, Benchmark.key, Observation.value)
        .join(Benchmark)
        .join(Model)
        .where(Model.kind == kind)
        .order_by(Observation.created_at.desc(), Observation.id.desc())
    )
    out: dict[int, dict[str, float]] = {}
    for model_id, key, value in rows:
        out.setdefault(model_id, {}).setdefault(key, value)
    return out


@dataclass(frozen=True)
class FrontierPoint:
    name: str
    lab: str
    date: str | None
    x: float
    y: float
    h: Interval
    in_fit: bool


def frontier_points(session: Session, fit_id: int | None = None) -> tuple[Fit, list[FrontierPoint]]:
    """Every frontier release with both of the fit's scores, its h-field (HDI) from the stored
    posterior, and whether the fit saw it (else it was logged since, or left out of the panel)."""
    fit = get_fit(session, fit_id)
    posterior = Posterior.from_bytes(fit.posterior)
    fitted = {m.name: m for m in summary_of(fit).models}
    scores = latest_scores(session)
    models = session.execute(select(Model, Lab.name).join(Lab).where(Model.id.in_(scores))).all()
    points = []
    for model, lab in models:
        s = scores[model.id]
        if fit.x_benchmark not in s or fit.y_benchmark not in s:
            continue
        if model.name in fitted:  # the values the fit used (a panel may pin an older figure)
            m = fitted[model.name]
            points.append(FrontierPoint(m.name, m.lab, m.date, m.x, m.y, m.h, True))
            continue
        x, y = s[fit.x_benchmark], s[fit.y_benchmark]
        date = model.release_date.isoformat() if model.release_date else None
        points.append(FrontierPoint(model.name, lab, date, x, y, hdi(posterior.h_field(x, y)), False))
    points.sort(key=lambda p: (p.date or "9999", p.name))
    return fit, points


@dataclass(frozen=True)
class Analysis:
    fit_id: int
    x_benchmark: str
    y_benchmark: str
    check: ReleaseCheck

    @property
    def inside(self) -> bool:
        return self.check.inside


def analyze_scores(session: Session, lab: str, x: float, y: float, fit_id: int | None = None) -> Analysis:
    """A hypothetical release of ``lab`` at (x, y): its h-field and whether y lies in the 95 %
    predictive interval, exactly as `releases check` computes it for a logged release."""
    fit = get_fit(session, fit_id)
    check_score(x, benchmark=fit.x_benchmark)
    check_score(y, benchmark=fit.y_benchmark)
    try:
        lab_name = Catalog(session).lab(lab).name
    except NotFoundError:
        lab_name = lab  # a lab the fit never saw: its effects come from the fitted hierarchy
    posterior = Posterior.from_bytes(fit.posterior)
    check = check_release(posterior, "(typed scores)", lab_name, x, y, seed=fit.seed)
    return Analysis(fit.id, fit.x_benchmark, fit.y_benchmark, check)


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def analysis_draws(fit: Fit, max_draws: int = MAX_EMBEDDED_DRAWS) -> dict[str, Any]:
    """The draws `analyze_scores` uses, as little-endian float64 base64 strings, so a page can
    redo the analysis: the model's ``link`` (identity: percentage points; logit: the trend and
    the predictions are 100·expit of a + b·(logit(x/100) − x_ref)); per lab a, b; the population
    mu_a, mu_b; the Student-t noise
    drawn with the fit's seed for a known lab; and a new lab's a, b and noise (same seed).
    Fits with more than ``max_draws`` draws are thinned by a stride (said in ``thinned``)."""
    posterior = Posterior.from_bytes(fit.posterior)
    rng = np.random.default_rng(fit.seed)
    noise_known = posterior.sigma * rng.standard_t(posterior.nu)
    rng = np.random.default_rng(fit.seed)
    a_new, b_new, _ = posterior.lab_effects(None, rng)
    noise_new = posterior.sigma * rng.standard_t(posterior.nu)
    stride = max(1, -(-posterior.n_draws // max_draws))
    pick = slice(None, None, stride)
    return {
        "fit_id": fit.id,
        "link": posterior.link,
        "x_ref": posterior.x_ref,
        "draws": int(posterior.mu_a[pick].size),
        "thinned": stride > 1,
        "stride": stride,
        "total_draws": posterior.n_draws,
        "mu_a": _b64(posterior.mu_a[pick]),
        "mu_b": _b64(posterior.mu_b[pick]),
        "noise_known": _b64(noise_known[pick]),
        "new": {"a": _b64(a_new[pick]), "b": _b64(b_new[pick]), "noise": _b64(noise_new[pick])},
        "labs": {
            lab: {"a": _b64(posterior.a[pick, i]), "b": _b64(posterior.b[pick, i])}
            for i, lab in enumerate(posterior.labs)
        },
    }


@dataclass(frozen=True)
class PhaseClassifier:
    """What `phase classify` compares a base model with: the isocline and the two N_c points."""

    isocline: Isocline
    nc_points: list[tuple[str, float]]  # (label, billions)


def phase_classifier(session: Session) -> PhaseClassifier:
    from phasewatch.registry.phase import SOURCED, family_points, pooled_points

    olmo = family_points(session, "lying-63").get("OLMo")
    if olmo is None:
        raise NotFoundError("the paper's OLMo rows are not in the registry", "run `phasewatch init`")
    points = []
    for label, panel, families in (
        ("paper's 14 points", "lying-nc-14", ["Pythia", "Llama-1", "Llama-2"]),
        ("sourced Pythia-deduped + Llama", SOURCED, ["Pythia-deduped", "Llama-1", "Llama-2"]),
    ):
        nc = nc_quadratic_bootstrap(pooled_points(session, families, panel), resamples=0).point_billions
        if nc is not None:
            points.append((label, nc))
    return PhaseClassifier(calibrate_isocline(olmo.points), points)


@dataclass(frozen=True)
class PairCorrelation:
    x: str
    y: str
    n: int
    r: float
    low: float
    high: float


def benchmark_correlations(
    session: Session, min_models: int = 8, resamples: int = 2000, seed: int = 42
) -> tuple[list[str], list[PairCorrelation]]:
    """Pearson r between every pair of frontier benchmarks over the releases that have both
    (latest logged values), with a 95 % percentile bootstrap interval (resampling releases)."""
    if resamples < 0 or min_models < 3:
        raise InvalidInputError("resamples must be >= 0 and min_models >= 3", "use the defaults")
    scores = list(latest_scores(session).values())
    counts: dict[str, int] = {}
    for s in scores:
        for key in s:
            counts[key] = counts.get(key, 0) + 1
    keys = sorted(k for k, n in counts.items() if n >= min_models)
    rng = np.random.default_rng(seed)
    pairs = []
    for i, kx in enumerate(keys):
        for ky in keys[i + 1 :]:
            both = np.array([(s[kx], s[ky]) for s in scores if kx in s and ky in s], dtype=float)
            if len(both) < min_models or both[:, 0].std() == 0 or both[:, 1].std() == 0:
                continue
            r = float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])
            picks = both[rng.integers(0, len(both), (resamples, len(both)))]  # resamples × n × 2
            xc = picks[:, :, 0] - picks[:, :, 0].mean(axis=1, keepdims=True)
            yc = picks[:, :, 1] - picks[:, :, 1].mean(axis=1, keepdims=True)
            sxx, syy = (xc**2).sum(axis=1), (yc**2).sum(axis=1)
            valid = (sxx > 0) & (syy > 0)  # a resample of one repeated release has no r
            samples = (xc * yc).sum(axis=1)[valid] / np.sqrt(sxx[valid] * syy[valid])
            low, high = np.quantile(samples, [0.025, 0.975]) if samples.size else (np.nan, np.nan)
            pairs.append(PairCorrelation(kx, ky, len(both), r, float(low), float(high)))
    used = sorted({p.x for p in pairs} | {p.y for p in pairs})
    return used, pairs
