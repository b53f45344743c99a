"""In-process cost of the prediction logs and as-of exact grading (run by hand, not a test).

On a fresh registry after ``init`` (14 prediction rows), after sealing one grading run
and after 60 dated grading runs (every state change sealed), times: verifying both logs,
grading the seven, grading with the seal (verify first), and ``saturation`` with its
history recomputed as known at each quarter end. Reports median wall and CPU seconds.

    .venv/bin/python bench/bench_predictions.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from phasewatch.models.saturation import saturation_report
from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.predictions import DEFAULT_PANELS, grade_predictions, snapshot, verify_chain
from phasewatch.registry.seed import initialise

TODAY = dt.date(2026, 11, 30)


def measure(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    engine = make_engine(f"sqlite:///{Path(tempfile.mkdtemp(prefix='phasewatch-bench-')) / 'r.db'}")
    initialise(engine)

    def in_session(work: Callable) -> Callable[[], object]:  # type: ignore[type-arg]
        def run() -> object:
            with transaction(engine) as session:
                return work(session)

        return run

    def saturation(session) -> object:
        releases = snapshot(session, DEFAULT_PANELS, TODAY)
        keys = sorted({k for r in releases for k in r.scores})
        return saturation_report(releases, keys, TODAY, history_at=lambda d: snapshot(session, DEFAULT_PANELS, d))

    cases = {
        "verify both logs": in_session(verify_chain),
        "grade the seven (no seal)": in_session(lambda s: grade_predictions(s, TODAY)),
        "grade + seal (verifies first)": in_session(lambda s: grade_predictions(s, TODAY, store=True)),
        "saturation, history as known at each quarter end": in_session(saturation),
    }
    print(f"{'case':<52} {'log size':<28} {'wall median (s)':>16} {'cpu median (s)':>15}")
    for stage in ("after init", "after 60 dated grading runs"):
        if stage != "after init":
            with transaction(engine) as session:
                for i in range(60):
                    grade_predictions(session, TODAY + dt.timedelta(days=10 * i), store=True)
        with transaction(engine) as session:
            check = verify_chain(session)
        size = f"{check.rows} rows, {check.gradings} gradings"
        for name, fn in cases.items():
            wall, cpu = measure(fn, rounds)
            print(f"{name:<52} {size:<28} {wall:>16.3f} {cpu:>15.3f}")


if __name__ == "__main__":
    main()
