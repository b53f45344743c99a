"""A worker process for the queue tests: python worker_process.py URL OWNER MODE LEASE_SECONDS."""

from __future__ import annotations

import sys
import time

from phasewatch.registry.db import make_engine
from phasewatch.registry.jobs import ClaimedJob, run_one


def main() -> None:
    url, owner, mode, lease = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    engine = make_engine(url)

    def runner(job: ClaimedJob) -> dict[str, object]:
        if mode == "hang":
            time.sleep(600)  # killed before it ends
        return {"worker": owner, "job": job.id}

    while run_one(engine, runner, owner=owner, lease_seconds=lease) is not None:
        pass


if __name__ == "__main__":
    main()
