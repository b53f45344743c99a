"""The labs use cases called from Python (no CLI): tiers set by `releases add --tier`
reach the dynamics, and "as of today" is the injected clock's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.errors import NotFoundError
from phasewatch.registry.releases import Correction, ReleaseRequest, ScoreInput
from phasewatch.services.labs import add_lab, compare_labs, list_labs, show_lab
from phasewatch.services.releases import correct_release, log_release

CLOCK = FrozenClock(dt.datetime(2026, 11, 30, 12, 0))


def test_show_lab_is_as_of_the_clock(fitted_engine: Engine) -> None:
    today = show_lab(fitted_engine, CLOCK, "Anthropic")
    earlier = show_lab(fitted_engine, FrozenClock(dt.datetime(2026, 3, 1, 12, 0)), "Anthropic")
    assert "Claude Opus 4.7" in today.tiers and "Claude Opus 4.7" not in earlier.tiers
    assert today.next_measurement == str(today.measurements[0])
    comparison = compare_labs(fitted_engine, CLOCK)
    assert comparison.fit_id == today.fit_id and any(r.lab == "Anthropic" for r in comparison.labs)


def test_a_tier_given_on_the_way_in_is_read_by_the_dynamics(fitted_engine: Engine) -> None:
    added = add_lab(fitted_engine, "Tiered Lab", ["TL"])
    assert added.created and added.aliases == ["TL"]
    assert any(summary.name == "Tiered Lab" for summary in list_labs(fitted_engine))
    for name, date, swe, gpqa, tier in (
        ("TL Big 1", "2026-01-10", 70.0, 80.0, "Big"),
        ("TL Small 1", "2026-02-10", 50.0, 55.0, "Small"),
        ("TL Big 2", "2026-03-10", 75.0, 84.0, "Big"),
    ):
        scores = (ScoreInput("swe_bench_verified", swe), ScoreInput("gpqa_diamond", gpqa))
        request = ReleaseRequest(name, "Tiered Lab", date, scores, source_url="https://example.org/tl", tier=tier)
        log_release(fitted_engine, CLOCK, request)
    view = show_lab(fitted_engine, CLOCK, "TL")
    assert view.tiers == {"TL Big 1": "Big", "TL Small 1": "Small", "TL Big 2": "Big"}
    pairs = {(s.before, s.after): s for s in view.shifts}
    assert pairs[("TL Big 1", "TL Small 1")].tier_change == ("Big", "Small")
    assert pairs[("TL Small 1", "TL Big 2")].tier_change == ("Small", "Big")
    big = pairs[("TL Big 1", "TL Big 2")]
    assert big.tier_change is None and big.p_none is not None
    # correcting the tier makes the three one trajectory again, with no tier change
    correct_release(fitted_engine, CLOCK, "TL Small 1", Correction(tier="Big", reason="one product line"))
    again = show_lab(fitted_engine, CLOCK, "TL")
    assert [(s.before, s.after) for s in again.shifts] == [("TL Big 1", "TL Small 1"), ("TL Small 1", "TL Big 2")]
    assert all(s.tier_change is None for s in again.shifts)
    with pytest.raises(NotFoundError):
        show_lab(fitted_engine, CLOCK, "No Such Lab")
