"""Steering jobs: the records in ``steering_jobs`` and ``steering_results``, and every
change to them, as Session-level operations that run in the caller's transaction.

The table is the record of every job — repo, revision, config, status, attempts, last
error — and ``steering_results`` holds its report, next to the model. On SQLite the
table is also the queue: :func:`claim_next` takes a job with one atomic
``UPDATE … RETURNING``, and a lease renewed by :func:`renew_lease` tells a live worker
from a dead one. On PostgreSQL Procrastinate runs the jobs
(:mod:`phasewatch.registry.queue` holds its Session-level side) and this table mirrors
each job's state. Running jobs — child processes, worker loops, the engine's worker,
device checks — is a use case: :mod:`phasewatch.services.worker`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, TextClause, bindparam, delete, select, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phasewatch.registry.clock import Clock
from phasewatch.registry.enums import JobStatus
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

MAX_ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 3600
BACKOFF_BASE_SECONDS = 60.0  # a failed attempt waits 60 s, then 240 s, ... (x4), at most an hour
BACKOFF_CAP_SECONDS = 3600.0


def backoff_seconds(attempts: int) -> float:
    """Wait before attempt ``attempts + 1``: exponential, capped."""
    return min(BACKOFF_BASE_SECONDS * 4 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


# The default steering config, without importing torch (models.steering.run does);
# a test keeps it equal to SteeringConfig's defaults.
DEFAULT_CONFIG: dict[str, Any] = {
    "layer": None,
    "method": "auto",
    "strengths": [0.5, 1.0],
    "train_pairs": 128,
    "validation_pairs": 64,
    "test_pairs": 96,
    "random_directions": 19,
    "random_weight_baseline": True,
    "tqa_questions": 24,
    "mc_strength": 0.5,
    "neutral_texts": 16,
    "generation_prompts": 16,
    "max_new_tokens": 16,
    "batch_size": 16,
    "seed": 0,
}


def default_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(DEFAULT_CONFIG))
    return config


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _find(session: Session, key: tuple[str, str, str]) -> SteeringJob | None:
    return session.scalar(
        select(SteeringJob).where(
            SteeringJob.hf_repo == key[0], SteeringJob.revision == key[1], SteeringJob.config_hash == key[2]
        )
    )


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def enqueue(
    session: Session,
    hf_repo: str,
    revision: str | None = None,
    config: dict[str, Any] | None = None,
    model: Model | None = None,
    *,
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[SteeringJob, bool]:
    """Queue one evaluation; the same repo, revision and config is one job (idempotent,
    by a unique constraint, so concurrent loggers cannot queue it twice). On PostgreSQL
    the engine's job is deferred in the same transaction."""
    config = config if config is not None else default_config()
    key = (hf_repo, revision or "main", config_hash(config))
    existing = _find(session, key)
    if existing is not None:
        return existing, False
    job = SteeringJob(
        hf_repo=key[0],
        revision=key[1],
        config=config,
        config_hash=key[2],
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=MAX_ATTEMPTS,
        timeout_seconds=timeout_seconds,
        model=model,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
            if _postgres(session):
                from phasewatch.registry.queue import defer

                job.engine_job_id = defer(session, job)
    except IntegrityError:
        found = _find(session, key)
        if found is None:  # the conflicting row was not ours to see: re-raise what the database said
            raise
        return found, False
    return job, True


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a job it holds."""

    id: int
    hf_repo: str
    revision: str
    config: dict[str, Any]
    attempts: int
    max_attempts: int = MAX_ATTEMPTS
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


# --- the table queue's state changes (SQLite; the claim also works on PostgreSQL, for bench/) -----

CLAIMABLE = (
    "(status = 'queued' AND (not_before IS NULL OR not_before <= :now)) "
    "OR (status = 'running' AND COALESCE(lease_expires_at < :now, TRUE) AND attempts < max_attempts)"
)
FINAL_ATTEMPT_DIED = "the worker stopped renewing its lease on the final attempt (killed or lost)"
TIMES = (bindparam("now", type_=DateTime(timezone=True)), bindparam("expires", type_=DateTime(timezone=True)))
RETURNED = "RETURNING id, hf_repo, revision, config, attempts, max_attempts, timeout_seconds"


def _sql(statement: str) -> TextClause:
    """Text SQL whose :now and :expires are bound as DateTime (the ORM's own format on SQLite)."""
    return text(statement).bindparams(*(p for p in TIMES if f":{p.key}" in statement))


def _claimed(row: Row[Any]) -> ClaimedJob:
    config = row.config if isinstance(row.config, dict) else json.loads(row.config)
    return ClaimedJob(row.id, row.hf_repo, row.revision, config, row.attempts, row.max_attempts, row.timeout_seconds)


def fail_dead_final_attempts(session: Session, now: dt.datetime) -> int:
    """Fail running jobs whose lease expired on their final attempt (nobody may claim them again)."""
    result = session.execute(
        _sql(
            "UPDATE steering_jobs SET status = 'failed', error = :error, lease_owner = NULL, "
            "lease_expires_at = NULL, finished_at = :now "
            "WHERE status = 'running' AND COALESCE(lease_expires_at < :now, TRUE) AND attempts >= max_attempts"
        ),
        {"now": now, "error": FINAL_ATTEMPT_DIED},
    )
    return int(getattr(result, "rowcount", 0))


def claim_next(session: Session, owner: str, *, now: dt.datetime, lease_seconds: float) -> ClaimedJob | None:
    """Take the oldest claimable job (queued and past its backoff, or running with an expired
    lease) for ``owner``, one more attempt, its lease ending ``lease_seconds`` after ``now``."""
    values = {"now": now, "owner": owner, "expires": now + dt.timedelta(seconds=lease_seconds)}
    update = (
        "UPDATE steering_jobs SET status = 'running', lease_owner = :owner, lease_expires_at = :expires, "
        "heartbeat_at = :now, attempts = attempts + 1, started_at = :now, not_before = NULL "
        "WHERE id = {target} " + RETURNED
    )
    if _postgres(session):
        row_id = session.execute(
            _sql(f"SELECT id FROM steering_jobs WHERE {CLAIMABLE} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"),
            {"now": now},
        ).scalar()
        if row_id is None:
            return None
        return _claimed(session.execute(_sql(update.format(target=":id")), {**values, "id": row_id}).one())
    # SQLite: one statement under its write lock is atomic
    row = session.execute(
        _sql(update.format(target=f"(SELECT id FROM steering_jobs WHERE {CLAIMABLE} ORDER BY id LIMIT 1)")), values
    ).one_or_none()
    return _claimed(row) if row is not None else None


def renew_lease(session: Session, job_id: int, owner: str, *, now: dt.datetime, lease_seconds: float) -> bool:
    """Extend ``owner``'s lease; False when another worker has taken the job over."""
    result = session.execute(
        _sql(
            "UPDATE steering_jobs SET lease_expires_at = :expires, heartbeat_at = :now "
            "WHERE id = :id AND lease_owner = :owner AND status = 'running'"
        ),
        {"expires": now + dt.timedelta(seconds=lease_seconds), "now": now, "id": job_id, "owner": owner},
    )
    return int(getattr(result, "rowcount", 0)) == 1


def _held(session: Session, job_id: int, owner: str) -> SteeringJob | None:
    """The job's row, locked on PostgreSQL, if ``owner`` still runs it."""
    row = session.get(SteeringJob, job_id, with_for_update=_postgres(session))
    if row is None or row.lease_owner != owner or row.status != JobStatus.RUNNING:
        return None
    return row


def record_result(session: Session, job_id: int, owner: str, report: dict[str, Any], *, now: dt.datetime) -> bool:
    """Store the report and mark the job done, if ``owner`` still holds it."""
    row = _held(session, job_id, owner)
    if row is None:
        return False
    row.status, row.finished_at, row.error = JobStatus.DONE, now, None
    row.lease_owner = row.lease_expires_at = None
    session.add(SteeringResult(job_id=row.id, model_id=row.model_id, worker=owner, report=report))
    return True


def record_failure(
    session: Session, job_id: int, owner: str, error: str, *, permanent: bool = False, now: dt.datetime
) -> str:
    """Record the error: back to the queue after a backoff while attempts remain and the error
    may pass, else failed. Returns the new status (``lost`` if ``owner`` no longer holds it)."""
    row = _held(session, job_id, owner)
    if row is None:
        return "lost"
    row.error = (("not retried: " if permanent else "") + error)[:4000]
    row.lease_owner = row.lease_expires_at = None
    failed = permanent or row.attempts >= row.max_attempts
    row.status = JobStatus.FAILED if failed else JobStatus.QUEUED
    row.finished_at = now if failed else None
    row.not_before = None if failed else now + dt.timedelta(seconds=backoff_seconds(row.attempts))
    return row.status


def give_back(session: Session, job_id: int, owner: str) -> bool:
    """Return a job unfinished (its worker is shutting down): queued again, the attempt not counted."""
    row = _held(session, job_id, owner)
    if row is None:
        return False
    row.status, row.lease_owner, row.lease_expires_at = JobStatus.QUEUED, None, None
    row.attempts = max(row.attempts - 1, 0)
    return True


# --- the engine's side (PostgreSQL): the table mirrors what Procrastinate runs -------------------


def start_engine_job(session: Session, job_id: int, owner: str, *, now: dt.datetime) -> ClaimedJob | None:
    """Mark a queued job running for ``owner`` (one more attempt); None if it is not queued
    (done already: a repo revision is never evaluated twice)."""
    row = session.get(SteeringJob, job_id, with_for_update=True)
    if row is None or row.status != JobStatus.QUEUED:
        return None
    row.status, row.lease_owner, row.attempts, row.started_at = JobStatus.RUNNING, owner, row.attempts + 1, now
    row.heartbeat_at, row.not_before, row.lease_expires_at = now, None, None
    return ClaimedJob(
        row.id, row.hf_repo, row.revision, dict(row.config), row.attempts, row.max_attempts, row.timeout_seconds
    )


def mark_stalled(session: Session, job_id: int, *, now: dt.datetime) -> str | None:
    """A running job whose worker stopped heartbeating: queued again, or failed on its final attempt."""
    row = session.get(SteeringJob, job_id, with_for_update=True)
    if row is None or row.status != JobStatus.RUNNING:
        return None
    row.lease_owner = None
    if row.attempts >= row.max_attempts:
        row.status, row.error, row.finished_at = JobStatus.FAILED, FINAL_ATTEMPT_DIED, now
    else:
        row.status = JobStatus.QUEUED
        row.error = f"attempt {row.attempts}: its worker stopped heartbeating (killed or lost)"
    return row.status


# --- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    id: int
    model: str | None
    hf_repo: str
    revision: str
    status: str
    attempts: int
    max_attempts: int
    lease_owner: str | None
    error: str | None
    created_at: str
    finished_at: str | None
    not_before: str | None = None


def _iso(stamp: dt.datetime | None) -> str | None:
    return stamp.isoformat(timespec="seconds") if stamp else None


def _view(job: SteeringJob) -> JobView:
    return JobView(
        job.id,
        job.model.name if job.model else None,
        job.hf_repo,
        job.revision,
        job.status,
        job.attempts,
        job.max_attempts,
        job.lease_owner,
        job.error,
        _iso(job.created_at) or "",
        _iso(job.finished_at),
        _iso(job.not_before) if job.status == "queued" else None,
    )


def job_status(value: str) -> JobStatus:
    """``value`` as a job status, or one line saying which exist."""
    try:
        return JobStatus(value.lower())
    except ValueError:
        raise InvalidInputError(
            f"unknown job status {value!r}", f"use one of {', '.join(s.value for s in JobStatus)}"
        ) from None


def list_jobs(session: Session, status: JobStatus | str | None = None) -> list[JobView]:
    """Every steering job (or those with ``status``), oldest first."""
    query = select(SteeringJob).order_by(SteeringJob.id)
    if status:
        query = query.where(SteeringJob.status == job_status(status).value)
    return [_view(j) for j in session.scalars(query)]


def _as_utc(stamp: dt.datetime | None) -> dt.datetime | None:
    return stamp.replace(tzinfo=dt.UTC) if stamp is not None and stamp.tzinfo is None else stamp


def retry(session: Session, job_id: int, *, clock: Clock) -> JobView:
    """Put a failed, done, or dead running job (its worker stopped renewing the lease or
    heartbeating) back in the queue with a fresh set of attempts."""
    job = session.get(SteeringJob, job_id)
    if job is None:
        raise NotFoundError(f"no steering job #{job_id}", "see `phasewatch steer jobs list`")
    postgres = _postgres(session)
    if job.status == JobStatus.RUNNING:
        if postgres:
            from phasewatch.registry.queue import engine_job_is_alive

            alive = engine_job_is_alive(session, job)
        else:
            expires = _as_utc(job.lease_expires_at)
            alive = expires is not None and expires >= clock.now()
        if alive:
            raise ConflictError(
                f"job #{job_id} is running and its worker is alive",
                "wait for it, or stop that worker (its job is then released)",
            )
    elif job.status not in (JobStatus.FAILED, JobStatus.DONE):
        raise ConflictError(f"job #{job_id} is {job.status}", "only failed, done or dead running jobs can be retried")
    if job.status == JobStatus.DONE:
        session.execute(delete(SteeringResult).where(SteeringResult.job_id == job.id))
    job.status, job.attempts, job.error = JobStatus.QUEUED, 0, None
    job.lease_owner = job.lease_expires_at = job.finished_at = job.not_before = None
    session.flush()
    if postgres:
        from phasewatch.registry.queue import defer

        job.engine_job_id = defer(session, job, replace=True)
        session.flush()
    return _view(job)


def job_with_result(session: Session, job_id: int) -> tuple[JobView, dict[str, Any] | None]:
    """One job and the summary of its stored result (None until it is done)."""
    job = session.get(SteeringJob, job_id)
    if job is None:
        raise NotFoundError(f"no steering job #{job_id}", "see `phasewatch steer jobs list`")
    result = session.scalar(select(SteeringResult).where(SteeringResult.job_id == job.id))
    return _view(job), summarize_report(result.report) if result is not None else None


def results_for_model(session: Session, model_id: int) -> list[dict[str, Any]]:
    """Each steering job of a model with a summary of its result, for `models show`."""
    out = []
    for job in session.scalars(select(SteeringJob).where(SteeringJob.model_id == model_id).order_by(SteeringJob.id)):
        result = session.scalar(select(SteeringResult).where(SteeringResult.job_id == job.id))
        summary: dict[str, Any] = {
            "job": job.id,
            "hf_repo": job.hf_repo,
            "revision": job.revision,
            "status": job.status,
        }
        if job.error:
            summary["error"] = job.error
        if result is not None:
            summary.update(summarize_report(result.report))
        out.append(summary)
    return out


def summarize_report(report: dict[str, Any]) -> dict[str, Any]:
    """A stored steering report, flattened for tables and the dashboard: the chosen layer and
    method, the probe's test accuracy beside its baselines, each strength's rates with their
    intervals against the random-direction control, TruthfulQA, and the verdict in words."""

    def rate(value: dict[str, Any] | None) -> dict[str, Any] | None:
        if not value or value.get("value") is None:
            return None
        return {k: value.get(k) for k in ("value", "low", "high", "k", "n")}

    def estimate(value: dict[str, Any] | None) -> dict[str, Any] | None:
        return {k: value.get(k) for k in ("value", "low", "high", "n")} if value else None

    def spread(value: dict[str, Any] | None) -> dict[str, Any] | None:
        return {k: value.get(k) for k in ("low", "median", "high")} if value else None

    sweep = [
        {
            "strength": row["strength"],
            "corrected": rate(row.get("corrected")),
            "broken": rate(row.get("broken")),
            "net": estimate(row.get("net_interval")),
            "control_net": spread(row.get("control_net")),
            "p_net": row.get("p_net"),
            "mcnemar_p": row.get("mcnemar_p"),
            "kl": estimate(row.get("kl")),
            "control_kl": spread(row.get("control_kl")),
            "beats_control": bool(row.get("beats_control")),
        }
        for row in report.get("sweep", [])
    ]
    mc = {}
    for run in ("mc_baseline", "mc_steered"):
        if report.get(run):
            mc[run] = {
                "questions": report[run].get("questions"),
                "mc1": rate(report[run].get("mc1")),
                "mc2": estimate(report[run].get("mc2")),
            }
    return {
        "layer": report.get("layer"),
        "layers": report.get("layers"),
        "method": report.get("method"),
        "probe_accuracy": rate(report.get("test_accuracy")),
        "shuffled_label_baseline": rate(report.get("shuffled_label_baseline")),
        "random_weight_baseline": rate(report.get("random_weight_baseline")),
        "misaligned_at_baseline": rate(report.get("misaligned_at_baseline")),
        "sweep": sweep,
        **mc,
        "verdict": report.get("verdict"),
    }
