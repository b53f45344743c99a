"""The steering job queue: idempotent enqueue, one claim per job, retries, lease recovery."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError
from phasewatch.registry.jobs import DEFAULT_CONFIG, claim, enqueue, list_jobs, retry, run_one
from phasewatch.registry.schema import SteeringJob, SteeringResult

WORKER = str(Path(__file__).with_name("worker_process.py"))


def _enqueue(engine: Engine, n: int) -> list[int]:
    with transaction(engine) as session:
        return [enqueue(session, f"org/model-{i}", "main", {"k": i})[0].id for i in range(n)]


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


def test_jobs_run_store_results_and_retry_until_failed(engine: Engine) -> None:
    ok, bad = _enqueue(engine, 2)
    outcome = run_one(engine, lambda job: {"ran": job.id}, owner="w1")
    assert outcome.job_id == ok and outcome.status == "done"

    def broken(job):  # noqa: ANN001, ANN202
        raise RuntimeError("weights missing")

    statuses = [run_one(engine, broken, owner="w2").status for _ in range(3)]
    assert statuses == ["queued", "queued", "failed"] and run_one(engine, broken) is None
    with transaction(engine) as session:
        jobs = {j.id: j for j in list_jobs(session)}
        assert jobs[bad].error == "RuntimeError: weights missing" and jobs[bad].attempts == 3
        assert session.scalar(select(SteeringResult.report).where(SteeringResult.job_id == ok)) == {"ran": ok}
        retry(session, bad)
        with pytest.raises(ConflictError):
            retry(session, bad)
    assert run_one(engine, lambda job: {}, owner="w3").status == "done"


def test_expired_lease_is_recovered_and_a_live_one_is_not(engine: Engine) -> None:
    (job_id,) = _enqueue(engine, 1)
    held = claim(engine, "dead-worker", lease_seconds=0.5)
    assert held.id == job_id and claim(engine, "other", lease_seconds=30) is None  # the lease is live
    time.sleep(0.7)
    outcome = run_one(engine, lambda job: {"by": "rescuer"}, owner="rescuer", lease_seconds=30)
    assert outcome.status == "done" and outcome.attempts == 2
    with transaction(engine) as session:
        assert session.scalar(select(SteeringResult.worker).where(SteeringResult.job_id == job_id)) == "rescuer"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_eight_workers_race_over_a_hundred_jobs(engine: Engine, db_url: str) -> None:
    ids = _enqueue(engine, 100)
    workers = [subprocess.Popen([sys.executable, WORKER, db_url, f"w{i}", "fast", "30"]) for i in range(8)]
    for process in workers:
        assert process.wait(timeout=240) == 0
    with transaction(engine) as session:
        jobs = list(session.scalars(select(SteeringJob).where(SteeringJob.id.in_(ids))))
        results = list(session.scalars(select(SteeringResult)))
    assert all(j.status == "done" and j.attempts == 1 for j in jobs)  # each claimed exactly once
    assert sorted(r.job_id for r in results) == sorted(ids)
    assert len({r.worker for r in results}) > 1  # they really competed


@pytest.mark.slow
def test_a_killed_worker_s_job_is_finished_by_another(engine: Engine, db_url: str) -> None:
    (job_id,) = _enqueue(engine, 1)
    victim = subprocess.Popen([sys.executable, WORKER, db_url, "victim", "hang", "2"])
    deadline = time.time() + 60
    while time.time() < deadline:
        with transaction(engine) as session:
            if session.scalar(select(SteeringJob.status).where(SteeringJob.id == job_id)) == "running":
                break
        time.sleep(0.2)
    time.sleep(1.0)  # it heartbeats, so the lease stays live while it lives
    assert run_one(engine, lambda job: {}, owner="rescuer", lease_seconds=2) is None
    victim.kill()
    victim.wait()
    time.sleep(2.5)  # no more heartbeats: the lease runs out
    outcome = run_one(engine, lambda job: {"rescued": True}, owner="rescuer", lease_seconds=2)
    assert outcome.job_id == job_id and outcome.status == "done" and outcome.attempts == 2
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(SteeringResult)) == 1
