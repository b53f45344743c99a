"""The registry at scale: 100,000 observations of 10,000 models (run by hand, not a test).

Builds a registry from the bundled data plus a generated CSV (synthetic models of
the bundled labs, ten scores each, every row with a source URL), imports it with
`phasewatch scores import` (timed, peak memory of that process), then times the
everyday commands against it, round by round, whole process:

    .venv/bin/python bench/bench_scale.py [--models 10000] [--per-model 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one whole `phasewatch` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[:500]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--per-model", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-scale-"))
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{folder / 'scale.db'}", "COLUMNS": "160"}
    env.setdefault("PHASEWATCH_TODAY", "2026-12-01")
    run(["init"], env)
    data = folder / "scale.csv"
    rows = write_csv(data, args.models, args.per_model)
    seconds, peak = run(["scores", "import", str(data)], env)
    print(f"import: {rows} rows in {seconds:.1f} s = {rows / seconds:.0f} rows/s; peak RSS {peak:.0f} MiB")
    probe = f"Scale Model {args.models // 2:05d}"
    cases = {
        "models list (all, table)": ["models", "list"],
        "models list --lab DeepSeek --json": ["models", "list", "--lab", "DeepSeek", "--json"],
        f"models show '{probe}'": ["models", "show", probe],
        "predictions grade": ["predictions", "grade"],
    }
    times: dict[str, list[float]] = {name: [] for name in [*cases, "releases add (with verdict and re-grading)"]}
    for round_ in range(args.rounds):
        for name, command in cases.items():
            times[name].append(run(command, env)[0])
        add = [
            "releases",
            "add",
            f"Scale Release {round_}",
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
        ]
        times["releases add (with verdict and re-grading)"].append(run(add, env)[0])
    print(f"\n{args.models} models, {rows} generated observations (+ the bundled data), {args.rounds} rounds\n")
    print("| command | median (s) | min | max |\n|---|---|---|---|")
    for name, values in times.items():
        print(f"| `phasewatch {name}` | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
