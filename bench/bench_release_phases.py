"""Where the time of one `releases add` goes, on a registry you name (run by hand, not a test).

Copies the registry, grades once (so the states are sealed and the grading input and
grades are kept, as after any grading), then logs ``--releases`` releases one after the
other through the real ``services.releases.log_release`` in one process, timing the
service's collaborators by wrapping them (the flow itself is the service's, not copied
here). Prints, per step, the median seconds over the releases; the first release's
imports are timed apart::

    .venv/bin/python bench/bench_release_phases.py REGISTRY.db [--releases 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

STEPS = {  # collaborator of services.releases -> what it does
    "validate_release": "validate + identity checks (read)",
    "intact_since": "prediction logs intact (read; trusted while nothing changed)",
    "_verdict_of_request": "verdict from the stored draws (read)",
    "grading_input": "grading input before: kept grades and releases (read)",
    "add_release": "write: identity again, the release (under the lock)",
    "with_models": "input after = before + the new model's rows (under the lock)",
    "staleness": "staleness of the latest fit (read)",
    "grade_predictions": "grade before and after (evaluation; sealing when a state moved)",
    "unsealed": "which gradings to seal (read)",
    "to_keep": "encode the input and grades after (JSON, before the lock)",
    "keep": "keep them (short write)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--releases", type=int, default=5)
    parser.add_argument("--today", default="2026-12-01")
    args = parser.parse_args()

    start = time.perf_counter()
    from phasewatch.cli.app import tune_collector
    from phasewatch.registry.clock import FrozenClock
    from phasewatch.registry.db import make_engine
    from phasewatch.registry.releases import ReleaseRequest, ScoreInput
    from phasewatch.services import grading
    from phasewatch.services import releases as service

    imports = time.perf_counter() - start
    tune_collector()  # the collector as a `phasewatch` command has it
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str) -> None:
        real = getattr(service, name)

        @functools.wraps(real)
        def wrapper(*a: Any, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                spent[name] += time.perf_counter() - began

        setattr(service, name, wrapper)

    for name in STEPS:
        timed(name)
    today = dt.date.fromisoformat(args.today)
    clock = FrozenClock(dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory(prefix="phasewatch-phases-") as folder:
        path = Path(folder) / "copy.db"
        shutil.copy(args.registry, path)
        engine = make_engine(f"sqlite:///{path}")
        grading.grade(engine, today)
        per_step: dict[str, list[float]] = defaultdict(list)
        totals = []
        for i in range(args.releases):
            spent.clear()
            request = ReleaseRequest(
                name=f"Phase Probe {i}",
                lab="Google",
                date=f"2026-06-{i % 28 + 1:02d}",
                scores=(ScoreInput("swe_bench_verified", 71.0 + i / 10), ScoreInput("gpqa_diamond", 84.0 + i / 10)),
                source_url="https://bench.example/release",
                distinct=True,
            )
            began = time.perf_counter()
            service.log_release(engine, clock, request)
            totals.append(time.perf_counter() - began)
            for name in STEPS:
                per_step[name].append(spent.get(name, 0.0))
        engine.dispose()
    print(f"imports of the release service (once per process): {imports:.3f} s")
    print(f"| step (median of {args.releases} releases) | seconds |\n|---|---|")
    for name, label in STEPS.items():
        print(f"| {label} | {statistics.median(per_step[name]):.3f} |")
    print(
        f"| **log_release, in all** (min {min(totals):.3f}, max {max(totals):.3f}) | {statistics.median(totals):.3f} |"
    )


if __name__ == "__main__":
    main()
