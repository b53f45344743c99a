"""Stored checks of the predictive intervals (leave-one-out, leave-future-out,
hold-out panels): Session-level storage and read-back. The use case that runs
them is :mod:`phasewatch.services.coverage`."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.models.coupling import CouplingData, Coverage, ModelSpec, Priors, ReleaseCheck, SamplerSettings
from phasewatch.models.intervals import Interval
from phasewatch.registry.schema import CoverageCheck

METHODS = ("loo", "lfo", "holdout")


@dataclass(frozen=True)
class CoverageReport:
    """A stored coverage check read back: how many held-out releases fell inside
    their 95 % predictive interval, with a binomial interval on the share."""

    id: int
    method: str
    panels: str
    held_out: str | None
    nominal: float
    n: int
    inside: int
    worst_refit: dict[str, float]
    details: list[ReleaseCheck]

    @property
    def share(self) -> float:
        return self.inside / self.n if self.n else float("nan")

    @property
    def share_interval(self) -> tuple[float, float]:
        """The 95 % Clopper-Pearson interval of the share inside."""
        from phasewatch.models.comparison import clopper_pearson

        return clopper_pearson(self.inside, self.n)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.share_interval
        return {
            "id": self.id,
            "method": self.method,
            "panels": self.panels,
            "held_out": self.held_out,
            "nominal": self.nominal,
            "n": self.n,
            "inside": self.inside,
            "share": self.share,
            "share_ci95": [low, high],
            "worst_refit": self.worst_refit,
            "details": [{**asdict(c), "inside": c.inside} for c in self.details],
        }


def default_cutoff(data: CouplingData) -> str:
    """The release date that leaves the last quarter of dated releases out."""
    dates = sorted(d for d in data.dates if d)
    return dates[int(len(dates) * 0.75)]


def store_coverage(
    session: Session,
    coverage: Coverage,
    *,
    panels: tuple[str, ...],
    held_out: tuple[str, ...],
    x: str,
    y: str,
    spec: ModelSpec,
    settings: SamplerSettings,
    priors: Priors,
) -> CoverageReport:
    """Store one coverage check and read it back."""
    record = CoverageCheck(
        panels=",".join(panels),
        held_out=",".join(held_out) or None,
        method=coverage.method,
        x_benchmark=x,
        y_benchmark=y,
        nominal=coverage.nominal,
        n=coverage.n,
        inside=coverage.inside,
        spec={
            "method": spec.method,
            "settings": asdict(settings),
            "priors": asdict(priors),
            "worst_refit": coverage.worst_refit,
        },
        details=[{**dataclasses.asdict(c), "inside": c.inside} for c in coverage.checks],
    )
    session.add(record)
    session.flush()
    return read_coverage(record)


def _check(stored: dict[str, Any]) -> ReleaseCheck:
    fields = {f.name for f in dataclasses.fields(ReleaseCheck)}
    raw = {k: v for k, v in stored.items() if k in fields}
    return ReleaseCheck(**{**raw, "h": Interval(**raw["h"]), "predicted": Interval(**raw["predicted"])})


def read_coverage(record: CoverageCheck) -> CoverageReport:
    """A stored coverage check as a typed record."""
    return CoverageReport(
        id=record.id,
        method=record.method,
        panels=record.panels,
        held_out=record.held_out,
        nominal=record.nominal,
        n=record.n,
        inside=record.inside,
        worst_refit=record.spec.get("worst_refit", {}),
        details=[_check(d) for d in record.details],
    )


def list_coverage(session: Session) -> list[CoverageReport]:
    return [read_coverage(r) for r in session.scalars(select(CoverageCheck).order_by(CoverageCheck.id))]
