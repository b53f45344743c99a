"""The coverage use case: check the default model's 95 % predictive intervals out
of sample (leave-one-out, leave-future-out or a held-out panel) and store the check.

The panels are read in one transaction, the refits sample outside any (seconds
each), and the result is stored in another.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from phasewatch.models.coupling import SamplerSettings
from phasewatch.registry.coverage import METHODS, CoverageReport
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.fits import DEFAULT_PANELS, DEFAULT_SPEC, DEFAULT_X, DEFAULT_Y

# Refits sample as a stored fit does, so that their diagnostics mean the same.
COVERAGE_SETTINGS = SamplerSettings()


def run_coverage(
    engine: Engine,
    method: str,
    panels: tuple[str, ...] = DEFAULT_PANELS,
    *,
    held_out: tuple[str, ...] = (),
    cutoff: str | None = None,
    settings: SamplerSettings = COVERAGE_SETTINGS,
    progress: Callable[[int, int], None] | None = None,
) -> CoverageReport:
    """Refit without the held-out releases, check each against its predictive
    interval, store the check and return it."""
    from phasewatch.models.coupling import (
        CouplingSampler,
        Coverage,
        held_out_checks,
        leave_future_out,
        leave_one_out,
    )
    from phasewatch.registry.coverage import default_cutoff, store_coverage
    from phasewatch.registry.dates import parse_partial_date
    from phasewatch.registry.fits import panel_data

    if method not in METHODS:
        raise InvalidInputError(f"unknown coverage method {method!r}", f"use one of {', '.join(METHODS)}")
    if method == "holdout" and not held_out:
        raise InvalidInputError("holdout needs --held-out PANEL", "e.g. --held-out post-cutoff-2026-04")
    if cutoff is not None:
        parse_partial_date(cutoff, what="--cutoff")
    with transaction(engine) as session:
        data = panel_data(session, panels, DEFAULT_X, DEFAULT_Y)
        test = panel_data(session, held_out, DEFAULT_X, DEFAULT_Y) if method == "holdout" else None
    if test is not None and (overlap := set(test.names) & set(data.names)):
        raise InvalidInputError(f"held-out models are also in the fit: {sorted(overlap)}", "hold out a disjoint panel")
    sampler = CouplingSampler(data, None, DEFAULT_SPEC)  # the default model, whose intervals give verdicts
    if method == "loo":
        coverage = leave_one_out(sampler, data, settings, progress=progress)
    elif method == "lfo":
        chosen = cutoff or default_cutoff(data)
        try:
            coverage = leave_future_out(sampler, data, chosen, settings)
        except ValueError as exc:  # too few releases on one side of the cutoff
            dates = sorted(d for d in data.dates if d)
            raise InvalidInputError(
                f"--cutoff {chosen}: {exc}",
                f"choose a cutoff between {dates[3] if len(dates) > 3 else dates[-1]} and {dates[-1]} "
                "(at least 3 releases before it and 1 on or after)",
            ) from None
    else:
        assert test is not None
        checks, diagnostics = held_out_checks(sampler, data, test, settings)
        coverage = Coverage(f"hold-out ({', '.join(held_out)})", 0.95, checks, [diagnostics])
    with transaction(engine) as session:
        return store_coverage(
            session,
            coverage,
            panels=panels,
            held_out=held_out,
            x=DEFAULT_X,
            y=DEFAULT_Y,
            spec=DEFAULT_SPEC,
            settings=settings,
            priors=sampler.priors,
        )
