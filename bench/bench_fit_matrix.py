"""How long does `phasewatch fit-matrix` take, and does it pass its gate on every seed?
One whole process per fit, as a user runs it, on a fresh `phasewatch init` registry.

Run by hand:
    .venv/bin/python bench/bench_fit_matrix.py [--seeds 3] [--min-models 10]

Prints a markdown table (seed × whole-process wall time, the model's compile and sampling
time as the fit stores them, r_hat, ESS, divergences) and the medians. Caches are those of the
environment (pytensor's compile directory persists between runs; nutpie's numba callbacks do
not), so the first row may include pytensor's compiles.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def fit(seed: int, min_models: int, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [EXE, "fit-matrix", "--seed", str(seed), "--min-models", str(min_models), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 4):
        raise SystemExit(f"fit-matrix --seed {seed} failed: {done.stderr.strip()[-400:]}")
    return {**json.loads(done.stdout), "wall_s": elapsed}


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--min-models", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phasewatch-bench-matrix-"))
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
    subprocess.run([EXE, "init"], env=env, capture_output=True, check=True)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, today {env.get('PHASEWATCH_TODAY', 'the wall clock')}\n"
    )
    print(
        "| seed | benchmarks | models | whole process (s) | fit (s) | compile (s) | sampling (s) | max r_hat | min bulk/tail ESS | divergences | passes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for seed in range(1, args.seeds + 1):
        r = fit(seed, args.min_models, env)
        d, t = r["diagnostics"], r["timings"]
        rows.append(r)
        print(
            f"| {seed} | {len(r['benchmarks'])} | {len(r['models'])} | {r['wall_s']:.1f} | {r['elapsed_s']:.1f} | "
            f"{t['compile_s']:.1f} | {t['sample_s']:.1f} | {d['max_r_hat']:.4f} | "
            f"{d['min_ess_bulk']:.0f}/{d['min_ess_tail']:.0f} | {d['divergences']} | {'yes' if r['converged'] else 'NO'} |",
            flush=True,
        )
    median = statistics.median
    print(
        f"\nmedian whole process {median(r['wall_s'] for r in rows):.1f} s, fit {median(r['elapsed_s'] for r in rows):.1f} s "
        f"(compile {median(r['timings']['compile_s'] for r in rows):.1f} s, sampling "
        f"{median(r['timings']['sample_s'] for r in rows):.1f} s); {sum(r['converged'] for r in rows)}/{len(rows)} pass"
    )


if __name__ == "__main__":
    main()
