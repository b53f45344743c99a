"""The registry at scale: 100,000 observations of 10,000 models (run by hand, not a test).

`build_registry(folder, n_models, per_model)` makes such a registry the way a user
would: `phasewatch init`, then `phasewatch scores import` of a generated CSV (synthetic
models of the bundled labs, one score per benchmark, every row with a source URL),
timing the import and its peak memory. `main()` then times the everyday commands
against it, whole process, interleaved round by round, and prints medians:

    .venv/bin/python bench/bench_scale.py [--models 10000] [--per-model 10] [--rounds 5] [--postgres]

`--postgres` also imports the same file once into a throwaway PostgreSQL server
(started like the test fixture in tests/conftest.py) and reports its speed.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))
LABS = ("Anthropic", "OpenAI", "Google", "DeepSeek", "Meta", "Alibaba", "Moonshot", "xAI", "Zhipu", "MiniMax")
BENCHMARKS = (
    "swe_bench_verified",
    "gpqa_diamond",
    "hle",
    "ifeval",
    "aime_2025",
    "mmlu_pro",
    "arc_agi_2",
    "hellaswag",
    "truthfulqa_mc2",
    "mmlu",
)


def write_csv(path: Path, n_models: int, per_model: int, seed: int = 0) -> int:
    """A `scores import` CSV of ``n_models`` synthetic models × ``per_model`` benchmarks; returns its rows."""
    rng = random.Random(seed)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "lab", "kind", "release_date", "benchmark", "value", "reported_by", "source_url"])
        for i in range(n_models):
            lab = LABS[i % len(LABS)]
            day = f"{2023 + i % 3}-{1 + i % 12:02d}-{1 + i % 28:02d}"
            for benchmark in BENCHMARKS[:per_model]:
                value = round(rng.uniform(20, 95), 1)
                writer.writerow(
                    [
                        f"Scale Model {i:05d}",
                        lab,
                        "frontier",
                        day,
                        benchmark,
                        value,
                        "third_party",
                        f"https://bench.example/scale/{i}",
                    ]
                )
                rows += 1
    return rows


@dataclass(frozen=True)
class Run:
    seconds: float  # wall
    cpu: float  # user + system CPU seconds of the process: steadier than wall on a shared machine
    peak_mib: float
    stdout: str


def run(args: list[str], env: dict[str, str]) -> Run:
    """One whole `phasewatch` process: wall seconds, its own peak resident memory (MiB, from
    ``os.wait4``'s rusage of that child alone) and its standard output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([EXE, *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({process.returncode}): {err.read().decode()[:500]}")
        return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode())


@dataclass(frozen=True)
class Registry:
    """A built registry: the environment that points `phasewatch` at it, and how its import went."""

    env: dict[str, str]
    rows: int
    import_seconds: float
    import_cpu: float
    import_peak_mib: float
    csv_path: Path

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.import_seconds


def build_registry(
    folder: Path, n_models: int, per_model: int, *, url: str | None = None, csv_path: Path | None = None
) -> Registry:
    """`init` a registry in ``folder`` (or at ``url``), import ``n_models`` × ``per_model`` generated
    rows with `scores import`, and return how long the import took and its peak memory."""
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": url or f"sqlite:///{folder / 'scale.db'}", "COLUMNS": "160"}
    env.setdefault("PHASEWATCH_TODAY", "2026-12-01")
    run(["init"], env)
    if csv_path is None:
        csv_path = folder / "scale.csv"
        rows = write_csv(csv_path, n_models, per_model)
    else:
        with csv_path.open(encoding="utf-8") as handle:
            rows = sum(1 for _ in handle) - 1
    imported = run(["scores", "import", str(csv_path)], env)
    return Registry(env, rows, imported.seconds, imported.cpu, imported.peak_mib, csv_path)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback (as tests/conftest.py starts one); yields a database URL."""
    bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
    base = tempfile.mkdtemp(prefix="phasewatch-pg-bench-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(base, "data")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", f"{base}/log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [*prefix, f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "scale"], check=True
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/scale"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def time_commands(registry: Registry, n_models: int, rounds: int, other_rounds: int) -> dict[str, list[Run]]:
    """Each everyday command, whole process, interleaved round by round; `predictions grade` and
    `releases add` (other commands' work, much slower at this size) after them, ``other_rounds`` times.
    Each figure is also printed to stderr as it comes, so an interrupted run still shows them."""
    probe = f"Scale Model {n_models // 2:05d}"
    cases = {
        "--help (start-up floor on this machine)": ["--help"],
        "models list (default page of 50, table)": ["models", "list"],
        "models list --all (every model, table)": ["models", "list", "--all"],
        "models list --all --format csv": ["models", "list", "--all", "--format", "csv"],
        "models list --lab DeepSeek --json (default page)": ["models", "list", "--lab", "DeepSeek", "--json"],
        f"models show '{probe}'": ["models", "show", probe],
        "models history (no corrections)": ["models", "history", probe],
    }
    others = {
        "predictions grade": lambda _: ["predictions", "grade"],
        "releases add (no fit stored: no verdict; re-grading)": lambda i: [
            "releases",
            "add",
            f"Scale Release {i}",
            "--lab",
            "Google",
            "--date",
            "2026-06-01",
            "--score",
            "swe_bench_verified=71.5",
            "--score",
            "gpqa_diamond=84.5",
            "--source",
            "https://bench.example/release",
        ],
    }
    # the same page and model on a registry of the bundled 220 models only, interleaved: what scale adds
    small = {
        "models list (default page of 50, table), bundled registry of 220 models": ["models", "list"],
        "models show 'Claude Opus 4.6', bundled registry": ["models", "show", "Claude Opus 4.6"],
    }
    small_env = {**registry.env, "PHASEWATCH_DATABASE_URL": f"sqlite:///{registry.csv_path.parent / 'small.db'}"}
    if (
        small_env["PHASEWATCH_DATABASE_URL"] != registry.env["PHASEWATCH_DATABASE_URL"]
        and "sqlite" in small_env["PHASEWATCH_DATABASE_URL"]
    ):
        run(["init"], small_env)
        cases = {**cases, **small}
    times: dict[str, list[Run]] = {name: [] for name in [*cases, *others]}
    todo = [(round_, name, command) for round_ in range(rounds) for name, command in cases.items()]
    todo += [(round_, name, make(round_)) for round_ in range(other_rounds) for name, make in others.items()]
    for round_, name, command in todo:
        if round_ == 0 and name == next(iter(others)):  # the models commands are done: show them first
            _table(times, rounds)
            in_process(registry, n_models)
        done = run(command, small_env if name in small else registry.env)
        times[name].append(done)
        print(f"  round {round_ + 1}: {name}: {done.seconds:.2f} s (CPU {done.cpu:.2f} s)", file=sys.stderr, flush=True)
    if other_rounds == 0:
        _table(times, rounds)
        in_process(registry, n_models)
    return times


def _table(times: dict[str, list[Run]], rounds: int) -> None:
    print(f"\n{rounds} rounds\n", flush=True)
    print("| command | wall median (s) | min | max | CPU median (s) |\n|---|---|---|---|---|")
    for name, runs in times.items():
        if not runs:
            continue
        wall = [r.seconds for r in runs]
        cpu = statistics.median(r.cpu for r in runs)
        print(
            f"| `phasewatch {name}` | {statistics.median(wall):.3f} | {min(wall):.3f} | {max(wall):.3f} | {cpu:.3f} |"
        )
    sys.stdout.flush()


def in_process(registry: Registry, n_models: int, repeats: int = 7) -> None:
    """The queries alone, in one process after a warm-up (no start-up, imports or rendering)."""
    code = f"""
import statistics, time
from phasewatch.registry.db import open_registry, transaction
from phasewatch.registry.queries import page_models, show_model
engine = open_registry()
cases = {{
    "page_models (default page of 50)": lambda s: page_models(s, limit=50),
    "page_models (all {n_models} + bundled)": lambda s: page_models(s),
    "show_model": lambda s: show_model(s, "Scale Model {n_models // 2:05d}"),
}}
for name, case in cases.items():
    times = []
    for _ in range({repeats} + 1):
        start = time.perf_counter()
        with transaction(engine) as session:
            case(session)
        times.append(time.perf_counter() - start)
    print(f"| {{name}} | {{statistics.median(times[1:]):.3f}} | {{min(times[1:]):.3f}} | {{max(times[1:]):.3f}} |")
"""
    done = subprocess.run([sys.executable, "-c", code], env=registry.env, capture_output=True, text=True, check=True)
    print(f"\nIn one process, median of {repeats} after a warm-up (SQL and building the rows)\n")
    print("| query | median (s) | min | max |\n|---|---|---|---|")
    print(done.stdout, end="")


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--per-model", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--other-rounds", type=int, default=1, help="rounds of predictions grade and releases add")
    parser.add_argument("--postgres", action="store_true", help="also time the import into PostgreSQL once")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-scale-"))
    registry = build_registry(folder, args.models, args.per_model)
    print(
        f"SQLite import: {registry.rows} rows in {registry.import_seconds:.1f} s = {registry.rows_per_second:,.0f} "
        f"rows/s (CPU {registry.import_cpu:.1f} s = {registry.rows / registry.import_cpu:,.0f} rows per CPU second); "
        f"peak RSS {registry.import_peak_mib:.0f} MiB"
    )
    again = run(["scores", "import", str(registry.csv_path)], registry.env)
    print(
        f"SQLite re-import (every row already present): {again.seconds:.1f} s (CPU {again.cpu:.1f} s); "
        f"peak RSS {again.peak_mib:.0f} MiB"
    )
    if args.postgres:
        with postgres_server() as url:
            pg = build_registry(folder, args.models, args.per_model, url=url, csv_path=registry.csv_path)
        print(
            f"PostgreSQL import: {pg.rows} rows in {pg.import_seconds:.1f} s = {pg.rows_per_second:,.0f} rows/s "
            f"(CPU of the phasewatch process {pg.import_cpu:.1f} s); peak RSS {pg.import_peak_mib:.0f} MiB"
        )
    print(f"\n{args.models} models, {registry.rows} generated observations (+ the bundled data)", flush=True)
    times = time_commands(registry, args.models, args.rounds, args.other_rounds)
    others = {k: v for k, v in times.items() if k.startswith(("predictions", "releases"))}
    _table(others, args.other_rounds)


if __name__ == "__main__":
    main()
