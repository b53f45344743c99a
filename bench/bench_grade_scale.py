"""`phasewatch predictions grade` on a registry of 100,000 observations (run by hand, not a test).

Copies the given SQLite registry (e.g. one built by ``bench/bench_scale.py``) to a temporary
folder, grades once (the first grading seals each prediction's state), then times further
gradings as whole processes, round by round, next to ``phasewatch --help`` (start-up alone).
Reports the median wall time and the median CPU time (user + system) of each::

    .venv/bin/python bench/bench_grade_scale.py REGISTRY.db [--rounds 5] [--today 2026-12-01]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([EXE, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--today", default="2026-12-01")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "registry.db"
        shutil.copyfile(args.registry, db)
        os.chmod(db, 0o600)
        env = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{db}", "PHASEWATCH_TODAY": args.today}
        commands = {
            "phasewatch --help": ["--help"],
            "phasewatch predictions grade": ["predictions", "grade"],
            "phasewatch predictions grade --json": ["predictions", "grade", "--json"],
        }
        first = timed(["predictions", "grade"], env)
        print(f"first grading (seals the states): {first[0]:.3f} s wall, {first[1]:.3f} s CPU")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                results[name].append(timed(command, env))
        print("| command | median wall (s) | min | max | median CPU (s) |")
        print("|---|---|---|---|---|")
        for name, runs in results.items():
            walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
            print(
                f"| `{name}` | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} "
                f"| {statistics.median(cpus):.3f} |"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
