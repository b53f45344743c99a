"""This tree against an earlier checkout of phasewatch, on two copies of one registry,
interleaved round by round (run by hand, not a test).

``--baseline DIR`` is a checkout (``git worktree add DIR <commit>``); its packages are put
first on ``PYTHONPATH`` for the baseline's processes, so both run with this virtual
environment. Each tree gets its own copy of the registry (a kept grading input is trusted
only by the code that wrote it, so sharing one copy would make each tree throw away the
other's). Both trees' modules are compiled first (cached bytecode, as installed). Per round
and tree: ``predictions grade`` with nothing changed, ``predictions grade`` after an
outside change, and ``releases add`` with its verdict::

    .venv/bin/python bench/bench_baseline.py REGISTRY.db --baseline DIR [--rounds 5] [--today YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from bench_grade_scale import EXE, logged_on, timed  # this script's folder is on sys.path
from bytecode import PACKAGES, cached, compile_project
from served import own_processes_only  # this script's folder is on sys.path
from sidebyside import print_table


def _tree_path(baseline: Path, folder: Path) -> str:
    """A folder holding ``phasewatch/<package>`` links into ``baseline``, for ``PYTHONPATH``."""
    namespace = folder / "baseline-path" / "phasewatch"
    namespace.mkdir(parents=True)
    for package in (*PACKAGES, "docs"):
        if (baseline / package).is_dir():
            (namespace / package).symlink_to(baseline / package)
            compileall.compile_dir(baseline / package, quiet=1)
    return str(namespace.parent)


def _release(tree: str, i: int) -> list[str]:
    scores = [f"swe_bench_verified={60 + i % 30}.5", f"gpqa_diamond={70 + i % 25}.5"]
    return [
        "releases",
        "add",
        f"Baseline Bench {tree} {i:03d}",
        "--lab",
        "Google",
        "--date",
        f"2026-06-{1 + i % 28:02d}",
        "--distinct",
        "--score",
        scores[0],
        "--score",
        scores[1],
    ]


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path, help="a SQLite registry (copied, once per tree)")
    parser.add_argument("--baseline", type=Path, required=True, help="an earlier checkout of phasewatch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--today", help="the injected date (default: the day of the newest observation)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        today = args.today or logged_on(args.registry)
        compile_project()
        base_path = _tree_path(args.baseline.resolve(), Path(folder))
        envs: dict[str, dict[str, str]] = {}
        dbs: dict[str, Path] = {}
        for tree in ("baseline", "this tree"):
            dbs[tree] = Path(folder) / f"{tree.replace(' ', '-')}.db"
            shutil.copyfile(args.registry, dbs[tree])
            os.chmod(dbs[tree], 0o600)
            env = cached({**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{dbs[tree]}", "PHASEWATCH_TODAY": today})
            if tree == "baseline":
                env["PYTHONPATH"] = base_path
            envs[tree] = env
            subprocess.run([EXE, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([EXE, "predictions", "grade"], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"today (injected): {today}; baseline: {args.baseline}")
        rows = ("predictions grade (unchanged)", "predictions grade (after an outside change)", "releases add")
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for i in range(args.rounds):
            for tree, env in envs.items():
                results.setdefault((rows[0], tree), []).append(timed(["predictions", "grade"], env))
                with sqlite3.connect(dbs[tree]) as conn:
                    conn.execute("UPDATE observations SET value = value WHERE id = (SELECT min(id) FROM observations)")
                results.setdefault((rows[1], tree), []).append(timed(["predictions", "grade"], env))
                results.setdefault((rows[2], tree), []).append(timed(_release(tree.split()[0], i), env))
        table = {row: (results[(row, "baseline")], results[(row, "this tree")]) for row in rows}
        print_table(table, "baseline", "this tree", args.rounds)
        print(f"phasewatch: {EXE}")


if __name__ == "__main__":
    main()
