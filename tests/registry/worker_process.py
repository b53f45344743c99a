"""A worker process for the queue tests: python worker_process.py URL OWNER MODE LEASE_OR_STALLED [LOG].

MODE is ``fast`` (returns at once), ``hang`` (runs until killed or stopped); each run of
the runner appends ``job_id owner`` to LOG, so a test can count executions per job.
On PostgreSQL it is a Procrastinate worker that drains the queue; on SQLite the table queue.
"""

from __future__ import annotations

import os
import sys
import time

from phasewatch.registry.clock import WallClock
from phasewatch.registry.db import make_engine
from phasewatch.registry.jobs import ClaimedJob
from phasewatch.services.worker import run_steering_worker


def main() -> None:
    url, owner, mode, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    log = sys.argv[5] if len(sys.argv) > 5 else None
    engine = make_engine(url)

    def runner(job: ClaimedJob) -> dict[str, object]:
        if log:
            with open(log, "a") as handle:  # one short O_APPEND write per execution
                handle.write(f"{job.id} {owner}\n")
        if mode == "hang":
            time.sleep(600)  # killed or stopped before it ends
        return {"worker": owner, "job": job.id, "pid": os.getpid()}

    run_steering_worker(
        engine,
        runner,
        owner=owner,
        clock=WallClock(),
        drain=mode != "hang",
        poll_seconds=0.2,
        lease_seconds=seconds,
        heartbeat_seconds=seconds / 4,
        stalled_seconds=seconds,
    )


if __name__ == "__main__":
    main()
