"""Honest checks of the predictive intervals: leave-one-out, leave-future-out,
and hold-out panels (e.g. the five post-cutoff releases), stored for reference."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phasewatch.models.coupling import CouplingData, SamplerSettings
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.fits import DEFAULT_PANELS, DEFAULT_SPEC, DEFAULT_X, DEFAULT_Y, panel_data
from phasewatch.registry.schema import CoverageCheck

# Refits sample as a stored fit does, so that their diagnostics mean the same.
COVERAGE_SETTINGS = SamplerSettings()
METHODS = ("loo", "lfo", "holdout")


@dataclass(frozen=True)
class CoverageReport:
    id: int
    method: str
    panels: str
    held_out: str | None
    nominal: float
    n: int
    inside: int
    share: float
    worst_refit: dict[str, float]
    details: list[dict[str, Any]]


def _default_cutoff(data: CouplingData) -> str:
    """The release date that leaves the last quarter of dated releases out."""
    dates = sorted(d for d in data.dates if d)
    return dates[int(len(dates) * 0.75)]


def run_coverage(
    engine: Engine,
    method: str,
    panels: tuple[str, ...] = DEFAULT_PANELS,
    *,
    held_out: tuple[str, ...] = (),
    cutoff: str | None = None,
    settings: SamplerSettings = COVERAGE_SETTINGS,
    progress: Any = None,
) -> CoverageReport:
    from phasewatch.models.coupling import CouplingSampler, held_out_checks, leave_future_out, leave_one_out

    if method not in METHODS:
        raise InvalidInputError(f"unknown coverage method {method!r}", f"use one of {', '.join(METHODS)}")
    if method == "holdout" and not held_out:
        raise InvalidInputError("holdout needs --held-out PANEL", "e.g. --held-out post-cutoff-2026-04")
    with transaction(engine) as session:
        data = panel_data(session, panels, DEFAULT_X, DEFAULT_Y)
        test = panel_data(session, held_out, DEFAULT_X, DEFAULT_Y) if method == "holdout" else None
    if test is not None:
        overlap = set(test.names) & set(data.names)
        if overlap:
            raise InvalidInputError(
                f"held-out models are also in the fit: {sorted(overlap)}", "hold out a disjoint panel"
            )
    sampler = CouplingSampler(data, None, DEFAULT_SPEC)  # the default model, whose intervals give verdicts
    if method == "loo":
        coverage = leave_one_out(sampler, data, settings, progress=progress)
    elif method == "lfo":
        coverage = leave_future_out(sampler, data, cutoff or _default_cutoff(data), settings)
    else:
        assert test is not None
        from phasewatch.models.coupling import Coverage

        checks, diagnostics = held_out_checks(sampler, data, test, settings)
        coverage = Coverage(f"hold-out ({', '.join(held_out)})", 0.95, checks, [diagnostics])
    details = [{**dataclasses.asdict(c), "inside": c.inside} for c in coverage.checks]
    record = CoverageCheck(
        panels=",".join(panels),
        held_out=",".join(held_out) or None,
        method=coverage.method,
        x_benchmark=DEFAULT_X,
        y_benchmark=DEFAULT_Y,
        nominal=coverage.nominal,
        n=coverage.n,
        inside=coverage.inside,
        spec={
            "method": DEFAULT_SPEC.method,
            "settings": asdict(settings),
            "priors": asdict(sampler.priors),
            "worst_refit": coverage.worst_refit,
        },
        details=details,
    )
    with transaction(engine) as session:
        session.add(record)
        session.flush()
        return _report(record)


def _report(record: CoverageCheck) -> CoverageReport:
    return CoverageReport(
        id=record.id,
        method=record.method,
        panels=record.panels,
        held_out=record.held_out,
        nominal=record.nominal,
        n=record.n,
        inside=record.inside,
        share=record.inside / record.n if record.n else float("nan"),
        worst_refit=record.spec.get("worst_refit", {}),
        details=record.details,
    )


def list_coverage(session: Session) -> list[CoverageReport]:
    return [_report(r) for r in session.scalars(select(CoverageCheck).order_by(CoverageCheck.id))]
