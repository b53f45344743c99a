"""A lab's training philosophy, read off a stored coupling fit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from phasewatch.models.intervals import Interval
from phasewatch.models.trajectory import (
    TrajectoryPoint,
    classify_shifts,
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
    kind: str


@dataclass(frozen=True)
class LabPhilosophy:
    lab: str
    fit_id: int
    fit_panels: str
    n_releases: int
    slope: Interval
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


def lab_philosophy(session: Session, lab: str, fit_id: int | None = None) -> LabPhilosophy:
    """Slope, mean h, h trajectory with classified shifts, confidence and the next measurement."""
    name = Catalog(session).lab(lab).name
    fit = get_fit(session, fit_id)
    summary = summary_of(fit)
    coupling = next((entry for entry in summary.labs if entry.lab == name), None)
    if coupling is None:
        raise NotFoundError(f"lab {name!r} has no release in fit #{fit.id} ({fit.panels})", "fit a panel that includes it")
    points = [
        TrajectoryPoint(m.name, m.date, m.x, m.h.mean)
        for m in sorted((m for m in summary.models if m.lab == name), key=lambda m: (m.date or "9999", m.name))
    ]
    noise = summary.noise_sd.mean
    shifts = classify_shifts(points, noise, _same_weight_pairs(session))
    xs = [m.x for m in summary.models]
    return LabPhilosophy(
        lab=name,
        fit_id=fit.id,
        fit_panels=fit.panels,
        n_releases=len(points),
        slope=coupling.slope,
        ols_slope=coupling.ols_slope,
        mean_h=coupling.mean_h,
        direction=_direction(coupling.mean_h.mean),
        trajectory=points,
        shifts=[ShiftView(s.before, s.after, s.delta_h, str(s.kind)) for s in shifts],
        noise_pp=noise,
        confidence=str(confidence(len(points), shifts)),
        next_measurement=next_measurement(
            name, points, shifts, (coupling.slope.low, coupling.slope.high), (min(xs), max(xs))
        ),
    )


@dataclass(frozen=True)
class LabRank:
    rank: int
    lab: str
    n_releases: int
    slope: Interval
    ols_slope: float | None
    mean_h: Interval


def compare_labs(session: Session, fit_id: int | None = None) -> tuple[int, list[LabRank]]:
    """Labs ranked by posterior mean slope (steepest coupling first)."""
    fit = get_fit(session, fit_id)
    labs = sorted(summary_of(fit).labs, key=lambda entry: -entry.slope.mean)
    return fit.id, [LabRank(i + 1, e.lab, e.n_models, e.slope, e.ols_slope, e.mean_h) for i, e in enumerate(labs)]
