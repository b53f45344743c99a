"""Steering jobs on PostgreSQL through Procrastinate: one engine job per repo revision, no double
claims among racing workers, stalled-job recovery after kill -9, SIGTERM gives the job back."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from phasewatch.registry.clock import WallClock
from phasewatch.registry.db import transaction
from phasewatch.registry.jobs import FINAL_ATTEMPT_DIED, enqueue, retry
from phasewatch.registry.queue import queueing_lock
from phasewatch.registry.schema import SteeringJob, SteeringResult
from phasewatch.services.engine_queue import run_worker
from phasewatch.services.job_process import PermanentJobError

WORKER = str(Path(__file__).with_name("worker_process.py"))
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgresql"])]


def _enqueue(engine: Engine, n: int, **fields: object) -> list[int]:
    with transaction(engine) as session:
        ids = [enqueue(session, f"org/model-{i}", "main", {"k": i})[0].id for i in range(n)]
        if fields:
            session.execute(update(SteeringJob).where(SteeringJob.id.in_(ids)).values(**fields))
        return ids


def _engine_jobs(engine: Engine) -> list[tuple[int, str, str, int]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, status::text, queueing_lock, (args->>'job_id')::int FROM procrastinate.procrastinate_jobs "
                    "WHERE task_name = 'steering.evaluate' ORDER BY id"
                )
            )
        ]


def _job(engine: Engine, job_id: int) -> SteeringJob:
    with transaction(engine) as session:
        return session.get(SteeringJob, job_id)


def _drain(db_url: str, engine: Engine, runner, stalled: float = 30.0) -> list:
    outcomes: list = []
    run_worker(
        db_url,
        engine,
        runner,
        owner="drainer",
        clock=WallClock(),
        drain=True,
        poll_seconds=0.1,
        stalled_seconds=stalled,
        heartbeat_seconds=stalled / 4,
        on_outcome=outcomes.append,
    )
    return outcomes


def test_enqueue_defers_one_engine_job_per_repo_revision_and_config(engine: Engine, db_url: str) -> None:
    with transaction(engine) as session:
        job, _ = enqueue(session, "org/m", "abc123")
        enqueue(session, "org/m", "abc123")
    jobs = _engine_jobs(engine)
    assert jobs == [(job.engine_job_id, "todo", queueing_lock("org/m", "abc123", job.config_hash), job.id)]
    _drain(db_url, engine, lambda claimed: {"repo": claimed.hf_repo})
    assert _job(engine, job.id).status == "done" and _engine_jobs(engine)[0][1] == "succeeded"
    with transaction(engine) as session:
        again, created = enqueue(session, "org/m", "abc123")
        assert not created and again.status == "done"  # never evaluated twice
        retry(session, job.id, clock=WallClock())  # unless asked: the old result goes, a new engine job comes
    assert [j[1] for j in _engine_jobs(engine)] == ["succeeded", "todo"]


def test_engine_retries_transient_errors_with_backoff_and_not_permanent_ones(engine: Engine, db_url: str) -> None:
    flaky, missing = _enqueue(engine, 2)

    def runner(job):
        raise (RuntimeError("CUDA out of memory") if job.id == flaky else PermanentJobError("no such repo"))

    outcomes = _drain(db_url, engine, runner)
    assert sorted((o.job_id, o.status, o.attempts) for o in outcomes) == [(flaky, "queued", 1), (missing, "failed", 1)]
    assert (_job(engine, flaky).status, _job(engine, flaky).attempts) == ("queued", 1)
    assert _job(engine, flaky).not_before is not None
    assert (_job(engine, missing).status, _job(engine, missing).attempts) == ("failed", 1)
    with engine.connect() as conn:  # the engine holds the retry back by the same backoff
        waits = dict(
            conn.execute(
                text(
                    "SELECT (args->>'job_id')::int, extract(epoch FROM scheduled_at - now()) FROM procrastinate.procrastinate_jobs "
                    "WHERE status = 'todo'"
                )
            ).all()
        )
    assert set(waits) == {flaky} and 30 < waits[flaky] <= 60


def _wait_for(engine: Engine, job_ids: list[int], status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_job(engine, j).status == status for j in job_ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"jobs {job_ids} never all became {status}")


@pytest.mark.slow
def test_kill_9_is_recovered_and_a_final_attempt_fails_and_sigterm_releases(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    retried, final, stopped = _enqueue(engine, 3)
    with transaction(engine) as session:
        session.execute(update(SteeringJob).where(SteeringJob.id == final).values(attempts=2))
    log = tmp_path / "runs.log"
    hangers = [subprocess.Popen([sys.executable, WORKER, db_url, f"hang{i}", "hang", "2", str(log)]) for i in range(3)]
    _wait_for(engine, [retried, final, stopped], "running")
    owners = {j: _job(engine, j).lease_owner for j in (retried, final, stopped)}
    by_owner = {p.args[3]: p for p in hangers}
    by_owner[owners[stopped]].send_signal(signal.SIGTERM)  # graceful: the job goes back, the attempt is not used
    assert by_owner[owners[stopped]].wait(timeout=30) == 0
    assert (_job(engine, stopped).status, _job(engine, stopped).attempts) == ("queued", 0)
    for job_id in (retried, final):
        os.kill(by_owner[owners[job_id]].pid, signal.SIGKILL)
        by_owner[owners[job_id]].wait()
    time.sleep(2.5)  # their heartbeats stop; after 2 s the workers count as dead
    rescuer = subprocess.run(
        [sys.executable, WORKER, db_url, "rescuer", "fast", "2", str(log)], timeout=120, check=False
    )
    assert rescuer.returncode == 0
    assert (_job(engine, retried).status, _job(engine, retried).attempts) == ("done", 2)
    assert (_job(engine, final).status, _job(engine, final).error) == ("failed", FINAL_ATTEMPT_DIED)
    assert (_job(engine, stopped).status, _job(engine, stopped).attempts) == ("done", 1)
    statuses = {job_id: status for _, status, _, job_id in _engine_jobs(engine)}
    assert statuses == {retried: "succeeded", final: "failed", stopped: "succeeded"}  # none left 'doing'


@pytest.mark.slow
def test_eight_workers_race_over_a_hundred_jobs_without_double_claims(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    ids = _enqueue(engine, 100)
    log = tmp_path / "runs.log"
    workers = [subprocess.Popen([sys.executable, WORKER, db_url, f"w{i}", "fast", "30", str(log)]) for i in range(8)]
    for process in workers:
        assert process.wait(timeout=240) == 0
    runs = collections.Counter(int(line.split()[0]) for line in log.read_text().splitlines())
    assert sorted(runs) == sorted(ids) and set(runs.values()) == {1}  # every job run exactly once
    with transaction(engine) as session:
        jobs = list(session.scalars(select(SteeringJob).where(SteeringJob.id.in_(ids))))
        results = list(session.scalars(select(SteeringResult)))
    assert all(j.status == "done" and j.attempts == 1 for j in jobs)
    assert sorted(r.job_id for r in results) == sorted(ids)
    assert len({r.worker for r in results}) > 1  # they really competed
