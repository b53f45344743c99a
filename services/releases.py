"""Use cases on releases: log one, correct one, check one against the latest fit, list them,
and add one score to a registered release.

Logging a release keeps SQLite's write lock short (docs/architecture.md, "The path of one
release"): everything heavy (validation, the identity checks, verifying the prediction
logs, grading the predictions, the verdict, the staleness of the latest fit) is done in
read transactions, each on one consistent snapshot, which never block a writer; the
writes are two short transactions:

1. the release itself (model, observations, steering job), with the write lock taken
   first and the identity checks run again under it, so racing writers of one release
   (or of two look-alike names) still end with one model. The verdict (computed before,
   from the request's scores and the stored draws) is stored in the same transaction.
   If the registry's change count (:mod:`phasewatch.registry.changes`) is still the one
   the reads saw, no other writer came between: the grading input after the release is
   the one before plus this model's own rows (read under the lock, milliseconds), the
   grades before of the predictions whose criteria do not read the release carry over
   (only the others are evaluated again), and logs known intact before stay known intact;
2. only when a prediction's graded state differs from its stored one, the new gradings,
   sealed by ``grade_predictions(store=True)``, which reuses that input when the change
   count shows nothing moved since, and grades again under the lock otherwise, so that
   what it seals is what the database holds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phasewatch.models.coupling import Posterior
from phasewatch.models.coupling import check_release as check_scores
from phasewatch.registry import releases as registry_releases
from phasewatch.registry.changes import change_state, vouch
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import read_transaction, transaction, write_transaction
from phasewatch.registry.fits import Verdict, latest_accepted_fit, record_verdict, store_verdict
from phasewatch.registry.frontier import Staleness, staleness
from phasewatch.registry.predictions import (
    Movement,
    grade_predictions,
    grades_of,
    grading_input,
    intact_since,
    keep,
    movements,
    to_keep,
    unsealed,
    with_models,
)
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
from phasewatch.registry.schema import Model


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
        intact_at = intact_since(session)  # sealing needs intact logs: refuse now, not after the release is in
        verdict = _verdict_of_request(session, checked)
        before_input = grading_input(session, today, need_data=True)  # the base of the input after
        before = grade_predictions(session, today, given=before_input)
    with write_transaction(engine) as session:  # short: the identity checks again, the rows, the verdict
        state = change_state(session, lock=True)
        release = add_release(session, request, today=today)
        if verdict is not None:
            store_verdict(session, release.model, verdict)
        session.flush()
        after_input = None
        if state is not None and state.data_count == before_input.data_count:  # no other writer since the reads
            model_id = session.scalars(select(Model.id).where(Model.name == release.model)).one()
            after_input = with_models(session, before_input, [model_id], grades_of(before))  # its own rows only
        if state is not None and intact_at == state.count:
            vouch(session, state)  # intact then, and a release only appends
    with read_transaction(engine) as session:  # where it sits, on a snapshot that holds it
        latest = latest_accepted_fit(session, posterior=False)
        stale = staleness(session, latest) if latest is not None else None
        if after_input is None:  # another writer came between: read the registry again
            after_input = grading_input(session, today, need_data=True)
        after = grade_predictions(session, today, given=after_input)
        to_seal = unsealed(session, after, today)
    if to_seal:
        with write_transaction(engine) as session:  # only when a prediction's state changed (keeps the input too)
            after = grade_predictions(session, today, store=True, given=after_input.graded(after))
    else:  # keep what the next grading would read and evaluate again
        payload, grades = to_keep(after_input, grades_of(after))  # encoded before the lock
        if payload is not None or grades is not None:
            with write_transaction(engine) as session:
                keep(session, after_input, payload, grades)
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
