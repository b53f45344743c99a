"""CLI start-up: the lean command tree and plain option coercion against Typer's defaults
(run by hand, not a test).

Times whole processes, round by round on one registry, two ways:

- ``lean``: as ``phasewatch`` runs (``cli/app.for_arguments`` builds Click's tree for the
  one group the command names; ``cli/coercion.py`` coerces plain option values without
  pydantic);
- ``typer``: the same modules with Typer's defaults (the whole tree, every value through
  a pydantic ``TypeAdapter``), as phasewatch ran before 2026-12-02.

Reports the median wall and CPU time of each and the ratio::

    .venv/bin/python bench/bench_startup.py REGISTRY.db [--rounds 7] [--today YYYY-MM-DD]

``REGISTRY.db`` is copied first; ``releases add`` adds a new release to the copy each
round (both ways alike).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import cached, compile_project  # this script's folder is on sys.path
from served import own_processes_only
from sidebyside import print_table

DRIVER = """
import sys
way = sys.argv.pop(1)
if way == "typer":
    from phasewatch.cli import coercion
    coercion.install = lambda: None  # Typer's own pydantic coercion
from phasewatch.cli import app
app.tune_collector()
(app.app if way == "typer" else app.for_arguments(sys.argv[1:]))()
"""


def timed(way: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, way, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{way} {' '.join(args)} failed with exit code {done.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path, help="a SQLite registry (copied first)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--today", help="the injected date (default: the wall clock's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "registry.db"
        shutil.copyfile(args.registry, db)
        os.chmod(db, 0o600)
        env = cached({**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{db}"})
        if args.today:
            env["PHASEWATCH_TODAY"] = args.today
        compile_project()
        commands = {
            "models list --limit 20": ["models", "list", "--limit", "20"],
            "models show <one>": ["models", "show", "Claude Opus 4.6"],
            "predictions list": ["predictions", "list"],
        }
        results: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for i in range(args.rounds):
            for way in ("typer", "lean"):
                for name, command in commands.items():
                    results.setdefault(name, {}).setdefault(way, []).append(timed(way, command, env))
                release = [
                    "releases",
                    "add",
                    f"Startup Bench {way} {i}",
                    "--lab",
                    "Google",
                    "--date",
                    "2026-06-01",
                    "--distinct",
                    "--score",
                    f"swe_bench_verified={60 + i}.5",
                    "--score",
                    f"gpqa_diamond={70 + i}.5",
                ]
                results.setdefault("releases add (verdict)", {}).setdefault(way, []).append(timed(way, release, env))
        table = {name: (ways["typer"], ways["lean"]) for name, ways in results.items()}
        print_table(table, "Typer defaults", "lean", args.rounds)


if __name__ == "__main__":
    main()
