"""Steering jobs: one job API over two queues.

The registry's ``steering_jobs`` table is the record of every job — repo, revision,
config, status, attempts, last error — and ``steering_results`` holds its report,
next to the model. What runs the jobs depends on the database:

- **SQLite** (the embedded default, one machine): the table itself is the queue. A
  worker *claims* a job with one atomic ``UPDATE … RETURNING`` and holds a lease it
  renews by heartbeat; a job whose worker died is claimed again once its lease has
  expired, and one whose *final* attempt died is failed by the next claim.
- **PostgreSQL** (shared, workers on many machines): Procrastinate runs the jobs
  (:mod:`phasewatch.registry.queue`); this table mirrors each job's state.

Either way a job runs in a child process (:func:`execute`), so a per-job timeout
and a shutdown can stop it, and errors that retrying cannot fix are not retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import threading
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, NotFoundError
from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

log = logging.getLogger(__name__)

Runner = Callable[["ClaimedJob"], dict[str, Any]]

MAX_ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 3600
BACKOFF_BASE_SECONDS = 60.0  # a failed attempt waits 60 s, then 240 s, ... (x4), at most an hour
BACKOFF_CAP_SECONDS = 3600.0


class PermanentJobError(Exception):
    """A job error retrying cannot fix (the repo is missing, its config.json is broken)."""


class JobTimeout(Exception):
    """The job ran past its timeout and was stopped."""


class JobInterrupted(Exception):
    """The worker is shutting down; the job goes back to the queue."""


class RunnerFailed(Exception):
    """The runner raised in its child process (``permanent`` when retrying cannot help)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


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
    return json.loads(json.dumps(DEFAULT_CONFIG))


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _find(session: Session, key: tuple[str, str, str]) -> SteeringJob | None:
    return session.scalar(
        select(SteeringJob).where(
            SteeringJob.hf_repo == key[0], SteeringJob.revision == key[1], SteeringJob.config_hash == key[2]
        )
    )


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
        status="queued",
        attempts=0,
        max_attempts=MAX_ATTEMPTS,
        timeout_seconds=timeout_seconds,
        model=model,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
            if session.get_bind().dialect.name == "postgresql":
                from phasewatch.registry.queue import defer

                job.engine_job_id = defer(session, job)
    except IntegrityError:
        return _find(session, key), False
    return job, True


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    hf_repo: str
    revision: str
    config: dict[str, Any]
    attempts: int
    max_attempts: int = MAX_ATTEMPTS
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


# --- the table queue (SQLite; its claim also works on PostgreSQL, used by bench/ to compare) ------

CLAIMABLE = (
    "(status = 'queued' AND (not_before IS NULL OR not_before <= :now)) "
    "OR (status = 'running' AND COALESCE(lease_expires_at < :now, TRUE) AND attempts < max_attempts)"
)
FINAL_ATTEMPT_DIED = "the worker stopped renewing its lease on the final attempt (killed or lost)"
TIMES = (bindparam("now", type_=DateTime(timezone=True)), bindparam("expires", type_=DateTime(timezone=True)))
RETURNED = "RETURNING id, hf_repo, revision, config, attempts, max_attempts, timeout_seconds"


def _sql(statement: str):
    """Text SQL whose :now and :expires are bound as DateTime (the ORM's own format on SQLite)."""
    clause = text(statement)
    return clause.bindparams(*(p for p in TIMES if f":{p.key}" in statement))


def _claimed(row: Any) -> ClaimedJob:
    config = row.config if isinstance(row.config, dict) else json.loads(row.config)
    return ClaimedJob(row.id, row.hf_repo, row.revision, config, row.attempts, row.max_attempts, row.timeout_seconds)


def fail_dead_final_attempts(conn: Any, stamp: dt.datetime) -> int:
    """Fail running jobs whose lease expired on their final attempt (nobody may claim them again)."""
    result = conn.execute(
        _sql(
            "UPDATE steering_jobs SET status = 'failed', error = :error, lease_owner = NULL, "
            "lease_expires_at = NULL, finished_at = :now "
            "WHERE status = 'running' AND COALESCE(lease_expires_at < :now, TRUE) AND attempts >= max_attempts"
        ),
        {"now": stamp, "error": FINAL_ATTEMPT_DIED},
    )
    return result.rowcount


def claim(engine: Engine, owner: str, lease_seconds: float, *, clock: Clock) -> ClaimedJob | None:
    """Take the oldest claimable job (queued and past its backoff, or running with an expired lease)."""
    stamp = clock.now()
    values = {"now": stamp, "owner": owner, "expires": stamp + dt.timedelta(seconds=lease_seconds)}
    update = (
        "UPDATE steering_jobs SET status = 'running', lease_owner = :owner, lease_expires_at = :expires, "
        "heartbeat_at = :now, attempts = attempts + 1, started_at = :now, not_before = NULL "
        "WHERE id = {target} " + RETURNED
    )
    with engine.begin() as conn:
        fail_dead_final_attempts(conn, stamp)
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
                _sql(update.format(target=f"(SELECT id FROM steering_jobs WHERE {CLAIMABLE} ORDER BY id LIMIT 1)")),
                values,
            ).one_or_none()
            if row is None:
                return None
    return _claimed(row)


def heartbeat(engine: Engine, job_id: int, owner: str, lease_seconds: float, *, clock: Clock) -> bool:
    """Renew the lease; False when another worker has taken the job over."""
    stamp = clock.now()
    with engine.begin() as conn:
        result = conn.execute(
            _sql(
                "UPDATE steering_jobs SET lease_expires_at = :expires, heartbeat_at = :now "
                "WHERE id = :id AND lease_owner = :owner AND status = 'running'"
            ),
            {"expires": stamp + dt.timedelta(seconds=lease_seconds), "now": stamp, "id": job_id, "owner": owner},
        )
        return result.rowcount == 1


def finish(engine: Engine, job: ClaimedJob, owner: str, report: dict[str, Any], *, clock: Clock) -> bool:
    """Store the result and mark the job done, if this worker still holds it."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job.id, with_for_update=session.bind.dialect.name == "postgresql")
        if row is None or row.lease_owner != owner or row.status != "running":
            return False
        row.status, row.finished_at, row.lease_owner, row.lease_expires_at, row.error = (
            "done",
            clock.now(),
            None,
            None,
            None,
        )
        session.add(SteeringResult(job_id=row.id, model_id=row.model_id, worker=owner, report=report))
    return True


def fail(engine: Engine, job: ClaimedJob, owner: str, error: str, *, permanent: bool = False, clock: Clock) -> str:
    """Record the error: back to the queue after a backoff while attempts remain and the
    error may pass, else failed. Returns the new status (``lost`` if no longer ours)."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job.id, with_for_update=session.bind.dialect.name == "postgresql")
        if row is None or row.lease_owner != owner or row.status != "running":
            return "lost"
        row.error = (("not retried: " if permanent else "") + error)[:4000]
        row.lease_owner = row.lease_expires_at = None
        row.status = "failed" if permanent or row.attempts >= row.max_attempts else "queued"
        stamp = clock.now()
        row.finished_at = stamp if row.status == "failed" else None
        row.not_before = stamp + dt.timedelta(seconds=backoff_seconds(row.attempts)) if row.status == "queued" else None
        return row.status


def release(engine: Engine, job: ClaimedJob, owner: str) -> bool:
    """Give a job back unfinished (the worker is shutting down): queued again, the attempt not counted."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job.id, with_for_update=session.bind.dialect.name == "postgresql")
        if row is None or row.lease_owner != owner or row.status != "running":
            return False
        row.status, row.lease_owner, row.lease_expires_at = "queued", None, None
        row.attempts = max(row.attempts - 1, 0)
    return True


# --- running one job in a child process ---------------------------------------------------------


def _child(runner: Runner, job: ClaimedJob, send: Any) -> None:
    """In the child: die with the parent, leave signals to the parent, send back the report or the error."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops this process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        try:
            send.send(("ok", runner(job), False))
        except BaseException as exc:
            send.send(("error", f"{type(exc).__name__}: {exc}", isinstance(exc, PermanentJobError)))
    finally:
        os._exit(0)


def _start_method(runner: Runner) -> str:
    """``fork`` (fast, takes closures) unless this process has imported torch: its thread pools
    do not survive a fork (the child hangs), so then the job process is spawned, which
    needs a picklable runner (the steering runner is)."""
    if "torch" not in sys.modules:
        return "fork"
    try:
        pickle.dumps(runner)
    except (pickle.PicklingError, AttributeError, TypeError):
        return "fork"
    return "spawn"


def execute(
    runner: Runner, job: ClaimedJob, *, should_stop: Callable[[], bool], clock: Clock, poll_seconds: float = 0.2
) -> dict[str, Any]:
    """Run ``runner(job)`` in a child process; stop it at ``job.timeout_seconds`` (:class:`JobTimeout`)
    or when ``should_stop()`` turns true (:class:`JobInterrupted`)."""
    context = multiprocessing.get_context(_start_method(runner))
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(runner, job, send), daemon=True)
    deadline = clock.now() + dt.timedelta(seconds=job.timeout_seconds)
    with warnings.catch_warnings():  # the child touches no lock of the parent's threads: it runs the runner only
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        process.start()
    send.close()
    try:
        while True:
            if receive.poll(poll_seconds):
                try:
                    kind, payload, permanent = receive.recv()
                except EOFError:
                    process.join(5)
                    raise RunnerFailed(f"the job's process died (exit code {process.exitcode})", False) from None
                if kind == "ok":
                    return payload
                raise RunnerFailed(payload, permanent)
            if should_stop():
                raise JobInterrupted(f"job #{job.id} interrupted: the worker is shutting down")
            if clock.now() >= deadline:
                raise JobTimeout(f"job #{job.id} ran past its timeout of {job.timeout_seconds} s and was stopped")
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receive.close()


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: str
    attempts: int
    error: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_one(
    engine: Engine,
    runner: Runner,
    *,
    clock: Clock,
    owner: str | None = None,
    lease_seconds: float = 60.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Outcome | None:
    """Claim one job from the table queue, run it while a heartbeat thread keeps the lease,
    store the outcome. A shutdown (``should_stop``) gives the job back without using an attempt."""
    owner = owner or worker_name()
    job = claim(engine, owner, lease_seconds, clock=clock)
    if job is None:
        return None
    stop = threading.Event()
    lost = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_seconds / 3):
            if not heartbeat(engine, job.id, owner, lease_seconds, clock=clock):
                lost.set()
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        report = execute(runner, job, should_stop=lambda: should_stop() or lost.is_set(), clock=clock)
    except JobInterrupted as exc:
        if lost.is_set():
            return Outcome(job.id, "lost", job.attempts, "another worker took the job over (lease expired)")
        release(engine, job, owner)
        return Outcome(job.id, "released", job.attempts - 1, str(exc))
    except (RunnerFailed, JobTimeout) as exc:
        permanent = isinstance(exc, RunnerFailed) and exc.permanent
        status = fail(engine, job, owner, str(exc), permanent=permanent, clock=clock)
        log.warning("job %s failed: %s", job.id, exc)
        return Outcome(job.id, status, job.attempts, str(exc))
    finally:
        stop.set()
        thread.join()
    if lost.is_set() or not finish(engine, job, owner, report, clock=clock):
        return Outcome(job.id, "lost", job.attempts, "another worker took the job over (lease expired)")
    return Outcome(job.id, "done", job.attempts)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or Ctrl-C (SIGINT): the worker stops and gives its job back."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def run_table_worker(
    engine: Engine,
    runner: Runner,
    *,
    clock: Clock,
    owner: str,
    stop: threading.Event,
    once: bool = False,
    drain: bool = False,
    lease_seconds: float = 60.0,
    poll_seconds: float = 10.0,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> int:
    """The table queue's worker loop: run jobs until ``stop`` is set (with ``once``: at most one;
    with ``drain``: until the queue is empty)."""
    ran = 0
    while not stop.is_set():
        outcome = run_one(
            engine, runner, clock=clock, owner=owner, lease_seconds=lease_seconds, should_stop=stop.is_set
        )
        if outcome is not None:
            ran += 1
            on_outcome(outcome)
        if once or (drain and outcome is None):
            break
        if outcome is None:
            stop.wait(poll_seconds)
    return ran


def run_steering(job: ClaimedJob, *, device: str) -> dict[str, Any]:
    """The real job: load the model offline and run the steering evaluation with the job's
    stored config (the report stores the config it ran with). A model that cannot be
    loaded (missing repo or weights, broken config.json) is a permanent error."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.loading import load_model
    from phasewatch.models.steering.run import SteeringConfig, evaluate_model, report_dict

    config = SteeringConfig.from_dict(job.config)
    try:
        loaded = load_model(job.hf_repo, device=device, revision=None if job.revision == "main" else job.revision)
    except SteeringError as exc:
        raise PermanentJobError(str(exc)) from exc
    return json.loads(json.dumps(report_dict(evaluate_model(loaded, config)), default=str))


def steering_runner(device: str = "auto") -> Runner:
    return partial(run_steering, device=device)


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


def list_jobs(session: Session, status: str | None = None) -> list[JobView]:
    query = select(SteeringJob).order_by(SteeringJob.id)
    if status:
        query = query.where(SteeringJob.status == status)
    return [_view(j) for j in session.scalars(query)]


def _as_utc(stamp: dt.datetime | None) -> dt.datetime | None:
    return stamp.replace(tzinfo=dt.UTC) if stamp is not None and stamp.tzinfo is None else stamp


def retry(session: Session, job_id: int, *, clock: Clock) -> JobView:
    """Put a failed, done, or dead running job (its worker stopped renewing the lease or
    heartbeating) back in the queue with a fresh set of attempts."""
    job = session.get(SteeringJob, job_id)
    if job is None:
        raise NotFoundError(f"no steering job #{job_id}", "see `phasewatch steer jobs list`")
    postgres = session.get_bind().dialect.name == "postgresql"
    if job.status == "running":
        if postgres:
            from phasewatch.registry.queue import engine_job_is_alive

            alive = engine_job_is_alive(session, job)
        else:
            alive = job.lease_expires_at is not None and _as_utc(job.lease_expires_at) >= clock.now()
        if alive:
            raise ConflictError(
                f"job #{job_id} is running and its worker is alive",
                "wait for it, or stop that worker (its job is then released)",
            )
    elif job.status not in ("failed", "done"):
        raise ConflictError(f"job #{job_id} is {job.status}", "only failed, done or dead running jobs can be retried")
    if job.status == "done":
        session.execute(SteeringResult.__table__.delete().where(SteeringResult.job_id == job.id))
    job.status, job.attempts, job.error, job.lease_owner, job.lease_expires_at, job.finished_at, job.not_before = (
        "queued",
        0,
        None,
        None,
        None,
        None,
        None,
    )
    session.flush()
    if postgres:
        from phasewatch.registry.queue import defer

        job.engine_job_id = defer(session, job, replace=True)
        session.flush()
    return _view(job)


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
