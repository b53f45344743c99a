"""Use cases on releases: log one, correct one, check one against the latest fit, list them,
and add one score to a registered release.

Logging a release keeps SQLite's write lock short (docs/architecture.md, "The path of one
release"): everything heavy (validation, the identity checks, grading the predictions,
the verdict, the staleness of the latest fit) is done in read transactions, each on one
consistent snapshot, which never block a writer; the writes are two short transactions:

1. the release itself (model, observations, steering job), with the write lock taken
   first and the identity checks run again under it, so racing writers of one release
   (or of two look-alike names) still end with one model;
   The verdict (computed before, from the request's scores and the stored draws) is
   stored in the same transaction;
2. only when a prediction's graded state differs from its stored one, the new gradings
   (sealed by ``grade_predictions(store=True)``, which grades again under the lock so
   that what it seals is what the database holds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from phasewatch.models.coupling import Posterior
from phasewatch.models.coupling import check_release as check_scores
from phasewatch.registry import releases as registry_releases
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.fits import Verdict, latest_accepted_fit, record_verdict, store_verdict
from phasewatch.registry.frontier import Staleness, staleness
from phasewatch.registry.predictions import GradeRow, Movement, grade_predictions, movements, require_intact
from phasewatch.registry.queries import ModelRow, list_models
from phasewatch.registry.releases import (
    Change,
    CheckedRelease,
    Correction,
    ReleaseRequest,
    ReleaseResult,
    ScoreInput,
    ScoreResult,
    add_release,
    add_score,
    validate_release,
)
from phasewatch.registry.schema import Prediction, PredictionGrading

RELEASE_LOCK_KEY = 0x70687277  # PostgreSQL advisory lock serialising release logging ("phrw")


@dataclass(frozen=True)
class Refit:
    """What a refit of the live panel stored."""

    id: int
    n_models: int
    converged: bool
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "n_models": self.n_models, "converged": self.converged, "problems": list(self.problems)}


@dataclass(frozen=True)
class LoggedRelease:
    """Everything logging a release produced: the release (with its steering job, if
    queued), its verdict, the predictions it moved, how stale the latest fit now is,
    and the refit, when one was asked for and needed."""

    release: ReleaseResult
    verdict: Verdict | None
    moved: tuple[Movement, ...]
    staleness: Staleness | None  # None: no accepted fit yet
    refit: Refit | None = None

    def as_dict(self) -> dict[str, Any]:
        stale = self.staleness
        return {
            **asdict(self.release),
            "verdict": self.verdict.as_dict() if self.verdict else None,
            "predictions_moved": [asdict(m) for m in self.moved],
            "latest_fit": None
            if stale is None
            else {
                "fit_id": stale.fit_id,
                "panels": stale.fit_panels,
                "releases_since": len(stale.unseen),
                "unseen": stale.unseen,
                "command": stale.command,
            },
            "refit": self.refit.as_dict() if self.refit else None,
        }


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction whose reads all see one snapshot, without taking a write lock.

    On SQLite a plain ``BEGIN`` (the driver otherwise reads statement by statement, each
    seeing whatever was last committed); on PostgreSQL ``REPEATABLE READ``.
    """
    with transaction(engine) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text("BEGIN"))
        elif dialect == "postgresql":
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        yield session


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction that holds the write lock from its first statement.

    On SQLite it begins with ``BEGIN IMMEDIATE`` (waiting up to the busy timeout for
    the lock), so what it reads is what it writes against; on PostgreSQL an advisory
    transaction lock serialises release logging the same way. Keep what runs inside short.
    """
    with transaction(engine) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))
        elif dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(RELEASE_LOCK_KEY)))
        yield session


def log_release(
    engine: Engine,
    clock: Clock,
    request: ReleaseRequest,
    *,
    refit: bool = False,
    while_refitting: Callable[[], AbstractContextManager[object]] | None = None,
) -> LoggedRelease:
    """Log a release and see where it sits (docs/architecture.md, "The path of one release").

    A refused release (bad input, unknown lab or benchmark, a registered or likely
    duplicate model) raises before anything is written. With ``refit``, the live panel
    is refitted when the latest fit is stale (or there is none), inside
    ``while_refitting()`` (a spinner, say).
    """
    today = clock.today()
    with read_transaction(engine) as session:  # refuse bad input and duplicates before any write
        checked = validate_release(session, request, today=today)
        require_intact(session)  # sealing gradings needs intact logs: refuse now, not after the release is in
        verdict = _verdict_of_request(session, checked)
        before = grade_predictions(session, today)
    with write_transaction(engine) as session:  # short: the identity checks again, the rows, the verdict
        release = add_release(session, request, today=today)
        if verdict is not None:
            store_verdict(session, release.model, verdict)
    with read_transaction(engine) as session:  # where it sits, on a snapshot that holds it
        latest = latest_accepted_fit(session)
        stale = staleness(session, latest) if latest is not None else None
        after = grade_predictions(session, today)
        to_seal = _unsealed(session, after, today)
    if to_seal:
        with write_transaction(engine) as session:  # only when a prediction's state changed
            after = grade_predictions(session, today, store=True)
    moved = tuple(movements(before, after))
    refitted = None
    if refit and (stale is None or stale.stale):
        with while_refitting() if while_refitting else nullcontext():
            refitted = refit_live_panel(engine)
    return LoggedRelease(release, verdict, moved, stale, refitted)


def _verdict_of_request(session: Session, checked: CheckedRelease) -> Verdict | None:
    """The verdict the release will get (:func:`registry.fits.verdict_of` once it is logged:
    its figures are the request's), computed before the write so that only storing it
    happens under the lock. ``None`` without an accepted fit or either of its scores."""
    fit = latest_accepted_fit(session)
    if fit is None:
        return None
    scores = {benchmark.key: value for benchmark, value, _, _ in checked.scores}
    if fit.x_benchmark not in scores or fit.y_benchmark not in scores:
        return None
    posterior = Posterior.from_bytes(fit.posterior)
    check = check_scores(
        posterior,
        " ".join(checked.request.name.split()),
        checked.lab.name,
        scores[fit.x_benchmark],
        scores[fit.y_benchmark],
        seed=fit.seed,
    )
    return Verdict(fit.id, fit.panels, fit.x_benchmark, fit.y_benchmark, check)


def _unsealed(session: Session, rows: list[GradeRow], today: dt.date) -> list[str]:
    """Keys of the graded predictions whose state or reason differs from the grading in
    force on ``today`` (the rule ``grade_predictions(store=True)`` seals by)."""
    stored: dict[tuple[str, int], tuple[str, str]] = {}
    query = (
        select(Prediction.key, Prediction.revision, PredictionGrading.state, PredictionGrading.reason)
        .join(Prediction, PredictionGrading.prediction_id == Prediction.id)
        .where(PredictionGrading.as_of <= today)
        .order_by(PredictionGrading.as_of, PredictionGrading.id)
    )
    for row in session.execute(query):
        stored[(row.key, row.revision)] = (row.state, row.reason)  # the last one in force wins
    return [r.key for r in rows if stored.get((r.key, r.revision)) != (r.state, r.reason)]


def refit_live_panel(engine: Engine) -> Refit:
    """Fit the live panel now with the default sampler settings (seconds to minutes; no
    transaction is open while it samples). The one place releases call the fitting code."""
    from phasewatch.services.fitting import FitRequest, backend, run_fit

    result = run_fit(engine, FitRequest(panels=("frontier",)), sampler=backend())
    return Refit(result.id, result.n_models, result.converged, tuple(result.problems))


def correct_release(engine: Engine, clock: Clock, model: str, correction: Correction) -> tuple[Change, ...]:
    """Correct a release in one transaction; every old value is kept in its history."""
    with transaction(engine) as session:
        return tuple(registry_releases.correct_release(session, model, correction, today=clock.today()))


def check_release(engine: Engine, model: str) -> Verdict | None:
    """A registered release's h-field and inside/outside verdict against the latest accepted
    fit, **stored** (once per release and fit); ``None`` without a fit or either score."""
    with transaction(engine) as session:
        return record_verdict(session, model)


def list_releases(
    engine: Engine,
    *,
    since: str | None = None,
    lab: str | None = None,
    open_weight: bool | None = None,
) -> tuple[ModelRow, ...]:
    """Frontier releases, newest first."""
    with transaction(engine) as session:
        rows = list_models(session, lab=lab, open_weight=open_weight, since=since, kind="frontier")
    return tuple(reversed(rows))


def add_one_score(
    engine: Engine, clock: Clock, model: str, score: ScoreInput, *, allow_small: bool = False
) -> ScoreResult:
    """Add one score with its own provenance to a registered release (one short write)."""
    with transaction(engine) as session:
        return add_score(session, model, score, today=clock.today(), allow_small=allow_small)
