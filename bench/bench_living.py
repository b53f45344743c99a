"""Whole-process wall time of `releases add` and of a live-panel fit with ~150 models (run by hand).

The bundled data give the live panel 69 models with SWE-bench Verified and GPQA
Diamond. To time a fit on ~150, the script logs SYNTHETIC releases into a throwaway
registry (named "Synthetic bench NNN", lab "Synthetic Bench Lab k", values = a
bundled model's pair plus Gaussian noise, seeded). They exist only in that temporary
database, for timing; they are never data.

    .venv/bin/python bench/bench_living.py [--models 150] [--fit-rounds 2] [--add-rounds 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed, done.stdout


def grow(url: str, target: int, seed: int) -> tuple[int, int]:
    """Log synthetic releases until the live panel holds ``target`` models with both scores;
    returns (models before, models after)."""
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.db import make_engine, transaction
    from phasewatch.registry.frontier import select_frontier
    from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release

    engine = make_engine(url)
    rng = random.Random(seed)
    with transaction(engine) as session:
        pairs = select_frontier(session).pairs("swe_bench_verified", "gpqa_diamond")
        catalog = Catalog(session)
        for k in range(4):
            catalog.add_lab(f"Synthetic Bench Lab {k}")
        for i in range(target - len(pairs)):
            x, y = rng.choice(pairs)
            add_release(
                session,
                ReleaseRequest(
                    name=f"Synthetic bench {i:03d}",
                    lab=f"Synthetic Bench Lab {i % 4}",
                    date="2026-06-01",
                    distinct=True,
                    scores=(
                        ScoreInput("swe_bench_verified", round(min(99.0, max(2.0, x.value + rng.gauss(0, 4))), 1)),
                        ScoreInput("gpqa_diamond", round(min(99.0, max(2.0, y.value + rng.gauss(0, 4))), 1)),
                    ),
                ),
                today=dt.date(2026, 11, 30),
            )
        n = len(select_frontier(session).pairs("swe_bench_verified", "gpqa_diamond"))
    engine.dispose()
    return len(pairs), n


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--fit-rounds", type=int, default=2)
    parser.add_argument("--add-rounds", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-bench-living-"))
    url = f"sqlite:///{folder / 'living.db'}"
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": url, "PHASEWATCH_TODAY": "2026-11-30", "COLUMNS": "160"}
    timed(["init"], env)
    bundled, n = grow(url, args.models, seed=1)
    print(f"live panel: {n} models with both scores ({n - bundled} synthetic, timing only)\n")
    loads = {"start": os.getloadavg()[0]}
    fits = [timed(["fit", "--panel", "frontier", "--json"], env)[0] for _ in range(args.fit_rounds)]
    loads["after the fits"] = os.getloadavg()[0]
    adds = []
    for i in range(args.add_rounds):
        seconds, _ = timed(
            [
                "releases",
                "add",
                f"Bench release {i}",
                "--lab",
                "Anthropic",
                "--date",
                "2026-11-30",
                "--distinct",
                "--score",
                f"swe_bench_verified={80 + i / 10:.1f}",
                "--score",
                f"gpqa_diamond={90 + i / 10:.1f}",
                "--source",
                "https://example.org/bench",
            ],
            env,
        )
        adds.append(seconds)
    loads["end"] = os.getloadavg()[0]
    shown = ", ".join(f"{when} {value:.2f}" for when, value in loads.items())
    print(f"SQLite, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; 1-minute load average: {shown}\n")
    print("| command | median (s) | min | max | runs |")
    print("|---|---|---|---|---|")
    for name, values in (
        (f"phasewatch fit --panel frontier ({n} models, 4 chains x (1000 tune + 2000 draws))", fits),
        ("phasewatch releases add … (verdict, grades, staleness vs the live panel)", adds),
    ):
        print(f"| `{name}` | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | {len(values)} |")


if __name__ == "__main__":
    main()
