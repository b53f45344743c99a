"""Running one steering job in a child process, so a per-job timeout and a shutdown can stop it.

Both queues (the table queue on SQLite, Procrastinate on PostgreSQL) hand a claimed
job to :func:`execute`; what comes back is the report, or an exception that says
whether the job should be tried again.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from phasewatch.registry.clock import Clock
from phasewatch.registry.jobs import ClaimedJob

Report = dict[str, Any]  # a job's JSON report, stored as it is in steering_results
Runner = Callable[[ClaimedJob], Report]


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


@dataclass(frozen=True)
class Outcome:
    """What became of one job a worker ran: ``done``, ``queued`` (to be retried), ``failed``,
    ``released`` (given back at shutdown) or ``lost`` (another worker took it over)."""

    job_id: int
    status: str
    attempts: int
    error: str | None = None


def worker_name() -> str:
    """host:pid:random — unique among the workers that share a database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _child(runner: Runner, job: ClaimedJob, send: Connection) -> None:
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


def start_method(runner: Runner) -> str:
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
) -> Report:
    """Run ``runner(job)`` in a child process; stop it at ``job.timeout_seconds`` (:class:`JobTimeout`)
    or when ``should_stop()`` turns true (:class:`JobInterrupted`)."""
    spawn = start_method(runner) == "spawn"
    context = multiprocessing.get_context("spawn") if spawn else multiprocessing.get_context("fork")
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
                    report: Report = payload
                    return report
                raise RunnerFailed(str(payload), bool(permanent))
            if should_stop():
                raise JobInterrupted(f"job #{job.id} interrupted: the worker is shutting down")
            if clock.now() >= deadline:
                raise JobTimeout(f"job #{job.id} ran past its timeout of {job.timeout_seconds} s and was stopped")
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receive.close()
