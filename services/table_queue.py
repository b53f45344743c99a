"""The table queue's worker (SQLite, one machine): claim, run under a renewed lease, record.

Each step is one short transaction over :mod:`phasewatch.registry.jobs`' Session-level
operations, so no write lock is held while a job runs: a worker claims a job with
one atomic ``UPDATE … RETURNING``, a heartbeat thread renews its lease while the job
runs in a child process, and the outcome is recorded if the worker still holds it. A
job whose worker died is claimed again once its lease has expired; one whose final
attempt died is failed by the next claim.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from phasewatch.registry import jobs
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.jobs import ClaimedJob
from phasewatch.services.job_process import (
    JobInterrupted,
    JobTimeout,
    Outcome,
    Report,
    Runner,
    RunnerFailed,
    execute,
    worker_name,
)

log = logging.getLogger(__name__)

LOST = "another worker took the job over (lease expired)"


def claim(engine: Engine, owner: str, lease_seconds: float, *, clock: Clock) -> ClaimedJob | None:
    """Fail dead final attempts, then take the oldest claimable job, in one transaction."""
    now = clock.now()
    with transaction(engine) as session:
        jobs.fail_dead_final_attempts(session, now)
        return jobs.claim_next(session, owner, now=now, lease_seconds=lease_seconds)


def heartbeat(engine: Engine, job_id: int, owner: str, lease_seconds: float, *, clock: Clock) -> bool:
    """Renew the lease; False when another worker has taken the job over."""
    with transaction(engine) as session:
        return jobs.renew_lease(session, job_id, owner, now=clock.now(), lease_seconds=lease_seconds)


def finish(engine: Engine, job: ClaimedJob, owner: str, report: Report, *, clock: Clock) -> bool:
    """Store the result and mark the job done, if this worker still holds it."""
    with transaction(engine) as session:
        return jobs.record_result(session, job.id, owner, report, now=clock.now())


def fail(engine: Engine, job: ClaimedJob, owner: str, error: str, *, permanent: bool = False, clock: Clock) -> str:
    """Record the error; the job's new status (``queued`` for a retry after its backoff)."""
    with transaction(engine) as session:
        return jobs.record_failure(session, job.id, owner, error, permanent=permanent, now=clock.now())


def release(engine: Engine, job: ClaimedJob, owner: str) -> bool:
    """Give a job back unfinished: queued again, the attempt not counted."""
    with transaction(engine) as session:
        return jobs.give_back(session, job.id, owner)


def run_one(
    engine: Engine,
    runner: Runner,
    *,
    clock: Clock,
    owner: str | None = None,
    lease_seconds: float = 60.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Outcome | None:
    """Claim one job, run it while a heartbeat thread keeps the lease, record the outcome.
    A shutdown (``should_stop``) gives the job back without using an attempt."""
    name = owner or worker_name()
    job = claim(engine, name, lease_seconds, clock=clock)
    if job is None:
        return None
    stop = threading.Event()
    lost = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_seconds / 3):
            if not heartbeat(engine, job.id, name, lease_seconds, clock=clock):
                lost.set()
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        report = execute(runner, job, should_stop=lambda: should_stop() or lost.is_set(), clock=clock)
    except JobInterrupted as exc:
        if lost.is_set():
            return Outcome(job.id, "lost", job.attempts, LOST)
        release(engine, job, name)
        return Outcome(job.id, "released", job.attempts - 1, str(exc))
    except (RunnerFailed, JobTimeout) as exc:
        permanent = isinstance(exc, RunnerFailed) and exc.permanent
        status = fail(engine, job, name, str(exc), permanent=permanent, clock=clock)
        log.warning("job %s failed: %s", job.id, exc)
        return Outcome(job.id, status, job.attempts, str(exc))
    finally:
        stop.set()
        thread.join()
    if lost.is_set() or not finish(engine, job, name, report, clock=clock):
        return Outcome(job.id, "lost", job.attempts, LOST)
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
    """The worker loop: run jobs until ``stop`` is set (with ``once``: at most one; with
    ``drain``: until the queue is empty). Returns how many jobs it ran."""
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
