"""Where the time of one `releases add` goes, phase by phase, on a registry you name (run by hand).

Runs the steps of ``services.releases.log_release`` one by one on a COPY of the registry
and prints each one's wall time; ``--no-grading`` leaves out the two gradings:

    .venv/bin/python bench/bench_release_phases.py REGISTRY.db [--no-grading]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--no-grading", action="store_true")
    args = parser.parse_args()

    from phasewatch.registry.db import make_engine
    from phasewatch.registry.fits import latest_accepted_fit
    from phasewatch.registry.frontier import staleness
    from phasewatch.registry.predictions import grade_predictions, require_intact
    from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release, validate_release
    from phasewatch.services import releases as service

    folder = Path(tempfile.mkdtemp(prefix="phasewatch-phases-"))
    path = folder / "copy.db"
    shutil.copy(args.registry, path)
    engine = make_engine(f"sqlite:///{path}")
    today = dt.date(2026, 12, 1)
    request = ReleaseRequest(
        name="Phase Probe",
        lab="Google",
        date="2026-06-01",
        scores=(ScoreInput("swe_bench_verified", 71.5), ScoreInput("gpqa_diamond", 84.5)),
        source_url="https://bench.example/release",
        distinct=True,
    )

    def timed(label: str, step: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = step()
        print(f"| {label} | {time.perf_counter() - start:.3f} |", flush=True)
        return out

    print("| phase | seconds |\n|---|---|")
    with service.read_transaction(engine) as session:
        checked = timed("validate + identity checks (read)", lambda: validate_release(session, request, today=today))
        timed("prediction logs intact (read)", lambda: require_intact(session))
        verdict = timed("verdict from the stored draws (read)", lambda: service._verdict_of_request(session, checked))
        if not args.no_grading:
            timed("grade before (read)", lambda: grade_predictions(session, today))

    def write() -> None:
        with service.write_transaction(engine) as session:
            release = add_release(session, request, today=today)
            if verdict is not None:
                service.store_verdict(session, release.model, verdict)

    timed("write: lock, identity again, release, verdict, commit", write)
    with service.read_transaction(engine) as session:
        fit = latest_accepted_fit(session)
        if fit is not None:
            timed("staleness of the latest fit (read)", lambda: staleness(session, fit))
        if not args.no_grading:
            after = timed("grade after (read)", lambda: grade_predictions(session, today))
            timed("which gradings to seal (read)", lambda: service._unsealed(session, after, today))
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
