"""The registry commands of issue #16 item 4 at 100,000 observations, own process and served (run by hand).

Copies the given SQLite registry (or, without one, builds it: ``phasewatch init``, then
``scores import`` of ``bench/bench_scale.py``'s 10,000 synthetic models × 10 scores, then
``phasewatch fit --panel growing-pains-34`` so that each release gets its verdict) to a
temporary folder, upgrades it, grades once
(the first grading seals each prediction's state, verifies the logs and keeps its input),
then times whole processes, round by round, next to ``phasewatch --help`` (start-up alone):

- ``predictions grade`` with nothing changed since the last grading;
- ``predictions grade`` after an outside change (a raw SQL update of one observation, as
  an import or another client makes): the logs are verified again and the input read again;
- ``releases add`` of a new release with both scores of the fit (its verdict, the
  predictions it moved, the staleness of the fit), one after the other;
- ``models list --limit 20`` and ``models show`` of one model;
- ``--help``, the two listings and the three commands above again, each handed to a
  command server (``cli/command_server.py``, started by this script in a private data
  folder) that forks a child per command from a process that has imported phasewatch
  already; the rows above run every command in its own process (``PHASEWATCH_SERVER=off``).

phasewatch's own modules are compiled first and read from cached bytecode, as an installed
package runs; ``--help`` and ``releases add`` are also timed, in the same rounds, with
them compiled from source in each process (``bench/bytecode.py``), as a shell with
``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` runs them.

Reports the median wall time and the median CPU time (user + system) of each (of a served
command, the client's alone: its work is done in the server's child)::

    .venv/bin/python bench/bench_grade_scale.py [REGISTRY.db] [--rounds 5] [--today YYYY-MM-DD]

``--today`` defaults to the day the registry's newest observation was logged: the
database stamps ``created_at`` with its own clock, so an earlier "today" would leave the
figures logged since out of every grading (fewer releases graded, a faster, false figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import cached, compile_project, from_source  # this script's folder is on sys.path
from served import command_server_for, commands_served, own_process, own_processes_only

EXE = str(Path(sys.executable).with_name("phasewatch"))
SHOWN = "Claude Opus 4.7"  # a bundled model: its figures, aliases and history


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"phasewatch {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def logged_on(db: Path) -> str:
    """The day the registry's newest observation was logged (as the database stamped it)."""
    with sqlite3.connect(db) as conn:
        (newest,) = conn.execute("SELECT max(created_at) FROM observations").fetchone()
    return str(newest)[:10]


def build(folder: Path, today: str | None) -> Path:
    """The registry of ``bench/bench_scale.py`` (10,220 models, ~102,000 observations) with one fit."""
    from bench_scale import build_registry  # this script's folder is on sys.path

    built = build_registry(folder, 10_000, 10)
    env = {**built.env, "PHASEWATCH_TODAY": today or logged_on(folder / "scale.db")}
    subprocess.run([EXE, "fit", "--panel", "growing-pains-34"], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"built: {built.rows} rows imported in {built.import_seconds:.1f} s, then one fit")
    return folder / "scale.db"


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path, nargs="?", help="a SQLite registry (default: build one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--today", help="the injected date (default: the day of the newest observation)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "registry.db"
        shutil.copyfile(args.registry or build(Path(folder), args.today), db)
        os.chmod(db, 0o600)
        args.today = args.today or logged_on(db)
        print(f"today (injected): {args.today}")
        url = {"PHASEWATCH_DATABASE_URL": f"sqlite:///{db}", "PHASEWATCH_TODAY": args.today}
        env = own_process(cached({**os.environ, **url}))
        compile_project()
        subprocess.run([EXE, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
        first = timed(["predictions", "grade"], env)
        print(f"first grading (seals the states): {first[0]:.3f} s wall, {first[1]:.3f} s CPU")

        def outside_change() -> None:
            with sqlite3.connect(db) as conn:
                conn.execute("UPDATE observations SET value = value WHERE id = (SELECT min(id) FROM observations)")

        def release(i: int) -> list[str]:
            scores = [f"swe_bench_verified={60 + i % 30}.5", f"gpqa_diamond={70 + i % 25}.5"]
            options = ["--lab", "Google", "--date", f"2026-06-{1 + i % 28:02d}", "--distinct"]
            source = ["--source", f"https://bench.example/release-{i}"]
            return [
                "releases",
                "add",
                f"Bench Release {i:03d}",
                *options,
                *source,
                "--score",
                scores[0],
                "--score",
                scores[1],
            ]

        names = [
            "phasewatch --help",
            "phasewatch predictions grade (nothing changed since the last grading or release)",
            "phasewatch predictions grade (after an outside change: verify and read again)",
            "phasewatch releases add (verdict, predictions moved, staleness)",
            "phasewatch --help (own code compiled from source in each process)",
            "phasewatch releases add (own code compiled from source in each process)",
            "phasewatch models list --limit 20",
            "phasewatch models show (one model with its figures)",
            "served: phasewatch --help",
            "served: phasewatch models list --limit 20",
            "served: phasewatch models show (one model with its figures)",
            "served: phasewatch predictions grade (nothing changed)",
            "served: phasewatch predictions grade (after an outside change)",
            "served: phasewatch releases add",
        ]
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        with command_server_for(cached({**os.environ, **url})) as served_env:
            for i in range(args.rounds):
                results[names[0]].append(timed(["--help"], env))
                results[names[1]].append(timed(["predictions", "grade"], env))
                outside_change()
                results[names[2]].append(timed(["predictions", "grade"], env))
                results[names[3]].append(timed(release(3 * i), env))  # the next round's first grading follows it
                with from_source(env) as source_env:
                    results[names[4]].append(timed(["--help"], source_env))
                    results[names[5]].append(timed(release(3 * i + 1), source_env))
                results[names[6]].append(timed(["models", "list", "--limit", "20"], env))
                results[names[7]].append(timed(["models", "show", SHOWN], env))
                results[names[8]].append(timed(["--help"], served_env))
                results[names[9]].append(timed(["models", "list", "--limit", "20"], served_env))
                results[names[10]].append(timed(["models", "show", SHOWN], served_env))
                results[names[11]].append(timed(["predictions", "grade"], served_env))
                outside_change()
                results[names[12]].append(timed(["predictions", "grade"], served_env))
                results[names[13]].append(timed(release(3 * i + 2), served_env))
            served = commands_served(served_env)
        if served != 6 * args.rounds:
            raise SystemExit(f"the command server ran {served} commands, not {6 * args.rounds}")
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
