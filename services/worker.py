"""The steering worker: one use case, ``phasewatch worker``, on whichever queue the database calls for.

PostgreSQL: a Procrastinate worker (:mod:`phasewatch.services.engine_queue`). SQLite:
the table queue (:mod:`phasewatch.services.table_queue`). Either way the device is
checked before any job is claimed, a CUDA worker holds this machine's lock on its GPU
for its whole life, and SIGTERM/Ctrl-C gives the running job back to the queue.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from phasewatch.registry.clock import Clock
from phasewatch.registry.errors import ConflictError, InvalidInputError
from phasewatch.registry.queue import STALLED_SECONDS
from phasewatch.services.job_process import Outcome, Runner, worker_name
from phasewatch.services.table_queue import run_table_worker, stop_on_signals

OnOutcome = Callable[[Outcome], None]


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
    on_outcome: OnOutcome = lambda outcome: None,
    watch: Callable[[], int] | None = None,
    watch_cron: str | None = None,
    table_queue: bool = False,
) -> None:
    """Run the worker the database calls for: Procrastinate on PostgreSQL, the table queue on
    SQLite (``table_queue`` forces the table queue anywhere, for comparisons). Returns when
    stopped (SIGTERM/Ctrl-C), after one job with ``once``, or when the queue is empty with
    ``drain``."""
    if engine.dialect.name == "postgresql" and not table_queue:
        from phasewatch.services.engine_queue import run_worker

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


# --- the use case: `phasewatch worker` -----------------------------------------------------------


@dataclass(frozen=True)
class WorkerOptions:
    """How one worker runs (the `worker` command's options)."""

    device: str = "auto"
    once: bool = False
    lease_seconds: float = 300.0
    poll_seconds: float = 10.0
    heartbeat_seconds: float = 10.0
    stalled_seconds: float = STALLED_SECONDS
    watch_cron: str | None = None


@dataclass(frozen=True)
class WorkerRun:
    """What a worker did before it stopped."""

    owner: str
    outcomes: tuple[Outcome, ...]


def serve(
    engine: Engine, options: WorkerOptions, *, clock: Clock, on_outcome: OnOutcome = lambda outcome: None
) -> WorkerRun:
    """Check the device, hold its lock, and run steering jobs until stopped (``once``: at most
    one). Each outcome is passed to ``on_outcome`` as it happens; with ``watch_cron`` the
    PostgreSQL worker also polls the Hub on that schedule."""
    from phasewatch.services.steering import steering_runner

    check_device(options.device)
    owner = worker_name()
    outcomes: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    watch = None
    if options.watch_cron:
        from phasewatch.registry.hub import HubClient, watch_once

        def watch() -> int:
            return len(watch_once(engine, HubClient(), clock=clock))

    with device_lock(options.device):
        run_steering_worker(
            engine,
            steering_runner(options.device),
            owner=owner,
            clock=clock,
            once=options.once,
            poll_seconds=options.poll_seconds,
            lease_seconds=options.lease_seconds,
            heartbeat_seconds=options.heartbeat_seconds,
            stalled_seconds=options.stalled_seconds,
            on_outcome=record,
            watch=watch,
            watch_cron=options.watch_cron,
        )
    return WorkerRun(owner, tuple(outcomes))
