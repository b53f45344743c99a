"""Sampling time inside one process, once each model is compiled: nutpie vs
PyMC's own NUTS on the same hierarchical model and data (what `coverage`
refits pay per fit). Run by hand: .venv/bin/python bench/bench_sampling.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from phasewatch.models.coupling import CouplingSampler, SamplerSettings
from phasewatch.registry.db import make_engine, transaction, upgrade
from phasewatch.registry.fits import DEFAULT_SPEC, panel_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.seed import seed

    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    upgrade(engine)
    with transaction(engine) as session:
        seed(Catalog(session, bulk=True))
        data = panel_data(session, ("growing-pains-34",), "swe_bench_verified", "gpqa_diamond")
    sampler = CouplingSampler(data, None, DEFAULT_SPEC)  # the default model (bounded, hierarchical)
    times: dict[str, list[float]] = {"nutpie": [], "pymc": []}
    for name in times:  # first fit of each compiles; not timed
        sampler.fit(data, SamplerSettings(sampler=name))
    for r in range(rounds):
        for name in times:
            start = time.perf_counter()
            sampler.fit(data, SamplerSettings(sampler=name, seed=r + 2))
            times[name].append(time.perf_counter() - start)
    print(
        f"{rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; 4 chains x (1000 tune + 2000 draws), 34 models, {DEFAULT_SPEC.label}\n"
    )
    print("| sampler (compiled model reused) | median (s) | min | max |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    print(
        f"\nPyMC NUTS / nutpie (ratio of medians): {statistics.median(times['pymc']) / statistics.median(times['nutpie']):.1f}x"
    )


if __name__ == "__main__":
    main()
