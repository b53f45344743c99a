"""Does the default `phasewatch fit` pass its own gate (r_hat < 1.01, bulk and
tail ESS >= 400, no divergences) on every seed, with cold and with warm
compile caches? One whole process per fit, as a user runs it.

Run by hand (long: one fit per seed × cache state × panel):
    .venv/bin/python bench/bench_fit_gate.py [--seeds 10] [--panel growing-pains-34 --panel sourced-2026-11]

"cold" = empty NUMBA_CACHE_DIR and PYTENSOR_FLAGS=base_compiledir for that
run; "warm" = caches filled by one untimed fit before the table. Prints a
markdown table (seed × cold/warm × r_hat, ESS, divergences, time) and the
pass counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path

EXE = str(Path(sys.executable).with_name("phasewatch"))


def caches(folder: Path) -> dict[str, str]:
    return {"PYTENSOR_FLAGS": f"base_compiledir={folder / 'pytensor'}", "NUMBA_CACHE_DIR": str(folder / "numba")}


def fit(panel: str, seed: int, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [EXE, "fit", "--panel", panel, "--seed", str(seed), "--json"], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"fit --panel {panel} --seed {seed} failed: {done.stderr.strip()[-400:]}")
    return {**json.loads(done.stdout), "wall_s": elapsed}


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--panel", action="append", default=[])
    args = parser.parse_args()
    panels = args.panel or ["growing-pains-34", "sourced-2026-11"]
    work = Path(tempfile.mkdtemp(prefix="phasewatch-bench-gate-"))
    db = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
    subprocess.run([EXE, "init"], env=db, capture_output=True, check=True)
    warm = {**db, **caches(work / "warm")}
    fit(panels[0], 0, warm)  # fills the warm caches (untimed)
    print(f"{args.seeds} seeds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n", flush=True)
    print(
        "| panel | seed | caches | max r_hat | min bulk ESS | min tail ESS | divergences | passes | whole process (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    passed: dict[tuple[str, str], list[bool]] = {}
    for seed in range(1, args.seeds + 1):  # seeds outermost: a run cut short still covers every panel
        for panel in panels:
            for state in ("cold", "warm"):
                folder = work / f"cold-{panel}-{seed}"
                env = {**db, **caches(folder)} if state == "cold" else warm
                result = fit(panel, seed, env)
                shutil.rmtree(folder, ignore_errors=True)
                d = result["diagnostics"]
                ok = bool(result["converged"])
                passed.setdefault((panel, state), []).append(ok)
                print(
                    f"| {panel} | {seed} | {state} | {d['max_r_hat']:.4f} | {d['min_ess_bulk']:.0f} | "
                    f"{d['min_ess_tail']:.0f} | {d['divergences']} | {'yes' if ok else 'NO'} | {result['wall_s']:.1f} |",
                    flush=True,
                )
    print()
    for (panel, state), oks in passed.items():
        print(f"- {panel}, {state} caches: {sum(oks)}/{len(oks)} seeds pass the gate")


if __name__ == "__main__":
    main()
