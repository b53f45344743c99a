"""Whole-process wall time of the registry commands (run by hand, not a test).

Each round runs every command once, in turn, so machine noise hits all of them
alike; the table reports the median, min and max over the rounds. phasewatch's own
modules are compiled first and read from cached bytecode, as an installed package runs
(``bench/bytecode.py``).

    .venv/bin/python bench/bench_cli.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import cached, compile_project  # this script's folder is on sys.path
from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-bench-"))
    compile_project()
    loaded = {
        **cached(dict(os.environ)),
        "PHASEWATCH_DATABASE_URL": f"sqlite:///{folder / 'loaded.db'}",
        "COLUMNS": "160",
    }
    timed(["init"], loaded)
    cases: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "phasewatch --help": (["--help"], loaded),
        "phasewatch init (empty database: migrate + load all bundled data)": (["init"], None),
        "phasewatch init (already loaded: no-op)": (["init"], loaded),
        "phasewatch models list (220 models, table)": (["models", "list"], loaded),
        "phasewatch models list --panel growing-pains-34 --json": (
            ["models", "list", "--panel", "growing-pains-34", "--json"],
            loaded,
        ),
        "phasewatch models show 'Claude Opus 4.6'": (["models", "show", "Claude Opus 4.6"], loaded),
        "phasewatch predictions list --json (grade 7 as of today)": (["predictions", "list", "--json"], loaded),
        "phasewatch predictions grade (grade 7, store, print evidence)": (["predictions", "grade"], loaded),
        "phasewatch predictions verify": (["predictions", "verify"], loaded),
        "phasewatch saturation --json": (["saturation", "--json"], loaded),
        "phasewatch phase families --json (21 families, permutation p)": (["phase", "families", "--json"], loaded),
        "phasewatch phase reproduce (4 x 10,000 bootstrap resamples)": (["phase", "reproduce", "--json"], loaded),
        "phasewatch phase classify": (
            ["phase", "classify", "--params-b", "1.4", "--hellaswag", "52", "--truthfulqa", "38.7"],
            loaded,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, (args, env) in cases.items():
            if env is None:  # a fresh, empty database each round
                env = {**loaded, "PHASEWATCH_DATABASE_URL": f"sqlite:///{folder / f'fresh{round_}.db'}"}
            times[name].append(timed(args, env))
    print(f"{rounds} rounds, SQLite, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print("| command | median (s) | min | max |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| `{name}` | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
