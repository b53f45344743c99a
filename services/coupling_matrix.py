"""The joint coupling matrix: fit it on the live frontier panel and store it (``fit-matrix``);
read the stored one back with its staleness (``fits matrix``, the report, the dashboard).

The model is :mod:`phasewatch.models.joint_matrix`; the data are
:func:`phasewatch.registry.comparison.matrix_panel` (the live panel as of today by the
injected clock, or as of the date a ``frontier@YYYY-MM-DD`` panel names). The panel is read in
one transaction, sampled outside any, and stored in another.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phasewatch.models.coupling import SamplerSettings
from phasewatch.models.joint_matrix import JOINT_SETTINGS, JointMatrix
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, UnconvergedFitError

if TYPE_CHECKING:
    from phasewatch.registry.comparison import MatrixPanel
    from phasewatch.registry.schema import CouplingMatrixFit

MIN_MODELS = 10  # `fits matrix` and `fit-matrix`'s default: benchmarks reported by at least this many models


@dataclass(frozen=True)
class MatrixStaleness:
    """What the live panel (as of ``live_as_of``) holds that the stored matrix did not fit."""

    live_as_of: dt.date
    new_models: list[str]  # models with a cell of the matrix's benchmarks the fit did not see at all
    changed_cells: int  # cells (model × benchmark) added, corrected or retracted since
    new_benchmarks: list[str]  # benchmarks that now reach the model threshold
    command: str

    @property
    def stale(self) -> bool:
        return bool(self.new_models or self.changed_cells or self.new_benchmarks)

    def sentence(self) -> str:
        if not self.stale:
            return f"current: the live panel as of {self.live_as_of} holds nothing the fit has not seen"
        parts = []
        if self.changed_cells:
            shown = ", ".join(self.new_models[:5]) + (
                f" and {len(self.new_models) - 5} more" if len(self.new_models) > 5 else ""
            )
            models = f" ({len(self.new_models)} new model{'s' if len(self.new_models) != 1 else ''}: {shown})"
            cells = f"{self.changed_cells} score{'s' if self.changed_cells != 1 else ''}"
            parts.append(f"{cells} added, corrected or retracted since" + (models if self.new_models else ""))
        if self.new_benchmarks:
            parts.append(f"now eligible: {', '.join(self.new_benchmarks)}")
        return f"stale as of {self.live_as_of}: {'; '.join(parts)}; run `{self.command}`"


@dataclass(frozen=True)
class StoredMatrix:
    """A stored joint matrix and its staleness against the live panel."""

    id: int
    panel: str
    as_of: dt.date
    min_models: int
    created_at: dt.datetime
    elapsed_s: float
    data_hash: str
    matrix: JointMatrix
    staleness: MatrixStaleness

    @property
    def converged(self) -> bool:
        return self.matrix.diagnostics.converged


@dataclass(frozen=True)
class MatrixFitAttempts:
    """The stored fit and, if the first missed the gate, its one retry (``final`` counts)."""

    first: StoredMatrix
    final: StoredMatrix
    retry_settings: SamplerSettings | None

    def unconverged_error(self) -> UnconvergedFitError | None:
        if self.final.converged:
            return None
        settings = self.final.matrix.settings
        return UnconvergedFitError(
            f"joint matrix #{self.final.id} did not pass the convergence gate "
            f"({'; '.join(self.final.matrix.diagnostics.problems)}); it is stored and shown as NOT converged",
            f"refit with more draws, e.g. `phasewatch fit-matrix --draws {settings.draws * 2} "
            f"--tune {settings.tune * 2}`",
        )


def _as_of(panel: str, clock: Clock) -> dt.date:
    from phasewatch.registry.frontier import is_live, live_as_of

    if not is_live(panel):
        raise InvalidInputError(
            f"the joint matrix is fitted on the live panel, not {panel!r}",
            "use --panel frontier or frontier@YYYY-MM-DD",
        )
    return live_as_of(panel) or clock.today()


def _command(panel: str, min_models: int) -> str:
    return (
        "phasewatch fit-matrix"
        + (f" --panel {panel}" if panel != "frontier" else "")
        + (f" --min-models {min_models}" if min_models != MIN_MODELS else "")
    )


def fit_matrix(
    engine: Engine,
    clock: Clock,
    *,
    panel: str = "frontier",
    min_models: int = MIN_MODELS,
    settings: SamplerSettings = JOINT_SETTINGS,
    retry: bool = True,
    on_retry: Callable[[StoredMatrix, SamplerSettings], None] | None = None,
) -> MatrixFitAttempts:
    """Fit the joint matrix on ``panel`` (``frontier``: as of today) and store it; if it misses
    the gate (and ``retry``), refit once with stronger settings and store that too."""
    from phasewatch.models.joint_matrix import JointMatrixSampler
    from phasewatch.registry.comparison import matrix_panel
    from phasewatch.services.fitting import stronger

    as_of = _as_of(panel, clock)
    with transaction(engine) as session:
        data_panel = matrix_panel(session, as_of, min_models)
    if len(data_panel.benchmarks) < 2:
        raise InvalidInputError(
            f"only {len(data_panel.benchmarks)} benchmark(s) of the live panel as of {as_of} have at least "
            f"{min_models} models",
            "lower --min-models or log more scores",
        )
    sampler = JointMatrixSampler(data_panel.matrix_data())  # compiled on first use, reused by the retry

    def once(run_settings: SamplerSettings) -> StoredMatrix:
        started = time.perf_counter()
        matrix = sampler.fit(run_settings, clock=time.perf_counter)
        elapsed = time.perf_counter() - started
        with transaction(engine) as session:
            row = _store(session, panel, as_of, data_panel, matrix, elapsed, clock.now())
            return _read(session, row, clock.today())

    first = once(settings)
    if first.converged or not retry:
        return MatrixFitAttempts(first, first, None)
    stronger_settings = stronger(settings)
    if on_retry:
        on_retry(first, stronger_settings)
    return MatrixFitAttempts(first, once(stronger_settings), stronger_settings)


def _store(
    session: Session,
    panel: str,
    as_of: dt.date,
    data_panel: MatrixPanel,
    matrix: JointMatrix,
    elapsed: float,
    now: dt.datetime,
) -> CouplingMatrixFit:
    from phasewatch.registry.fits import library_versions
    from phasewatch.registry.schema import CouplingMatrixFit

    summary = matrix.to_dict()
    row = CouplingMatrixFit(
        panel=panel,
        as_of=as_of,
        min_models=data_panel.min_models,
        benchmarks=",".join(matrix.benchmarks),
        n_models=matrix.n_models,
        data_hash=data_panel.data_hash(),
        seed=matrix.settings.seed,
        converged=matrix.diagnostics.converged,
        diagnostics=summary["diagnostics"],
        summary=summary,
        observations=[[m, k, o] for (m, k), o in sorted(data_panel.observations.items())],
        versions=library_versions(),
        elapsed_s=elapsed,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _staleness(session: Session, row: CouplingMatrixFit, today: dt.date) -> MatrixStaleness:
    from phasewatch.registry.comparison import matrix_panel
    from phasewatch.registry.frontier import live_as_of

    pinned = live_as_of(row.panel)
    live_day = pinned or today
    live = matrix_panel(session, live_day, row.min_models)
    keys = row.benchmarks.split(",")
    seen = {(m, k): o for m, k, o in row.observations}
    now = {(m, k): o for (m, k), o in live.observations.items() if k in keys}
    changed = {mk for mk in set(seen) | set(now) if seen.get(mk) != now.get(mk)}
    seen_models = {m for m, _ in seen}
    new_models = sorted({m for m, _ in now} - seen_models)
    return MatrixStaleness(
        live_day,
        new_models,
        len(changed),
        [k for k in live.benchmarks if k not in keys],
        _command(row.panel, row.min_models),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as aware UTC (SQLite returns naive UTC, PostgreSQL the session's zone)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _read(session: Session, row: CouplingMatrixFit, today: dt.date) -> StoredMatrix:
    return StoredMatrix(
        id=row.id,
        panel=row.panel,
        as_of=row.as_of,
        min_models=row.min_models,
        created_at=_utc(row.created_at),
        elapsed_s=row.elapsed_s,
        data_hash=row.data_hash,
        matrix=JointMatrix.from_dict(row.summary),
        staleness=_staleness(session, row, today),
    )


def latest_stored(session: Session, today: dt.date, matrix_id: int | None = None) -> StoredMatrix | None:
    """The newest stored joint matrix (or ``matrix_id``), None when none is stored; its
    staleness is against the live panel as of ``today``."""
    from phasewatch.registry.errors import NotFoundError
    from phasewatch.registry.schema import CouplingMatrixFit

    if matrix_id is not None:
        row = session.get(CouplingMatrixFit, matrix_id)
        if row is None:
            raise NotFoundError(
                f"no joint matrix #{matrix_id}", "list them with `phasewatch fits matrix --format json`"
            )
    else:
        row = session.scalar(select(CouplingMatrixFit).order_by(CouplingMatrixFit.id.desc()).limit(1))
    return None if row is None else _read(session, row, today)


def stored_matrix(engine: Engine, clock: Clock, matrix_id: int | None = None) -> StoredMatrix | None:
    """:func:`latest_stored` in its own transaction."""
    with transaction(engine) as session:
        return latest_stored(session, clock.today(), matrix_id)
