"""Whole-process time of `phasewatch fit` (nutpie vs PyMC's own NUTS, cold and
warm compile caches) and of `phasewatch releases add` with its verdict.

Run by hand (minutes): .venv/bin/python bench/bench_fit.py [--rounds 3]

"cold" = empty pytensor and numba caches for that run; "warm" = caches left by
an earlier run. Each round runs every case once, in turn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return time.perf_counter() - start


def caches(folder: Path) -> dict[str, str]:
    return {"PYTENSOR_FLAGS": f"base_compiledir={folder / 'pytensor'}", "NUMBA_CACHE_DIR": str(folder / "numba")}


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    work = Path(tempfile.mkdtemp(prefix="phasewatch-bench-fit-"))
    db = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
    warm = {sampler: {**db, **caches(work / f"warm-{sampler}")} for sampler in ("nutpie", "pymc")}
    timed(["init"], db)
    for sampler in warm:  # fill the warm caches (and leave an accepted nutpie fit for the verdicts)
        timed(["fit", "--sampler", sampler], warm[sampler])
    times: dict[str, list[float]] = {}
    for r in range(rounds):
        for sampler in ("nutpie", "pymc"):
            cold_dir = work / f"cold-{sampler}-{r}"
            times.setdefault(f"fit --sampler {sampler}, cold caches", []).append(
                timed(["fit", "--sampler", sampler], {**db, **caches(cold_dir)})
            )
            shutil.rmtree(cold_dir, ignore_errors=True)
            times.setdefault(f"fit --sampler {sampler}, warm caches", []).append(
                timed(["fit", "--sampler", sampler], warm[sampler])
            )
        for i in range(3):
            times.setdefault("releases add (with h-field and verdict)", []).append(
                timed(
                    [
                        "releases",
                        "add",
                        f"Bench Release {r}-{i}",
                        "--lab",
                        "Anthropic",
                        "--date",
                        "2026-04-16",
                        "--score",
                        "swe_bench_verified=87.6",
                        "--score",
                        "gpqa_diamond=94.2",
                    ],
                    db,
                )
            )
    print(
        f"{rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; default model, 4 chains x (1000 tune + 2000 draws)\n"
    )
    print("| command | median (s) | min | max | runs |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        print(
            f"| `phasewatch {name}` | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | {len(values)} |"
        )
    for state in ("cold", "warm"):
        ratio = statistics.median(times[f"fit --sampler pymc, {state} caches"]) / statistics.median(
            times[f"fit --sampler nutpie, {state} caches"]
        )
        print(f"\nPyMC NUTS / nutpie, {state} caches (ratio of medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
