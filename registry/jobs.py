"""Steering jobs: a leased work queue in the registry's own database.

A worker *claims* one job — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one
atomic ``UPDATE … RETURNING`` on SQLite — and holds a lease it renews by
heartbeat while the job runs. A job whose worker died is claimed again once its
lease has expired; after ``max_attempts`` claims it is failed with its last error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, NotFoundError
from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

log = logging.getLogger(__name__)

Runner = Callable[["ClaimedJob"], dict[str, Any]]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The default steering config, without importing torch (models.steering.run does);
# a test keeps it equal to SteeringConfig's defaults.
DEFAULT_CONFIG: dict[str, Any] = {
    "layer": None, "method": "auto", "strengths": [0.5, 1.0], "train_pairs": 128, "validation_pairs": 64,
    "test_pairs": 96, "random_directions": 19, "random_weight_baseline": True, "tqa_questions": 24,
    "mc_strength": 0.5, "neutral_texts": 16, "generation_prompts": 16, "max_new_tokens": 16, "batch_size": 16,
    "seed": 0,
}  # fmt: skip


def default_config() -> dict[str, Any]:
    return json.loads(json.dumps(DEFAULT_CONFIG))


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def enqueue(session: Session, hf_repo: str, revision: str | None = None, config: dict[str, Any] | None = None,
            model: Model | None = None) -> tuple[SteeringJob, bool]:  # fmt: skip
    """Queue one evaluation; the same repo, revision and config is one job (idempotent,
    by a unique constraint, so concurrent loggers cannot queue it twice)."""
    config = config if config is not None else default_config()
    key = (hf_repo, revision or "main", config_hash(config))
    existing = session.scalar(select(SteeringJob).where(SteeringJob.hf_repo == key[0], SteeringJob.revision == key[1],
                                                        SteeringJob.config_hash == key[2]))  # fmt: skip
    if existing is not None:
        return existing, False
    job = SteeringJob(hf_repo=key[0], revision=key[1], config=config, config_hash=key[2], status="queued",
                      attempts=0, max_attempts=3, model=model)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return session.scalar(select(SteeringJob).where(SteeringJob.hf_repo == key[0], SteeringJob.revision == key[1],
                                                        SteeringJob.config_hash == key[2])), False  # fmt: skip
    return job, True


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    hf_repo: str
    revision: str
    config: dict[str, Any]
    attempts: int


CLAIMABLE = "(status = 'queued' OR (status = 'running' AND lease_expires_at < :now)) AND attempts < max_attempts"
TIMES = (bindparam("now", type_=DateTime(timezone=True)), bindparam("expires", type_=DateTime(timezone=True)))


def _sql(statement: str):  # noqa: ANN202
    """Text SQL whose :now and :expires are bound as DateTime (the ORM's own format on SQLite)."""
    clause = text(statement)
    return clause.bindparams(*(p for p in TIMES if f":{p.key}" in statement))


def claim(engine: Engine, owner: str, lease_seconds: float) -> ClaimedJob | None:
    """Take the oldest claimable job (queued, or running with an expired lease), atomically."""
    stamp = now()
    values = {"now": stamp, "owner": owner, "expires": stamp + dt.timedelta(seconds=lease_seconds)}
    update = (
        "UPDATE steering_jobs SET status = 'running', lease_owner = :owner, lease_expires_at = :expires, "
        "heartbeat_at = :now, attempts = attempts + 1, started_at = :now WHERE id = {target} "
        "RETURNING id, hf_repo, revision, config, attempts"
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            row_id = conn.execute(
                _sql(f"SELECT id FROM steering_jobs WHERE {CLAIMABLE} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"),
                {"now": stamp},
            ).scalar()
            if row_id is None:
                return None
            row = conn.execute(_sql(update.format(target=":id")), {**values, "id": row_id}).one()
        else:  # SQLite: one statement under its write lock is atomic
            row = conn.execute(
                _sql(update.format(target=f"(SELECT id FROM steering_jobs WHERE {CLAIMABLE} ORDER BY id LIMIT 1)")), values
            ).one_or_none()
            if row is None:
                return None
    config = row.config if isinstance(row.config, dict) else json.loads(row.config)
    return ClaimedJob(row.id, row.hf_repo, row.revision, config, row.attempts)


def heartbeat(engine: Engine, job_id: int, owner: str, lease_seconds: float) -> bool:
    """Renew the lease; False when another worker has taken the job over."""
    stamp = now()
    with engine.begin() as conn:
        result = conn.execute(
            _sql("UPDATE steering_jobs SET lease_expires_at = :expires, heartbeat_at = :now "
                 "WHERE id = :id AND lease_owner = :owner AND status = 'running'"),
            {"expires": stamp + dt.timedelta(seconds=lease_seconds), "now": stamp, "id": job_id, "owner": owner},
        )  # fmt: skip
        return result.rowcount == 1


def finish(engine: Engine, job: ClaimedJob, owner: str, report: dict[str, Any]) -> bool:
    """Store the result and mark the job done, if this worker still holds it."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job.id, with_for_update=session.bind.dialect.name == "postgresql")
        if row is None or row.lease_owner != owner or row.status != "running":
            return False
        row.status, row.finished_at, row.lease_owner, row.error = "done", now(), None, None
        session.add(SteeringResult(job_id=row.id, model_id=row.model_id, worker=owner, report=report))
    return True


def fail(engine: Engine, job: ClaimedJob, owner: str, error: str) -> str:
    """Record the error; back to the queue while attempts remain, else failed. Returns the status."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job.id)
        if row is None or row.lease_owner != owner:
            return "lost"
        row.error = error[:4000]
        row.lease_owner = row.lease_expires_at = None
        row.status = "failed" if row.attempts >= row.max_attempts else "queued"
        row.finished_at = now() if row.status == "failed" else None
        return row.status


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: str
    attempts: int
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_one(engine: Engine, runner: Runner, *, owner: str | None = None, lease_seconds: float = 60.0) -> Outcome | None:
    """Claim one job, run it while a heartbeat thread keeps the lease, store the outcome."""
    owner = owner or worker_name()
    job = claim(engine, owner, lease_seconds)
    if job is None:
        return None
    stop = threading.Event()
    lost = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_seconds / 3):
            if not heartbeat(engine, job.id, owner, lease_seconds):
                lost.set()
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        report = runner(job)
    except Exception as exc:  # noqa: BLE001 (any failure of a job is recorded on the job, not raised)
        stop.set()
        thread.join()
        status = fail(engine, job, owner, f"{type(exc).__name__}: {exc}")
        log.warning("job %s failed: %s", job.id, exc)
        return Outcome(job.id, status, job.attempts, f"{type(exc).__name__}: {exc}")
    stop.set()
    thread.join()
    if lost.is_set() or not finish(engine, job, owner, report):
        return Outcome(job.id, "lost", job.attempts, "another worker took the job over (lease expired)")
    return Outcome(job.id, "done", job.attempts)


def steering_runner(device: str = "auto") -> Runner:
    """The real job: load the model offline and run the steering evaluation with the
    job's stored config (the report stores the config it ran with)."""

    def run(job: ClaimedJob) -> dict[str, Any]:
        from phasewatch.models.steering.loading import load_model
        from phasewatch.models.steering.run import SteeringConfig, evaluate_model, report_dict

        config = SteeringConfig.from_dict(job.config)
        loaded = load_model(job.hf_repo, device=device, revision=None if job.revision == "main" else job.revision)
        return json.loads(json.dumps(report_dict(evaluate_model(loaded, config)), default=str))

    return run


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


def _view(job: SteeringJob) -> JobView:
    return JobView(job.id, job.model.name if job.model else None, job.hf_repo, job.revision, job.status, job.attempts,
                   job.max_attempts, job.lease_owner, job.error, job.created_at.isoformat(timespec="seconds"),
                   job.finished_at.isoformat(timespec="seconds") if job.finished_at else None)  # fmt: skip


def list_jobs(session: Session, status: str | None = None) -> list[JobView]:
    query = select(SteeringJob).order_by(SteeringJob.id)
    if status:
        query = query.where(SteeringJob.status == status)
    return [_view(j) for j in session.scalars(query)]


def retry(session: Session, job_id: int) -> JobView:
    """Put a failed job back in the queue with a fresh set of attempts."""
    job = session.get(SteeringJob, job_id)
    if job is None:
        raise NotFoundError(f"no steering job #{job_id}", "see `phasewatch steer jobs list`")
    if job.status not in ("failed", "done"):
        raise ConflictError(f"job #{job_id} is {job.status}", "only failed or done jobs can be retried")
    if job.status == "done":
        session.execute(SteeringResult.__table__.delete().where(SteeringResult.job_id == job.id))
    job.status, job.attempts, job.error, job.lease_owner, job.lease_expires_at, job.finished_at = (
        "queued", 0, None, None, None, None)  # fmt: skip
    session.flush()
    return _view(job)


def results_for_model(session: Session, model_id: int) -> list[dict[str, Any]]:
    """Each steering job of a model with a summary of its result, for `models show`."""
    out = []
    for job in session.scalars(select(SteeringJob).where(SteeringJob.model_id == model_id).order_by(SteeringJob.id)):
        result = session.scalar(select(SteeringResult).where(SteeringResult.job_id == job.id))
        summary: dict[str, Any] = {"job": job.id, "hf_repo": job.hf_repo, "revision": job.revision, "status": job.status}
        if job.error:
            summary["error"] = job.error
        if result is not None:
            report = result.report
            best = max(report.get("sweep", []), key=lambda r: r["net"], default=None)
            summary.update({"layer": report.get("layer"), "probe_accuracy": report.get("held_out_probe_accuracy"),
                            "best_net": best, "mc_baseline": report.get("mc_baseline"),
                            "mc_steered": report.get("mc_steered")})  # fmt: skip
        out.append(summary)
    return out
