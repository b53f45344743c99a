"""Stored N_c: `phase nc` / `phase reproduce` keep one row per question, the report reads it back
exactly, and a changed panel marks it out of date."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from sqlalchemy import Engine, func, select

from phasewatch.registry.db import transaction
from phasewatch.registry.phase import NC_FAMILIES, SOURCED, pooled_points, run_nc, stored_nc
from phasewatch.registry.schema import Benchmark, Model, NcResult, Observation

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def test_run_nc_stores_reads_back_replaces_and_notices_a_changed_panel(engine: Engine) -> None:
    with transaction(engine) as session:
        assert stored_nc(session) is None
        quadratic, gamma, n = run_nc(session, ["pythia-deduped", "llama-1", "llama-2"], SOURCED, 60, 42, now=NOW)
    with transaction(engine) as session:
        got = stored_nc(session, NC_FAMILIES, SOURCED, resamples=60, seed=42)
        assert got is not None and got.current and got.points == n and got.families == list(NC_FAMILIES)
        assert asdict(got.quadratic) == asdict(quadratic) and asdict(got.gamma) == asdict(gamma)  # exact floats
        assert (got.command, got.resamples, got.seed, got.legacy_rng) == ("phase nc", 60, 42, False)
        assert stored_nc(session, NC_FAMILIES, SOURCED) is None  # another question (10,000 resamples): not stored
        again, _, _ = run_nc(session, list(NC_FAMILIES), SOURCED, 60, 7, now=NOW + dt.timedelta(hours=1))
        run_nc(session, list(NC_FAMILIES), SOURCED, 60, 42, now=NOW + dt.timedelta(hours=2))  # replaces seed 42
        assert session.scalar(select(func.count()).select_from(NcResult)) == 2
        latest = stored_nc(session, NC_FAMILIES, SOURCED, resamples=None, seed=None, legacy_rng=None)
        assert latest is not None and latest.seed == 42  # the latest run of any size and seed
        seven = stored_nc(session, NC_FAMILIES, SOURCED, resamples=60, seed=7)
        assert seven is not None and asdict(seven.quadratic) == asdict(again)
        # a corrected TruthfulQA value of one pooled model: the stored result is out of date
        name = pooled_points(session, list(NC_FAMILIES), SOURCED)[0].name
        rows = session.scalars(
            select(Observation).join(Model).join(Benchmark).where(Model.name == name, Benchmark.key == "truthfulqa_mc2")
        ).all()
        assert rows
        for row in rows:
            row.value += 1.0
        session.flush()
        stale = stored_nc(session, NC_FAMILIES, SOURCED, resamples=60, seed=42)
        assert stale is not None and not stale.current
