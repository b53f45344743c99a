"""Reading stored coupling fits: list (with staleness), show, predict, h-field,
model comparison and the coupling matrix — one call per CLI query command.

Each function takes the engine (and the clock where "as of today" matters),
owns its transaction and returns typed records; nothing here samples except
:func:`compare_models`, which fits the compared models not yet stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from phasewatch.models.coupling import SamplerSettings
from phasewatch.registry.clock import Clock
from phasewatch.registry.comparison import BenchmarkMatrix, FitComparison
from phasewatch.registry.db import transaction
from phasewatch.registry.fits import DEFAULT_X, DEFAULT_Y, Prediction, StoredFit
from phasewatch.registry.frontier import LiveSelection, Staleness
from phasewatch.registry.hfield import HFieldRow


@dataclass(frozen=True)
class FitListing:
    """A stored fit and what has arrived since it (releases its panel would now hold)."""

    fit: StoredFit
    staleness: Staleness


def list_fits(engine: Engine) -> list[FitListing]:
    """Every stored fit, newest first, each with its staleness (the live panel is
    selected once per benchmark pair, not once per fit)."""
    from phasewatch.registry.fits import read_fit
    from phasewatch.registry.frontier import select_frontier, staleness
    from phasewatch.registry.schema import Fit

    with transaction(engine) as session:
        selections: dict[tuple[str, str], LiveSelection] = {}
        out = []
        for row in session.scalars(select(Fit).order_by(Fit.id.desc())):
            pair = (row.x_benchmark, row.y_benchmark)
            if pair not in selections:
                selections[pair] = select_frontier(session, benchmarks=pair)
            out.append(FitListing(read_fit(row), staleness(session, row, selections[pair])))
        return out


def show_fit(engine: Engine, fit_id: int | None = None) -> FitListing:
    """One fit (default: the latest accepted fit of the default model) with its staleness."""
    from phasewatch.registry.fits import get_fit, read_fit
    from phasewatch.registry.frontier import staleness

    with transaction(engine) as session:
        row = get_fit(session, fit_id)
        return FitListing(read_fit(row), staleness(session, row))


def predict(engine: Engine, lab: str, x_score: float, fit_id: int | None = None) -> Prediction:
    """The 95 % predictive interval of y for a hypothetical release (no refit)."""
    from phasewatch.registry.fits import predict as predict_from_fit

    with transaction(engine) as session:
        return predict_from_fit(session, lab, x_score, fit_id)


@dataclass(frozen=True)
class HField:
    """Every release's h-field against one fit, in-fit and out-of-fit."""

    fit_id: int
    rows: list[HFieldRow]


def hfield(
    engine: Engine,
    clock: Clock,
    *,
    lab: str | None = None,
    panel: str | None = None,
    fit_id: int | None = None,
) -> HField:
    """The h-field of the fit's models and of every release with both scores as of today."""
    from phasewatch.registry.hfield import hfield_rows

    with transaction(engine) as session:
        used, rows = hfield_rows(session, lab=lab, panel=panel, fit_id=fit_id, as_of=clock.today())
    return HField(used, rows)


def compare_models(
    engine: Engine,
    panels: tuple[str, ...],
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    seed: int = 1,
    stage: Callable[[str], None] | None = None,
) -> FitComparison:
    """PSIS-LOO comparison of the coupling models on the panels' data (fits what is not stored)."""
    from phasewatch.registry.comparison import compare_fits

    return compare_fits(engine, panels, x, y, SamplerSettings(seed=seed), stage=stage)


def coupling_matrix(engine: Engine, clock: Clock, min_models: int = 10) -> BenchmarkMatrix:
    """The coupling matrix of the frontier benchmarks as of today."""
    from phasewatch.registry.comparison import benchmark_matrix

    with transaction(engine) as session:
        return benchmark_matrix(session, as_of=clock.today(), min_models=min_models)
