"""How fast is a fit, and how does it grow? (issue #13 item 5)

Part 1, whole process, side by side in one run (`phasewatch fit` on growing-pains-34,
the default model, 4 chains × (1000 tune + 2000 draws)), each round running every case
once, in turn:

- `fit` with the fit server running and holding the compiled model (a refit);
- `fit --no-server`, warm numba/pytensor caches (the model compiled in the process);
- `fit --no-server --sampler pymc`, warm caches: PyMC's default NUTS sampler (`pm.sample`);
- `fit`, cold: empty NUMBA_CACHE_DIR, pytensor compiledir and data directory (no server
  running: this fit starts it, and it compiles with the empty caches);
- `fit --no-server`, cold: the same without the server.

Part 2, scaling, in one process (the fit server's own path, services.fitting.CompiledModels):
synthetic data from the bounded model at 34, 300 and 3,000 models across 10 and 100 labs:
compile, sampling, summary (+ the stored DataTree), whether the gate passed (with the CLI's
one retry if not), the parametrisation chosen by the data, and a verdict's time against
the stored posterior.

Run by hand (long; minutes):
    .venv/bin/python bench/bench_fit_speed.py [--rounds 3] [--skip-scaling] [--skip-whole]
"""

from __future__ import annotations

import argparse
import json
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


def caches(folder: Path) -> dict[str, str]:
    return {
        "PYTENSOR_FLAGS": f"base_compiledir={folder / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(folder / "numba"),
        "XDG_DATA_HOME": str(folder / "data"),
    }


def timed_fit(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([EXE, "fit", *args, "--json"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 4):
        raise SystemExit(f"fit {' '.join(args)} failed: {done.stderr.strip()[-600:]}")
    return elapsed, json.loads(done.stdout)


def stop_server(env: dict[str, str]) -> None:
    subprocess.run([EXE, "fit-server", "stop"], env=env, capture_output=True)


def whole_process(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="phasewatch-bench-speed-"))
    db = {**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
    db.pop("PHASEWATCH_FIT_SERVER", None)
    subprocess.run([EXE, "init"], env=db, capture_output=True, check=True)
    warm = {**db, **caches(work / "warm")}
    timed_fit(["--no-server"], warm)  # fills the warm caches (untimed)
    timed_fit(["--no-server", "--sampler", "pymc"], warm)
    timed_fit([], warm)  # starts the server, which compiles the model once (untimed)
    cases = {
        "`fit` (fit server running, model compiled: a refit)": ([], "warm"),
        "`fit --no-server`, warm caches": (["--no-server"], "warm"),
        "`fit --no-server --sampler pymc` (PyMC's default NUTS, `pm.sample`), warm caches": (
            ["--no-server", "--sampler", "pymc"],
            "warm",
        ),
        "`fit`, cold: empty caches and data directory, no server running (starts one)": ([], "cold"),
        "`fit --no-server`, cold: empty caches": (["--no-server"], "cold"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    gate: dict[str, list[bool]] = {name: [] for name in cases}
    phases: dict[str, list[dict]] = {name: [] for name in cases}
    try:
        for r in range(rounds):
            for name, (args, state) in cases.items():
                folder = work / f"cold-{r}-{len(times[name])}"
                env = {**db, **caches(folder)} if state == "cold" else warm
                elapsed, result = timed_fit([*args, "--seed", str(r + 1)], env)
                if state == "cold":
                    stop_server(env)
                    shutil.rmtree(folder, ignore_errors=True)
                times[name].append(elapsed)
                gate[name].append(bool(result["accepted"]))
                phases[name].append({**result.get("timings", {}), "via": result.get("via", "")})
                print(f"round {r + 1}: {name}: {elapsed:.2f} s ({phases[name][-1]})", file=sys.stderr, flush=True)
    finally:
        stop_server(warm)
    print(
        f"\n{rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average at the end "
        f"{os.getloadavg()[0]:.1f}; growing-pains-34, default model, 4 chains × (1000 tune + 2000 draws)\n"
    )
    print(
        "| whole process | median (s) | min | max | runs | passed the gate | sampled | median compile / sample / summary (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, values in times.items():
        ph = phases[name]
        med = [statistics.median(p.get(k, 0.0) for p in ph) for k in ("compile_s", "sample_s", "summary_s")]
        print(
            f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | {len(values)} | "
            f"{sum(gate[name])}/{len(values)} | {ph[-1]['via']} | {med[0]:.2f} / {med[1]:.2f} / {med[2]:.2f} |"
        )
    names = list(times)
    server, pymc = statistics.median(times[names[0]]), statistics.median(times[names[2]])
    nutpie = statistics.median(times[names[1]])
    print(
        f"\nratio of medians, PyMC default sampler / `fit` with the server: {pymc / server:.2f}x; "
        f"`fit --no-server` / `fit` with the server: {nutpie / server:.2f}x"
    )


# --- scaling ---------------------------------------------------------------------------------------

TRUTH = {"mu_a": 0.85, "mu_b": 0.8, "sigma_a": 0.4, "sigma_b": 0.2, "sigma": 0.25, "nu": 8.0}


def synthetic(n: int, labs: int, seed: int):
    """``n`` models across ``labs`` labs of uneven size (every lab at least one), bounded scale."""
    import numpy as np

    from phasewatch.models.coupling import CouplingData

    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(labs, 2.0))
    counts = 1 + rng.multinomial(n - labs, weights)
    lab_of = np.repeat(np.arange(labs), counts)
    a = TRUTH["mu_a"] + TRUTH["sigma_a"] * rng.standard_normal(labs)
    b = TRUTH["mu_b"] + TRUTH["sigma_b"] * rng.standard_normal(labs)
    x = rng.uniform(-2.0, 2.5, n)
    x_ref = float(np.log(0.6 / 0.4))
    y = a[lab_of] + b[lab_of] * (x - x_ref) + TRUTH["sigma"] * rng.standard_t(TRUTH["nu"], n)
    pct = lambda v: 100.0 / (1.0 + np.exp(-v))  # noqa: E731
    return CouplingData(tuple(f"s{i}" for i in range(n)), tuple(f"lab{j:03d}" for j in lab_of), pct(x), pct(y))


def scaling(sizes: list[tuple[int, int]]) -> None:
    import numpy as np

    from phasewatch.models.coupling import ModelSpec, Posterior, SamplerSettings, check_release
    from phasewatch.services.fitting import CompiledModels, stronger

    spec = ModelSpec("logit", "partial")
    models = CompiledModels()
    rows = []
    for n, labs in sizes:
        data = synthetic(n, labs, seed=n + labs)
        settings = SamplerSettings()
        outcome = models.outcome(data, spec, None, settings)
        tries = 1
        if not outcome.diagnostics.converged:
            first = outcome
            outcome = models.outcome(data, spec, None, stronger(settings))
            outcome.timings["first_try"] = first.timings  # type: ignore[index]
            tries = 2
        blob = outcome.posterior.to_bytes()
        verdicts = []
        for i in range(20):
            start = time.perf_counter()
            posterior = Posterior.from_bytes(blob)
            check_release(posterior, "new", data.labs[i], float(data.x[i]), float(data.y[i]), seed=i)
            verdicts.append(time.perf_counter() - start)
        d = outcome.diagnostics
        counts = np.unique(np.asarray(data.labs), return_counts=True)[1]
        row = {
            "models": n,
            "labs": labs,
            "median per lab": float(np.median(counts)),
            "parametrisation": outcome.parametrisation,
            **{k: v for k, v in outcome.timings.items() if k != "first_try"},
            "first_try": outcome.timings.get("first_try"),
            "tries": tries,
            "passed": d.converged,
            "max_r_hat": d.max_r_hat,
            "min_ess": min(d.min_ess_bulk, d.min_ess_tail),
            "divergences": d.divergences,
            "verdict_ms": 1000 * statistics.median(verdicts),
            "tree_mb": len(outcome.tree) / 1e6,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"\nscaling, one process, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average at the end "
        f"{os.getloadavg()[0]:.1f}; bounded hierarchical model, 4 chains × (1000 tune + 2000 draws)\n"
    )
    print(
        "| models | labs | median per lab | lab effects | compile (s) | sampling (s) | summary + DataTree (s) | "
        "gate | max r_hat | min ESS | divergences | verdict (ms) | stored DataTree (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gate = ("passed" if r["passed"] else "FAILED") + (" (after the one retry)" if r["tries"] == 2 else "")
        print(
            f"| {r['models']} | {r['labs']} | {r['median per lab']:.0f} | {r['parametrisation']} | "
            f"{r['compile_s']:.1f} | {r['sample_s']:.1f} | {r['summary_s']:.1f} | {gate} | {r['max_r_hat']:.4f} | "
            f"{r['min_ess']:.0f} | {r['divergences']} | {r['verdict_ms']:.0f} | {r['tree_mb']:.1f} |"
        )


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-whole", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument(
        "--sizes", default="34x10,300x10,300x100,3000x10,3000x100", help="models x labs, comma-separated"
    )
    args = parser.parse_args()
    if not args.skip_whole:
        whole_process(args.rounds)
    if not args.skip_scaling:
        scaling([tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")])  # type: ignore[misc]


if __name__ == "__main__":
    main()
