"""The base-scale analysis's use cases (method: docs/phase.md): each family's coupling and
phases, one family in detail, the critical size N_c from pooled families (stored for the
report), the paper reproduced beside the sourced data, and classifying one base model.

Each function takes the engine (and the clock where a result is stored with its time),
owns its transaction and returns the registry's typed records; ``phasewatch phase`` is
these calls plus rendering. The bootstraps run in the transaction that reads their
points (and, for N_c, stores the result): seconds for the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasewatch.registry.db import transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.models.phase import NcEstimate
    from phasewatch.registry.clock import Clock
    from phasewatch.registry.phase import Classification, FamilyDetail, FamilySummary, Reproduction


def families(engine: Engine, panel: str) -> tuple[FamilySummary, ...]:
    """Each family in ``panel``: r(reasoning, truthfulness), its phases and whether γ12 changes sign."""
    from phasewatch.registry.phase import list_families

    with transaction(engine) as session:
        return tuple(list_families(session, panel))


def family(engine: Engine, name: str, panel: str, *, resamples: int = 2000, seed: int = 42) -> FamilyDetail:
    """One family (any case): γ12 between consecutive sizes, r overall and per phase, N_c by both methods."""
    from phasewatch.registry.phase import family_detail

    with transaction(engine) as session:
        return family_detail(session, name, panel, resamples=resamples, seed=seed)


@dataclass(frozen=True)
class CriticalSize:
    """N_c from pooled families by both methods, with the number of points pooled."""

    quadratic: NcEstimate
    gamma: NcEstimate
    points: int


def critical_size(
    engine: Engine,
    clock: Clock,
    families: list[str],
    panel: str,
    *,
    resamples: int,
    seed: int,
    legacy_rng: bool = False,
) -> CriticalSize:
    """N_c from the pooled ``families``: quadratic vertex and γ12 zero crossing with bootstrap
    intervals, stored (with ``clock``'s time) so that the report shows it without rerunning."""
    from phasewatch.registry.phase import run_nc

    with transaction(engine) as session:
        quadratic, gamma, n = run_nc(session, families, panel, resamples, seed, legacy_rng, now=clock.now())
    return CriticalSize(quadratic, gamma, n)


def reproduce(engine: Engine, clock: Clock, *, resamples: int, seed: int) -> Reproduction:
    """The paper's analyses from its own points beside the same on sourced data (both N_c stored)."""
    from phasewatch.registry.phase import reproduce as run

    with transaction(engine) as session:
        return run(session, resamples, seed, now=clock.now())


def classify(
    engine: Engine, params_b: float, hellaswag: float, truthfulqa: float, d_model: int | None = None
) -> Classification:
    """A base model against the isocline (calibrated on the stored points) and against N_c."""
    from phasewatch.registry.phase import classify as run

    with transaction(engine) as session:
        return run(session, params_b, hellaswag, truthfulqa, d_model)
