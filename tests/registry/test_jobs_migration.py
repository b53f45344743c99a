"""Migration 0008 keeps existing steering jobs: on PostgreSQL the waiting ones move into the engine."""

from __future__ import annotations

import json

from sqlalchemy import text

from phasewatch.registry.db import downgrade, make_engine, upgrade
from phasewatch.registry.queue import queueing_lock


def test_existing_jobs_migrate_and_migrate_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, "0005")
    with engine.begin() as conn:
        for repo, status, attempts in (("org/a", "queued", 0), ("org/b", "running", 1), ("org/c", "done", 1)):
            conn.execute(
                text(
                    "INSERT INTO steering_jobs (hf_repo, revision, config, config_hash, status, attempts, max_attempts, "
                    "lease_owner) VALUES (:repo, 'main', :config, 'h', :status, :attempts, 3, :owner)"
                ),
                {
                    "repo": repo,
                    "config": json.dumps({"seed": 0}),
                    "status": status,
                    "attempts": attempts,
                    "owner": "old-worker" if status == "running" else None,
                },
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = {
            r.hf_repo: r
            for r in conn.execute(
                text("SELECT hf_repo, status, attempts, lease_owner, timeout_seconds, engine_job_id FROM steering_jobs")
            )
        }
        postgres = conn.dialect.name == "postgresql"
        engine_jobs = (
            conn.execute(
                text("SELECT id, status::text, queueing_lock FROM procrastinate.procrastinate_jobs ORDER BY id")
            ).all()
            if postgres
            else []
        )
    assert rows["org/c"].status == "done" and rows["org/a"].timeout_seconds == 3600
    if postgres:  # the waiting and the orphaned running job are queued in the engine, once each
        assert rows["org/b"].status == "queued" and rows["org/b"].lease_owner is None
        assert [(j.status, j.queueing_lock) for j in engine_jobs] == [
            ("todo", queueing_lock("org/a", "main", "h")),
            ("todo", queueing_lock("org/b", "main", "h")),
        ]
        assert {rows["org/a"].engine_job_id, rows["org/b"].engine_job_id} == {j.id for j in engine_jobs}
        assert rows["org/c"].engine_job_id is None
    else:  # the table queue recovers the running one once its lease has expired
        from phasewatch.registry.clock import WallClock
        from phasewatch.services.table_queue import claim

        assert (rows["org/a"].status, rows["org/b"].status) == ("queued", "running")
        assert {claim(engine, "w", 60, clock=WallClock()).hf_repo for _ in range(2)} == {"org/a", "org/b"}
    downgrade(engine, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM steering_jobs")).scalar() == 3
    engine.dispose()
