"""Steering jobs on PostgreSQL: the Session-level side of Procrastinate's tables.

Procrastinate's schema lives in its own PostgreSQL schema (``procrastinate``,
installed by migration 0008), beside the registry's tables. Each steering job is
one row in ``steering_jobs`` (the record, and where results go) and one
Procrastinate job (the execution). This module defers and inspects engine jobs in
the caller's transaction; the worker that runs them (the Procrastinate app, its
retry strategy, stalled-job recovery) is :mod:`phasewatch.services.engine_queue`.
Together they give:

- **de-duplicated enqueue**: the ``steering_jobs`` unique key (repo, revision,
  config hash), and a Procrastinate ``queueing_lock`` on the same key, so at most
  one execution of a repo revision waits in the queue;
- **retries with backoff** through a retry strategy that re-queues transient errors
  after 60 s, 240 s, ... and never retries permanent ones (missing repo, broken config);
- **stalled-job recovery**: workers heartbeat into ``procrastinate_workers``; the
  jobs of a worker silent for ``stalled_seconds`` are re-queued, or failed when that
  was their final attempt, by every worker at start and by a periodic task;
- **graceful shutdown**: SIGTERM/Ctrl-C stops the job's process and re-queues it
  without using an attempt;
- **per-job timeouts**: the job's process is stopped at ``timeout_seconds``.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from phasewatch.registry.schema import SteeringJob

ENGINE_SCHEMA = "procrastinate"
QUEUE = "steering"
MAINTENANCE_QUEUE = "maintenance"
TASK = "steering.evaluate"
RECOVER_TASK = "steering.recover"
WATCH_TASK = "hub.watch"
STALLED_SECONDS = 30.0


def queueing_lock(hf_repo: str, revision: str, config_hash: str) -> str:
    """The engine's lock for one (repo, revision, config): at most one waiting execution."""
    return f"steering:{hf_repo}@{revision}#{config_hash}"


def _search_path(session: Session) -> None:
    session.execute(text(f"SET LOCAL search_path TO {ENGINE_SCHEMA}, public"))


def defer(session: Session, job: SteeringJob, *, replace: bool = False) -> int:
    """Defer the engine's job for ``job`` in the caller's transaction; one waiting job per
    queueing lock (an existing one is reused). ``replace`` first fails a stalled running one."""
    _search_path(session)
    lock = queueing_lock(job.hf_repo, job.revision, job.config_hash)
    if replace and job.engine_job_id is not None:
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :id AND status = 'doing'"),
            {"id": job.engine_job_id},
        )
    waiting = session.execute(
        text("SELECT id FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo'"), {"lock": lock}
    ).scalar()
    if waiting is not None:
        return int(waiting)
    return int(
        session.execute(
            text(
                "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, :lock, CAST(:args AS jsonb), "
                "NULL)::procrastinate_job_to_defer_v1]))"
            ),
            {"queue": QUEUE, "task": TASK, "lock": lock, "args": json.dumps({"job_id": job.id})},
        ).scalar_one()
    )


def engine_job_is_alive(session: Session, job: SteeringJob, stalled_seconds: float = STALLED_SECONDS) -> bool:
    """Whether the engine is running ``job`` on a worker that heartbeats."""
    if job.engine_job_id is None:
        return False
    _search_path(session)
    row = session.execute(
        text(
            "SELECT j.status, w.last_heartbeat > now() - make_interval(secs => :secs) AS beating "
            "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.id = :id"
        ),
        {"id": job.engine_job_id, "secs": stalled_seconds},
    ).one_or_none()
    return row is not None and row.status == "doing" and bool(row.beating)
