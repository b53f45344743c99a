"""The steering job API and the table queue (SQLite): idempotent enqueue, one claim per job,
retries with backoff, permanent errors, lease recovery, the final attempt, shutdown, timeouts."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from phasewatch.registry.clock import FrozenClock, WallClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError
from phasewatch.registry.jobs import DEFAULT_CONFIG, FINAL_ATTEMPT_DIED, backoff_seconds, enqueue, list_jobs, retry
from phasewatch.registry.schema import SteeringJob, SteeringResult
from phasewatch.services.job_process import PermanentJobError
from phasewatch.services.table_queue import claim, run_one
from phasewatch.services.worker import device_lock

WORKER = str(Path(__file__).with_name("worker_process.py"))
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))


def _enqueue(engine: Engine, n: int, **fields: object) -> list[int]:
    with transaction(engine) as session:
        ids = [enqueue(session, f"org/model-{i}", "main", {"k": i})[0].id for i in range(n)]
        if fields:
            session.execute(update(SteeringJob).where(SteeringJob.id.in_(ids)).values(**fields))
        return ids


def _job(engine: Engine, job_id: int) -> SteeringJob:
    with transaction(engine) as session:
        return session.get(SteeringJob, job_id)


def test_enqueue_is_idempotent_on_repo_revision_and_config(engine: Engine) -> None:
    with transaction(engine) as session:
        first, created = enqueue(session, "org/m", None)
        again, created_again = enqueue(session, "org/m", "main")
        other, _ = enqueue(session, "org/m", "main", {**DEFAULT_CONFIG, "seed": 1})
    assert created and not created_again and first.id == again.id != other.id


def test_default_config_mirrors_the_steering_config() -> None:
    pytest.importorskip("torch")
    from dataclasses import asdict

    from phasewatch.models.steering.run import SteeringConfig

    assert {**asdict(SteeringConfig()), "strengths": list(SteeringConfig().strengths)} == DEFAULT_CONFIG


@sqlite_only
def test_transient_errors_retry_after_a_backoff_and_permanent_ones_do_not(engine: Engine) -> None:
    ok, flaky, missing = _enqueue(engine, 3)
    now = clock()

    def runner(job):
        if job.id == flaky:
            raise RuntimeError("CUDA out of memory")
        if job.id == missing:
            raise PermanentJobError("cannot load model 'org/model-2': no such repo")
        return {"ran": job.id}

    assert run_one(engine, runner, clock=now, owner="w1").status == "done"
    first = run_one(engine, runner, clock=now, owner="w1")
    assert (first.job_id, first.status) == (flaky, "queued")
    gone = run_one(engine, runner, clock=now, owner="w1")  # the flaky job waits out its backoff meanwhile
    assert (gone.job_id, gone.status, gone.attempts) == (missing, "failed", 1)
    assert _job(engine, missing).error.startswith("not retried: PermanentJobError")
    assert run_one(engine, runner, clock=now, owner="w1") is None  # nothing claimable before the backoff ends
    statuses = []
    for attempt in (1, 2):
        now.advance(backoff_seconds(attempt) - 1)
        assert run_one(engine, runner, clock=now, owner="w2") is None
        now.advance(1)
        statuses.append(run_one(engine, runner, clock=now, owner="w2").status)
    assert statuses == ["queued", "failed"] and backoff_seconds(2) == 4 * backoff_seconds(1)
    with transaction(engine) as session:
        jobs = {j.id: j for j in list_jobs(session)}
        assert jobs[flaky].error == "RuntimeError: CUDA out of memory" and jobs[flaky].attempts == 3
        assert session.scalar(select(SteeringResult.report).where(SteeringResult.job_id == ok)) == {"ran": ok}
        retry(session, flaky, clock=now)
        with pytest.raises(ConflictError):
            retry(session, flaky, clock=now)
    assert run_one(engine, lambda job: {}, clock=now, owner="w3").status == "done"


@sqlite_only
def test_an_expired_lease_is_recovered_and_a_dead_final_attempt_fails(engine: Engine) -> None:
    job_id, last = _enqueue(engine, 2)
    now = clock()
    held = claim(engine, "dead-worker", lease_seconds=30, clock=now)
    assert held.id == job_id
    with transaction(engine) as session:  # the second is on its final attempt
        session.execute(update(SteeringJob).where(SteeringJob.id == last).values(attempts=2))
    final = claim(engine, "dead-worker-2", lease_seconds=30, clock=now)
    assert final.id == last and final.attempts == 3
    assert claim(engine, "other", lease_seconds=30, clock=now) is None  # the leases are live
    with transaction(engine) as session, pytest.raises(ConflictError, match="alive"):
        retry(session, last, clock=now)
    now.advance(31)
    outcome = run_one(engine, lambda job: {"by": "rescuer"}, clock=now, owner="rescuer")
    assert (outcome.job_id, outcome.status, outcome.attempts) == (job_id, "done", 2)
    dead = _job(engine, last)
    assert (dead.status, dead.error, dead.lease_owner) == ("failed", FINAL_ATTEMPT_DIED, None)  # not running forever
    with transaction(engine) as session:
        assert session.scalar(select(SteeringResult.worker).where(SteeringResult.job_id == job_id)) == "rescuer"
        assert retry(session, last, clock=now).status == "queued"


@sqlite_only
def test_a_dead_running_job_can_be_retried_by_hand(engine: Engine) -> None:
    (job_id,) = _enqueue(engine, 1, attempts=2)
    now = clock()
    claim(engine, "killed", lease_seconds=10, clock=now)
    now.advance(11)
    with transaction(engine) as session:
        assert retry(session, job_id, clock=now).attempts == 0
    assert run_one(engine, lambda job: {}, clock=now, owner="w").status == "done"


@sqlite_only
def test_a_shutdown_gives_the_job_back_without_using_an_attempt(engine: Engine) -> None:
    (job_id,) = _enqueue(engine, 1)
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    outcome = run_one(engine, lambda job: time.sleep(60) or {}, clock=clock(), owner="w", should_stop=stop.is_set)
    assert (outcome.status, outcome.attempts) == ("released", 0)
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)


@sqlite_only
def test_a_job_past_its_timeout_is_stopped_and_retried_later(engine: Engine) -> None:
    (job_id,) = _enqueue(engine, 1, timeout_seconds=1)
    started = time.monotonic()
    outcome = run_one(engine, lambda job: time.sleep(60) or {}, clock=WallClock(), owner="w")
    assert outcome.status == "queued" and "timeout of 1 s" in outcome.error
    assert time.monotonic() - started < 10
    assert _job(engine, job_id).not_before is not None


def test_one_worker_per_gpu(tmp_path: Path) -> None:
    with device_lock("cuda:0", tmp_path):
        with pytest.raises(ConflictError, match="cuda:0 is already used"), device_lock("cuda", tmp_path):
            pass
        with device_lock("cuda:1", tmp_path), device_lock("cpu", tmp_path):
            pass
    with device_lock("cuda:0", tmp_path):  # released with its holder
        pass


def _wait_for(engine: Engine, job_id: int, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _job(engine, job_id).status == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never became {status}")


@pytest.mark.slow
@sqlite_only
def test_sigterm_releases_and_kill_9_on_the_final_attempt_fails(engine: Engine, db_url: str) -> None:
    (job_id,) = _enqueue(engine, 1)
    worker = subprocess.Popen([sys.executable, WORKER, db_url, "w1", "hang", "1"])
    _wait_for(engine, job_id, "running")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)

    with transaction(engine) as session:
        session.execute(update(SteeringJob).where(SteeringJob.id == job_id).values(attempts=2))
    victim = subprocess.Popen([sys.executable, WORKER, db_url, "victim", "hang", "1"])
    _wait_for(engine, job_id, "running")
    time.sleep(1.5)  # it heartbeats, so its lease outlives the first lease length
    assert run_one(engine, lambda job: {}, clock=WallClock(), owner="rescuer") is None
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    time.sleep(1.2)
    assert run_one(engine, lambda job: {}, clock=WallClock(), owner="rescuer") is None
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 3, FINAL_ATTEMPT_DIED)


def test_a_worker_for_a_missing_device_refuses_to_start(cli_env: str, engine: Engine) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    (job_id,) = _enqueue(engine, 1)
    result = subprocess.run(
        [sys.executable, "-c", "from phasewatch.cli.app import main; main()", "worker", "--device", "cuda", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "no CUDA device" in result.stderr
    job = _job(engine, job_id)
    assert (job.status, job.attempts) == ("queued", 0)  # nothing claimed, nothing failed


def test_job_processes_are_spawned_once_torch_is_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from phasewatch.services.job_process import start_method
    from phasewatch.services.steering import steering_runner

    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch") or object())
    assert start_method(steering_runner("cpu")) == "spawn"  # torch's thread pool does not survive a fork
    assert start_method(lambda job: {}) == "fork"  # a closure cannot be spawned
    monkeypatch.delitem(sys.modules, "torch")
    assert start_method(steering_runner("cpu")) == "fork"
