"""The base-scale analysis's use cases called from Python: summaries count what the panel
holds, N_c is stored with the clock's time, and an unknown family writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import NotFoundError
from phasewatch.registry.schema import NcResult
from phasewatch.services import phase
from tests.helpers import table_counts

PANEL = "base-families-2026-11"
CLOCK = FrozenClock(dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC))


def test_families_and_one_family_agree(engine: Engine) -> None:
    summaries = {s.family: s for s in phase.families(engine, PANEL)}
    assert {"Pythia-deduped", "Llama-2"} <= set(summaries)
    pythia = summaries["Pythia-deduped"]
    detail = phase.family(engine, "pythia-DEDUPED", PANEL, resamples=20, seed=1)  # any case
    assert detail.family == "Pythia-deduped" and len(detail.points) == pythia.n
    assert len(detail.couplings) == pythia.n - 1  # one γ12 per pair of consecutive sizes
    assert sum(pythia.phases.values()) == pythia.n - 1
    with pytest.raises(NotFoundError, match="no family"):
        phase.family(engine, "No Such Family", PANEL)


def test_critical_size_is_stored_with_the_clocks_time_and_a_bad_family_writes_nothing(engine: Engine) -> None:
    families = ["Pythia-deduped", "Llama-1", "Llama-2"]
    found = phase.critical_size(engine, CLOCK, families, PANEL, resamples=30, seed=3)
    assert found.quadratic.resamples == found.gamma.resamples == 30
    assert found.points > len(families)
    with transaction(engine) as session:
        (row,) = session.scalars(select(NcResult))
        assert (row.panel, row.points, row.resamples, row.seed) == (PANEL, found.points, 30, 3)
        assert row.quadratic["median_billions"] == found.quadratic.median_billions
        assert row.computed_at.replace(tzinfo=dt.UTC).date() == CLOCK.today()
    before = table_counts(engine)
    with pytest.raises(NotFoundError, match="no family"):
        phase.critical_size(engine, CLOCK, ["Nope"], PANEL, resamples=10, seed=1)
    assert table_counts(engine) == before


def test_classify_reads_the_calibration_and_places_the_model_on_its_side(engine: Engine) -> None:
    above = phase.classify(engine, 7.0, 70.0, 60.0, d_model=4096)
    below = phase.classify(engine, 7.0, 70.0, 20.0)
    assert above.boundary_truthfulness == below.boundary_truthfulness  # the same calibrated isocline
    assert 20.0 < above.boundary_truthfulness < 60.0
    assert above.isocline_phase != below.isocline_phase
    assert above.width_normalised is not None and below.width_normalised is None
