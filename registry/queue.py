"""Steering jobs on PostgreSQL, run by Procrastinate; device checks and GPU locks for every worker.

Procrastinate's schema lives in its own PostgreSQL schema (``procrastinate``,
installed by migration 0008), beside the registry's tables. Each steering job is
one row in ``steering_jobs`` (the record, and where results go) and one
Procrastinate job (the execution):

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

import asyncio
import fcntl
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError
from phasewatch.registry.jobs import (
    FINAL_ATTEMPT_DIED,
    ClaimedJob,
    JobInterrupted,
    JobTimeout,
    Outcome,
    Runner,
    RunnerFailed,
    backoff_seconds,
    execute,
    fail,
    finish,
    release,
    run_table_worker,
    stop_on_signals,
)
from phasewatch.registry.schema import SteeringJob

log = logging.getLogger(__name__)

ENGINE_SCHEMA = "procrastinate"
QUEUE = "steering"
MAINTENANCE_QUEUE = "maintenance"
TASK = "steering.evaluate"
RECOVER_TASK = "steering.recover"
WATCH_TASK = "hub.watch"
STALLED_SECONDS = 30.0


def engine_schema_sql() -> str:
    """Procrastinate's own schema, as it ships it."""
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def queueing_lock(hf_repo: str, revision: str, config_hash: str) -> str:
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


# --- the worker's side of a job ----------------------------------------------------------------


def start(engine: Engine, job_id: int, owner: str, *, clock: Clock) -> ClaimedJob | None:
    """Mark a queued job running for this worker (one more attempt); None if it is not queued
    (done already: a repo revision is never evaluated twice)."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job_id, with_for_update=True)
        if row is None or row.status != "queued":
            return None
        row.status, row.lease_owner, row.attempts, row.started_at = "running", owner, row.attempts + 1, clock.now()
        row.heartbeat_at, row.not_before, row.lease_expires_at = clock.now(), None, None
        return ClaimedJob(
            row.id, row.hf_repo, row.revision, dict(row.config), row.attempts, row.max_attempts, row.timeout_seconds
        )


class AttemptFailed(Exception):
    """A failed attempt, with the backoff before the next one (None: not retried)."""

    def __init__(self, message: str, retry_in: float | None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


def run_engine_job(
    engine: Engine,
    runner: Runner,
    job_id: int,
    *,
    owner: str,
    clock: Clock,
    should_stop: Callable[[], bool],
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> Outcome | None:
    """Run one steering job the engine handed over; report its outcome, and raise what tells
    the engine to retry (or not)."""
    from procrastinate.exceptions import JobAborted

    job = start(engine, job_id, owner, clock=clock)
    if job is None:
        return None
    try:
        report = execute(runner, job, should_stop=should_stop, clock=clock)
    except JobInterrupted as exc:
        release(engine, job, owner)
        on_outcome(Outcome(job.id, "released", job.attempts - 1, str(exc)))
        raise JobAborted(str(exc)) from None
    except (RunnerFailed, JobTimeout) as exc:
        permanent = isinstance(exc, RunnerFailed) and exc.permanent
        status = fail(engine, job, owner, str(exc), permanent=permanent, clock=clock)
        on_outcome(Outcome(job.id, status, job.attempts, str(exc)))
        raise AttemptFailed(str(exc), backoff_seconds(job.attempts) if status == "queued" else None) from None
    if not finish(engine, job, owner, report, clock=clock):
        outcome = Outcome(job.id, "lost", job.attempts, "the job was taken over while it ran")
    else:
        outcome = Outcome(job.id, "done", job.attempts)
    on_outcome(outcome)
    return outcome


def mark_stalled(engine: Engine, job_id: int, *, clock: Clock) -> str | None:
    """A running job whose worker stopped heartbeating: queued again, or failed on its final attempt."""
    with transaction(engine) as session:
        row = session.get(SteeringJob, job_id, with_for_update=True)
        if row is None or row.status != "running":
            return None
        row.lease_owner = None
        if row.attempts >= row.max_attempts:
            row.status, row.error, row.finished_at = "failed", FINAL_ATTEMPT_DIED, clock.now()
        else:
            row.status, row.error = (
                "queued",
                f"attempt {row.attempts}: its worker stopped heartbeating (killed or lost)",
            )
        return row.status


async def recover_stalled(app: Any, engine: Engine, *, clock: Clock, stalled_seconds: float) -> list[tuple[int, str]]:
    """Re-queue (or fail, on the final attempt) the jobs of workers silent for ``stalled_seconds``."""
    from procrastinate.jobs import Status

    recovered = []
    for job in await app.job_manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=stalled_seconds):
        status = mark_stalled(engine, int(job.task_kwargs["job_id"]), clock=clock)
        if status == "queued":
            await app.job_manager.retry_job(job)
        else:
            await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        recovered.append((int(job.task_kwargs["job_id"]), status or "gone"))
    return recovered


def conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(
    database_url: str,
    engine: Engine,
    runner: Runner,
    *,
    owner: str,
    clock: Clock,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    stalled_seconds: float = STALLED_SECONDS,
    watch: Callable[[], Any] | None = None,
    watch_cron: str | None = None,
) -> Any:
    """The Procrastinate app: the steering task with its retry strategy, the periodic
    stalled-job recovery, and (with ``watch_cron``) the periodic Hub watch."""
    import procrastinate
    from procrastinate.exceptions import JobAborted
    from procrastinate.retry import BaseRetryStrategy, RetryDecision

    class SteeringRetry(BaseRetryStrategy):
        """Backoff from the failed attempt; a shutdown re-queues at once; permanent errors never."""

        def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
            if isinstance(exception, JobAborted):
                return RetryDecision(retry_in={"seconds": 0})
            if isinstance(exception, AttemptFailed) and exception.retry_in is not None:
                return RetryDecision(retry_in={"seconds": int(exception.retry_in)})
            return None

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        kwargs={"options": f"-c search_path={ENGINE_SCHEMA},public"},
        min_size=1,
        max_size=4,
    )
    app = procrastinate.App(connector=connector)

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=SteeringRetry())
    def evaluate(context: Any, job_id: int) -> str | None:
        outcome = run_engine_job(
            engine, runner, job_id, owner=owner, clock=clock, should_stop=context.should_abort, on_outcome=on_outcome
        )
        return outcome.status if outcome else None

    @app.periodic(cron="* * * * *")
    @app.task(name=RECOVER_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=RECOVER_TASK)
    async def recover(timestamp: int) -> int:
        return len(await recover_stalled(app, engine, clock=clock, stalled_seconds=stalled_seconds))

    if watch is not None and watch_cron:

        @app.periodic(cron=watch_cron)
        @app.task(name=WATCH_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=WATCH_TASK)
        def watch_task(timestamp: int) -> Any:
            return watch()

    return app


def run_worker(
    database_url: str,
    engine: Engine,
    runner: Runner,
    *,
    owner: str,
    clock: Clock,
    once: bool = False,
    drain: bool = False,
    poll_seconds: float = 5.0,
    heartbeat_seconds: float = 10.0,
    stalled_seconds: float = STALLED_SECONDS,
    grace_seconds: float = 0.0,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    watch: Callable[[], Any] | None = None,
    watch_cron: str | None = None,
) -> None:
    """Run a Procrastinate worker until SIGTERM/Ctrl-C (with ``once``: at most one job; with
    ``drain``: until the queue is empty)."""
    app = build_app(
        database_url,
        engine,
        runner,
        owner=owner,
        clock=clock,
        on_outcome=on_outcome,
        stalled_seconds=stalled_seconds,
        watch=watch,
        watch_cron=watch_cron,
    )

    async def stop_after_one(call_next: Callable[[], Any], context: Any, worker: Any) -> Any:
        try:
            return await call_next()
        finally:
            worker.stop()

    async def main() -> None:
        async with app.open_async():
            await recover_stalled(app, engine, clock=clock, stalled_seconds=stalled_seconds)
            await app.run_worker_async(
                queues=[QUEUE] if once else [QUEUE, MAINTENANCE_QUEUE],
                name=owner,
                concurrency=1,
                wait=not (once or drain),
                fetch_job_polling_interval=poll_seconds,
                shutdown_graceful_timeout=grace_seconds,
                update_heartbeat_interval=heartbeat_seconds,
                stalled_worker_timeout=stalled_seconds,
                worker_middleware=[stop_after_one] if once else [],
            )

    asyncio.run(main())


def run_steering_worker(
    engine: Engine,
    runner: Runner,
    *,
    owner: str,
    clock: Clock,
    once: bool = False,
    drain: bool = False,
    poll_seconds: float = 10.0,
    lease_seconds: float = 300.0,
    heartbeat_seconds: float = 10.0,
    stalled_seconds: float = STALLED_SECONDS,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    watch: Callable[[], Any] | None = None,
    watch_cron: str | None = None,
    table_queue: bool = False,
) -> None:
    """Run the worker the database calls for: Procrastinate on PostgreSQL, the table queue on
    SQLite (``table_queue`` forces the table queue anywhere, for comparisons). Returns when
    stopped (SIGTERM/Ctrl-C), after one job with ``once``, or when the queue is empty with
    ``drain``."""
    if engine.dialect.name == "postgresql" and not table_queue:
        run_worker(
            engine.url.render_as_string(hide_password=False),
            engine,
            runner,
            owner=owner,
            clock=clock,
            once=once,
            drain=drain,
            poll_seconds=poll_seconds,
            heartbeat_seconds=heartbeat_seconds,
            stalled_seconds=stalled_seconds,
            on_outcome=on_outcome,
            watch=watch,
            watch_cron=watch_cron,
        )
        return
    if watch_cron:
        raise InvalidInputError(
            "--watch-cron needs the PostgreSQL engine",
            "on SQLite run `phasewatch watch --every MINUTES` beside the worker",
        )
    run_table_worker(
        engine,
        runner,
        clock=clock,
        owner=owner,
        stop=stop_on_signals(),
        once=once,
        drain=drain,
        lease_seconds=lease_seconds,
        poll_seconds=poll_seconds,
        on_outcome=on_outcome,
    )


# --- every worker: the device check and the GPU lock --------------------------------------------

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(device: str) -> None:
    """Refuse a worker whose device this machine lacks, before it claims anything. CUDA is
    probed in a subprocess, so the worker never initialises CUDA before forking its jobs."""
    if not DEVICE_PATTERN.fullmatch(device):
        raise InvalidInputError(f"unknown --device {device!r}", "use auto, cpu, cuda or cuda:N")
    if device in ("auto", "cpu"):
        return
    index = int(device.partition(":")[2] or 0)
    probe = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if probe.returncode != 0:
        raise InvalidInputError(
            f"--device {device} needs torch, which does not import on this machine",
            "install phasewatch[steer], or start the worker with --device cpu",
        )
    count = int(probe.stdout.strip() or 0)
    if index >= count:
        have = f"{count} CUDA device{'s' if count != 1 else ''}" if count else "no CUDA device"
        raise InvalidInputError(
            f"--device {device} was asked for, but this machine has {have}",
            "start this worker with --device cpu, or on a machine with that GPU",
        )


@contextmanager
def device_lock(device: str, lock_dir: Path | None = None) -> Iterator[Path | None]:
    """Hold this machine's lock on the GPU for the worker's life (one worker per GPU);
    the kernel drops it when the process dies. CPU workers take no lock."""
    if not device.startswith("cuda"):
        yield None
        return
    name = device if ":" in device else "cuda:0"
    folder = lock_dir or Path(os.environ.get("PHASEWATCH_LOCK_DIR") or tempfile.gettempdir())
    path = folder / f"phasewatch-{socket.gethostname()}-{name.replace(':', '')}.lock"
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(
                f"{name} is already used by another phasewatch worker on this machine",
                "run one worker per GPU: stop that one, or pass another --device cuda:N",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        handle.close()
