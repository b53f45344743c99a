"""A grading after a change phasewatch did not make, with and without the observation log
(run by hand, not a test).

Copies the registry you name, grades once (the states sealed, the input and grades kept,
the logs marked verified), then for ``--rounds`` rounds, alternately:

- **logged**: a raw SQL update of ``--figures`` observations (one a seal rests on), as
  another program would make it; then ``services.grading.grade`` in this process, which
  checks only the seals resting on them and reads only their models' releases again
  (migration 0017's observation log);
- **full**: the same change, then the same grading with the log ignored
  (``logged_changes`` answers ``None``), which verifies both logs and reads every figure
  again, as before migration 0017.

Prints the median wall time of each, their ratio, and checks both gradings give the same
grades::

    .venv/bin/python bench/bench_outside_change.py REGISTRY.db [--rounds 5] [--figures 1] [--today 2026-12-02]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def outside_change(db: Path, figures: int) -> None:
    """Rewrite ``figures`` observations as they are (the lowest ids: bundled figures that
    seals rest on), through a separate connection."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE observations SET value = value WHERE id IN (SELECT id FROM observations ORDER BY id LIMIT ?)",
            (figures,),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--figures", type=int, default=1)
    parser.add_argument("--today", default="2026-12-02")
    args = parser.parse_args()
    from phasewatch.registry import predictions
    from phasewatch.registry.db import make_engine
    from phasewatch.services import grading

    today = dt.date.fromisoformat(args.today)
    real = predictions.logged_changes
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "registry.db"
        shutil.copyfile(args.registry, db)
        engine = make_engine(f"sqlite:///{db}")
        grading.grade(engine, today)
        times: dict[str, list[float]] = {"logged": [], "full": []}
        grades: dict[str, list[object]] = {"logged": [], "full": []}
        for _ in range(args.rounds):
            for way in ("logged", "full"):
                outside_change(db, args.figures)
                predictions.logged_changes = real if way == "logged" else (lambda *a, **k: None)  # type: ignore[assignment]
                start = time.perf_counter()
                result = grading.grade(engine, today)
                times[way].append(time.perf_counter() - start)
                grades[way].append([(r.key, r.grade) for r in result.rows])
        predictions.logged_changes = real
        engine.dispose()
    if any(g != grades["full"][0] for g in grades["logged"] + grades["full"]):
        raise SystemExit("the two ways graded differently")
    logged, full = statistics.median(times["logged"]), statistics.median(times["full"])
    print(f"{args.figures} figure(s) changed outside phasewatch, {args.rounds} rounds each way, same grades both ways")
    print("| grading after the change | median wall (s) | min | max |")
    print("|---|---|---|---|")
    for way, label in (("logged", "with the observation log"), ("full", "log ignored: verify and read everything")):
        t = times[way]
        print(f"| {label} | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} |")
    print(f"ratio logged / full: {logged / full:.2f}")


if __name__ == "__main__":
    main()
