"""Labs: list, register, read one lab's coupling and dynamics, compare labs —
one call per `phasewatch labs` command.

Each function takes the engine (and the clock where "as of today" matters),
owns its transaction and returns typed records; the science is in
``models.dynamics`` / ``models.trajectory``, the reading of a stored fit in
``registry.philosophy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the numerical modules load only when a lab is read
    from sqlalchemy import Engine

    from phasewatch.registry.clock import Clock
    from phasewatch.registry.philosophy import LabPhilosophy, LabRank
    from phasewatch.registry.queries import LabSummary


@dataclass(frozen=True)
class LabAdded:
    """A lab registered (or found) with the aliases given beside its name."""

    lab: str
    created: bool
    aliases: list[str]


@dataclass(frozen=True)
class LabComparison:
    """Labs by coupling slope in one fit, with their rank intervals."""

    fit_id: int
    labs: list[LabRank]


def list_labs(engine: Engine) -> list[LabSummary]:
    """Every lab with its aliases, model counts and release span."""
    from phasewatch.registry.db import transaction
    from phasewatch.registry.queries import list_labs as query

    with transaction(engine) as session:
        return query(session)


def add_lab(engine: Engine, name: str, aliases: list[str] | tuple[str, ...] = ()) -> LabAdded:
    """Register a lab, or add aliases to an existing one (aliases taken by another lab are refused)."""
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.db import transaction

    with transaction(engine) as session:
        lab, created = Catalog(session).add_lab(name, list(aliases))
        return LabAdded(lab.name, created, sorted({*aliases} - {lab.name}))


def show_lab(engine: Engine, clock: Clock, lab: str, fit_id: int | None = None) -> LabPhilosophy:
    """A lab's slope, mean h, per-tier trajectory with shift probabilities and the
    next measurement, read off a stored fit (default: the latest accepted) as of today."""
    from phasewatch.registry.db import transaction
    from phasewatch.registry.philosophy import lab_philosophy

    with transaction(engine) as session:
        return lab_philosophy(session, lab, fit_id, as_of=clock.today())


def compare_labs(engine: Engine, clock: Clock, fit_id: int | None = None) -> LabComparison:
    """Labs by coupling slope with the posterior distribution of their rank, as of today."""
    from phasewatch.registry.db import transaction
    from phasewatch.registry.philosophy import compare_labs as compare

    with transaction(engine) as session:
        used, ranks = compare(session, fit_id, as_of=clock.today())
        return LabComparison(used, ranks)
