"""The PostgreSQL worker: steering jobs run by Procrastinate, a maintained task engine.

The engine's tables (deferring, queueing locks) are :mod:`phasewatch.registry.queue`;
the job records are :mod:`phasewatch.registry.jobs`. Here is the worker: the
Procrastinate app with the steering task and its retry strategy (backoff from the
failed attempt, a shutdown re-queues at once, permanent errors never), stalled-job
recovery (at start and every minute), and the optional periodic Hub watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, make_url

from phasewatch.registry import jobs
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.queue import (
    ENGINE_SCHEMA,
    MAINTENANCE_QUEUE,
    QUEUE,
    RECOVER_TASK,
    STALLED_SECONDS,
    TASK,
    WATCH_TASK,
)
from phasewatch.services.job_process import JobInterrupted, JobTimeout, Outcome, Runner, RunnerFailed, execute
from phasewatch.services.table_queue import fail, finish, release

if TYPE_CHECKING:
    import procrastinate

OnOutcome = Callable[[Outcome], None]


class AttemptFailed(Exception):
    """A failed attempt, with the backoff before the next one (None: not retried)."""

    def __init__(self, message: str, retry_in: float | None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


def start(engine: Engine, job_id: int, owner: str, *, clock: Clock) -> jobs.ClaimedJob | None:
    """Mark the job the engine handed over running for this worker (None if it is not queued)."""
    with transaction(engine) as session:
        return jobs.start_engine_job(session, job_id, owner, now=clock.now())


def run_engine_job(
    engine: Engine,
    runner: Runner,
    job_id: int,
    *,
    owner: str,
    clock: Clock,
    should_stop: Callable[[], bool],
    on_outcome: OnOutcome = lambda outcome: None,
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
        raise AttemptFailed(str(exc), jobs.backoff_seconds(job.attempts) if status == "queued" else None) from None
    if not finish(engine, job, owner, report, clock=clock):
        outcome = Outcome(job.id, "lost", job.attempts, "the job was taken over while it ran")
    else:
        outcome = Outcome(job.id, "done", job.attempts)
    on_outcome(outcome)
    return outcome


def mark_stalled(engine: Engine, job_id: int, *, clock: Clock) -> str | None:
    """A running job whose worker stopped heartbeating: queued again, or failed on its final attempt."""
    with transaction(engine) as session:
        return jobs.mark_stalled(session, job_id, now=clock.now())


async def recover_stalled(
    app: procrastinate.App, engine: Engine, *, clock: Clock, stalled_seconds: float
) -> list[tuple[int, str]]:
    """Re-queue (or fail, on the final attempt) the jobs of workers silent for ``stalled_seconds``."""
    from procrastinate.jobs import Status

    recovered = []
    for job in await app.job_manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=stalled_seconds):
        job_id = job.task_kwargs["job_id"]
        assert isinstance(job_id, int), f"engine job {job.id} has no steering job id"  # we wrote it: {"job_id": n}
        status = mark_stalled(engine, job_id, clock=clock)
        if status == "queued":
            await app.job_manager.retry_job(job)
        else:
            await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        recovered.append((job_id, status or "gone"))
    return recovered


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (Procrastinate's psycopg pool)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(
    database_url: str,
    engine: Engine,
    runner: Runner,
    *,
    owner: str,
    clock: Clock,
    on_outcome: OnOutcome = lambda outcome: None,
    stalled_seconds: float = STALLED_SECONDS,
    watch: Callable[[], int] | None = None,
    watch_cron: str | None = None,
) -> procrastinate.App:
    """The Procrastinate app: the steering task with its retry strategy, the periodic
    stalled-job recovery, and (with ``watch_cron``) the periodic Hub watch."""
    import procrastinate
    from procrastinate.exceptions import JobAborted
    from procrastinate.jobs import Job
    from procrastinate.retry import BaseRetryStrategy, RetryDecision

    class SteeringRetry(BaseRetryStrategy):
        """Backoff from the failed attempt; a shutdown re-queues at once; permanent errors never."""

        def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
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
    def evaluate(context: procrastinate.JobContext, job_id: int) -> str | None:
        outcome = run_engine_job(
            engine, runner, job_id, owner=owner, clock=clock, should_stop=context.should_abort, on_outcome=on_outcome
        )
        return outcome.status if outcome else None

    @app.periodic(cron="* * * * *")
    @app.task(name=RECOVER_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=RECOVER_TASK)
    async def recover(timestamp: int) -> int:
        return len(await recover_stalled(app, engine, clock=clock, stalled_seconds=stalled_seconds))

    if watch is not None and watch_cron:
        watched = watch

        @app.periodic(cron=watch_cron)
        @app.task(name=WATCH_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=WATCH_TASK)
        def watch_task(timestamp: int) -> int:
            return watched()

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
    on_outcome: OnOutcome = lambda outcome: None,
    watch: Callable[[], int] | None = None,
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

    async def stop_after_one(call_next: Callable[[], Awaitable[Any]], context: Any, worker: Any) -> Any:
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
