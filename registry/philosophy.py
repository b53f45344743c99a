"""A lab's training philosophy, read off a stored coupling fit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from phasewatch.models.coupling import Posterior, from_link, to_link
from phasewatch.models.dynamics import ShiftProbabilities, shift_probabilities
from phasewatch.models.intervals import Interval
from phasewatch.models.trajectory import (
    Measurement,
    Shift,
    ShiftKind,
    SlopeModel,
    TrajectoryPoint,
    confidence,
    next_measurements,
    shift_measurements,
    slope_measurements,
)
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import format_partial_date
from phasewatch.registry.errors import NotFoundError
from phasewatch.registry.fits import get_fit, summary_of
from phasewatch.registry.schema import Benchmark, Lab, Model, Observation


@dataclass(frozen=True)
class ShiftView:
    before: str
    after: str
    delta_h: float
    kind: str  # the most probable reading, with its probability
    delta_h_hdi: Interval
    p_none: Interval | None  # None: not read (same weights, or a tier change)
    p_persistent: Interval | None
    p_transient: Interval | None
    decided_by: str | None  # the release that decides persistent vs transient
    inference_compute: bool  # a same-weights tier change: known from the registry, not inferred
    tier_change: tuple[str, str] | None = None  # (tier before, tier after): different weights, not read


@dataclass(frozen=True)
class LabPhilosophy:
    lab: str
    fit_id: int
    fit_panels: str
    n_releases: int
    n_in_fit: int
    slope: Interval
    slope_source: str
    ols_slope: float | None
    mean_h: Interval
    direction: str
    trajectory: list[TrajectoryPoint]
    shifts: list[ShiftView]
    noise_pp: float
    confidence: str
    next_measurement: str  # the chosen measurement with its figure
    measurements: list[Measurement]  # every candidate, most expected information first
    tiers: dict[str, str | None]  # each release's tier (None: the lab's untiered line)


def _direction(mean_h: float) -> str:
    """The paper's playbook bands (±5 pp) on the lab's mean h."""
    if mean_h > 5:
        return "reasoning-rich (mean h > +5 pp)"
    if mean_h < -5:
        return "coding-rich (mean h < -5 pp)"
    return "balanced (|mean h| <= 5 pp)"


def _tiers(session: Session, names: list[str]) -> dict[str, str | None]:
    return {name: tier for name, tier in session.execute(select(Model.name, Model.tier).where(Model.name.in_(names)))}


def _one_score_releases(
    session: Session, lab: str, x: str, y: str, as_of: dt.date | None
) -> list[tuple[str, str, float | None]]:
    """The lab's releases (by ``as_of``) holding one of the two benchmarks:
    (name, the missing benchmark, x when it is the x score that is held)."""
    rows = session.execute(
        select(Model.id, Model.name, Model.release_date, Model.release_date_precision, Benchmark.key, Observation.value)
        .join(Observation, Observation.model_id == Model.id)
        .join(Benchmark, Benchmark.id == Observation.benchmark_id)
        .join(Lab, Lab.id == Model.lab_id)
        .where(Lab.name == lab, Benchmark.key.in_((x, y)), Observation.retracted_on.is_(None))
        .order_by(Observation.created_at, Observation.id)
    )
    held: dict[int, tuple[str, dict[str, float]]] = {}
    for model_id, name, day, precision, key, value in rows:
        if as_of is not None and day is not None and day > as_of:
            continue
        held.setdefault(model_id, (f"{name} ({format_partial_date(day, precision) or 'undated'})", {}))[1][key] = value
    return sorted(
        (label, y if x in values else x, values.get(x)) for label, values in held.values() if len(values) == 1
    )


def _same_weight_pairs(session: Session) -> set[frozenset[str]]:
    base = aliased(Model)
    rows = session.execute(select(Model.name, base.name).join(base, Model.variant_of_id == base.id))
    return {frozenset(pair) for pair in rows}


def lab_philosophy(
    session: Session, lab: str, fit_id: int | None = None, as_of: dt.date | None = None
) -> LabPhilosophy:
    """Slope, mean h, h trajectory with classified shifts, confidence and the next measurement.

    The trajectory holds every release of the lab with both scores as of
    ``as_of`` (in-fit and out-of-fit, marked); a lab the fit never saw gets its
    slope from the hierarchy (partial pooling: a new lab's effects are drawn
    from the fitted population) until a refit includes it.
    """
    from phasewatch.models.intervals import hdi
    from phasewatch.registry.hfield import hfield_rows

    name = Catalog(session).lab(lab).name
    fit = get_fit(session, fit_id)
    summary = summary_of(fit)
    fit_id_used, rows = hfield_rows(session, lab=name, fit_id=fit.id, as_of=as_of)
    if not rows:
        raise NotFoundError(
            f"lab {name!r} has no release with both {fit.x_benchmark} and {fit.y_benchmark}",
            "log one with `phasewatch releases add`",
        )
    coupling = next((entry for entry in summary.labs if entry.lab == name), None)
    posterior = Posterior.from_bytes(fit.posterior)
    if coupling is not None:
        slope, ols_slope = coupling.slope, coupling.ols_slope
    else:
        _, b, _ = posterior.lab_effects(None, np.random.default_rng(fit.seed))
        slope, ols_slope = hdi(b), None
    ordered = sorted(rows, key=lambda r: (r.date or "9999", r.name))
    points = [TrajectoryPoint(r.name, r.date, r.x, r.h.mean, r.in_fit) for r in ordered]
    h_draws = np.column_stack([posterior.h_field(r.x, r.y) for r in ordered])
    mean_h = hdi(h_draws.mean(axis=1))
    noise_draws = _noise_pp(posterior)
    noise = float(noise_draws.mean())
    tiers = _tiers(session, [p.name for p in points])
    probabilities = shift_probabilities(
        [p.name for p in points],
        h_draws,
        noise_draws,
        _same_weight_pairs(session),
        tiers=[tiers.get(p.name) for p in points],
    )
    shifts = [Shift(p.before, p.after, p.delta_h.mean, _kind(p)) for p in probabilities]
    xs = [m.x for m in summary.models]
    measurements = _measurements(
        session, name, fit.x_benchmark, fit.y_benchmark, as_of, posterior, points, slope, (min(xs), max(xs)), fit.seed
    )
    measurements = next_measurements([*measurements, *shift_measurements(name, probabilities, noise, tiers=tiers)])
    return LabPhilosophy(
        lab=name,
        fit_id=fit_id_used,
        fit_panels=fit.panels,
        n_releases=len(points),
        n_in_fit=sum(p.in_fit for p in points),
        slope=slope,
        slope_source="fit" if coupling is not None else "hierarchy (lab not in the fit)",
        ols_slope=ols_slope,
        mean_h=mean_h,
        direction=_direction(mean_h.mean),
        trajectory=points,
        shifts=[
            ShiftView(
                p.before,
                p.after,
                p.delta_h.mean,
                p.label,
                p.delta_h,
                p.p_none,
                p.p_persistent,
                p.p_transient,
                p.following,
                p.inference_compute,
                p.tier_change,
            )
            for p in probabilities
        ],
        noise_pp=noise,
        confidence=str(confidence(len(points), shifts)),
        next_measurement=str(measurements[0]),
        measurements=measurements,
        tiers={p.name: tiers.get(p.name) for p in points},
    )


def _measurements(
    session: Session,
    lab: str,
    x_key: str,
    y_key: str,
    as_of: dt.date | None,
    posterior: Posterior,
    points: list[TrajectoryPoint],
    slope: Interval,
    frontier_x: tuple[float, float],
    seed: int,
) -> list[Measurement]:
    """The slope candidates: a next release at the lab's mean x and at the frontier's
    low and high x, and each of the lab's one-score releases' missing score
    (at its x when held; at the lab's mean x when the x score is the missing one).
    The Gaussian model uses the fit's scale: its residual sd and the hierarchy's
    spread of lab intercepts and slopes as the prior (a Student-t fit, read as Gaussian)."""
    a, b, _ = posterior.lab_effects(None, np.random.default_rng(seed))

    def link(x: float) -> float:
        return float(to_link(float(np.clip(x, 0.01, 99.99)) if posterior.link == "logit" else x, posterior.link))

    model = SlopeModel(
        tuple(link(p.x) for p in points),
        float(posterior.sigma.mean()),
        float(a.std()),
        float(b.std()),
        posterior.x_ref,
    )
    mean_x = sum(p.x for p in points) / len(points)
    candidates = [
        (f"the next {lab} release near its mean x = {mean_x:.1f}", link(mean_x)),
        (f"a new {lab} release near the frontier's low x = {frontier_x[0]:.1f}", link(frontier_x[0])),
        (f"a new {lab} release near the frontier's high x = {frontier_x[1]:.1f}", link(frontier_x[1])),
    ]
    for release, missing, x in _one_score_releases(session, lab, x_key, y_key, as_of):
        where = f"x = {x:.1f}" if x is not None else f"x unknown, taken at the lab's mean {mean_x:.1f}"
        candidates.append((f"the missing {missing} score of {release} ({where})", link(x if x is not None else mean_x)))
    return slope_measurements(model, slope.high - slope.low, candidates)


def _noise_pp(posterior: Posterior) -> np.ndarray:
    """Draws of the residual scale in percentage points: for the bounded model,
    the logit-scale sd translated at the frontier's typical score (the trend at
    x_ref) by the local slope of expit: sd × p(1 − p) × 100."""
    if posterior.link == "identity":
        return posterior.sigma
    p = posterior.trend(float(from_link(posterior.x_ref, "logit"))) / 100.0
    return posterior.sigma * p * (1 - p) * 100.0


def _kind(p: ShiftProbabilities) -> ShiftKind:
    """The most probable reading as a trajectory kind (for confidence and the next measurement)."""
    if p.inference_compute:
        return ShiftKind.INFERENCE_COMPUTE
    if p.tier_change is not None:
        return ShiftKind.TIER_CHANGE
    assert p.p_none is not None and p.p_persistent is not None and p.p_transient is not None
    if not p.resolved:
        return (
            ShiftKind.UNRESOLVED if p.p_persistent.mean + p.p_transient.mean > p.p_none.mean else ShiftKind.WITHIN_NOISE
        )
    best = max((p.p_none.mean, 0), (p.p_persistent.mean, 1), (p.p_transient.mean, 2))[1]
    return (ShiftKind.WITHIN_NOISE, ShiftKind.PERSISTENT, ShiftKind.RECOVERED)[best]


@dataclass(frozen=True)
class LabRank:
    rank: int
    lab: str
    n_releases: int
    slope: Interval
    ols_slope: float | None
    mean_h: Interval
    rank_low: int  # 95 % interval of the lab's rank over posterior draws
    rank_high: int
    p_steepest: float  # posterior probability that the lab has the steepest slope
    ranked: bool  # False for labs with fewer than MIN_RELEASES_TO_RANK releases in the fit


MIN_RELEASES_TO_RANK = 3


def compare_labs(
    session: Session, fit_id: int | None = None, as_of: dt.date | None = None
) -> tuple[int, list[LabRank]]:
    """Labs by posterior mean slope with the posterior distribution of their rank.

    Labs with fewer than three releases in the fit are listed after the others,
    unranked: their slope is mostly the population's (shrinkage), not their own.
    Labs with releases (as of ``as_of``) that the fit never saw are listed last,
    with the hierarchy's slope for a new lab and their releases' mean h.
    """
    from phasewatch.models.intervals import hdi
    from phasewatch.registry.hfield import releases_with_scores

    fit = get_fit(session, fit_id)
    posterior = Posterior.from_bytes(fit.posterior)
    labs = summary_of(fit).labs
    draws = np.column_stack([posterior.b[:, posterior.labs.index(e.lab)] for e in labs])
    ranks = (-draws).argsort(axis=1).argsort(axis=1) + 1  # 1 = steepest, per draw
    rows = []
    for j, e in enumerate(labs):
        low, high = np.quantile(ranks[:, j], [0.025, 0.975])
        rows.append((e, int(low), int(high), float(np.mean(ranks[:, j] == 1)), e.n_models >= MIN_RELEASES_TO_RANK))
    rows.sort(key=lambda r: (not r[4], -r[0].slope.mean))
    out, place = [], 0
    for e, low, high, p_top, ranked in rows:
        place += ranked
        out.append(
            LabRank(place if ranked else 0, e.lab, e.n_models, e.slope, e.ols_slope, e.mean_h, low, high, p_top, ranked)
        )
    in_fit = {e.lab for e in labs}
    unseen: dict[str, list[np.ndarray]] = {}
    for r in releases_with_scores(session, fit.x_benchmark, fit.y_benchmark, as_of):
        if r.lab not in in_fit:
            unseen.setdefault(r.lab, []).append(posterior.h_field(r.x, r.y))
    if unseen:
        _, b, _ = posterior.lab_effects(None, np.random.default_rng(fit.seed))
        for lab, hs in sorted(unseen.items()):
            out.append(
                LabRank(0, lab, 0, hdi(b), None, hdi(np.mean(hs, axis=0)), 1, len(labs) + 1, float("nan"), False)
            )
    return fit.id, out
