"""A lab's training philosophy, read off a stored coupling fit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from phasewatch.models.coupling import Posterior, from_link
from phasewatch.models.dynamics import ShiftProbabilities, shift_probabilities
from phasewatch.models.intervals import Interval
from phasewatch.models.trajectory import (
    Shift,
    ShiftKind,
    TrajectoryPoint,
    confidence,
    next_measurement,
)
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.errors import NotFoundError
from phasewatch.registry.fits import get_fit, summary_of
from phasewatch.registry.schema import Model


@dataclass(frozen=True)
class ShiftView:
    before: str
    after: str
    delta_h: float
    kind: str  # the most probable reading, with its probability
    delta_h_hdi: Interval
    p_none: Interval
    p_persistent: Interval
    p_transient: Interval
    decided_by: str | None  # the release that decides persistent vs transient
    inference_compute: bool  # a same-weights tier change: known from the registry, not inferred


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
    next_measurement: str


def _direction(mean_h: float) -> str:
    """The paper's playbook bands (±5 pp) on the lab's mean h."""
    if mean_h > 5:
        return "reasoning-rich (mean h > +5 pp)"
    if mean_h < -5:
        return "coding-rich (mean h < -5 pp)"
    return "balanced (|mean h| <= 5 pp)"


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
    probabilities = shift_probabilities([p.name for p in points], h_draws, noise_draws, _same_weight_pairs(session))
    shifts = [Shift(p.before, p.after, p.delta_h.mean, _kind(p)) for p in probabilities]
    xs = [m.x for m in summary.models]
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
            )
            for p in probabilities
        ],
        noise_pp=noise,
        confidence=str(confidence(len(points), shifts)),
        next_measurement=next_measurement(name, points, shifts, (slope.low, slope.high), (min(xs), max(xs))),
    )


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
