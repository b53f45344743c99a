"""The live panel's policy, fits' recorded inputs and staleness."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.fits import latest_accepted_fit, panel_data
from phasewatch.registry.frontier import (
    is_live,
    live_as_of,
    nonstandard_marker,
    parse_precedence,
    releases_since_fit,
    select_frontier,
    staleness,
)
from phasewatch.registry.names import identity_key
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import Benchmark, FitObservation

TODAY = dt.date(2026, 11, 30)


def test_identity_key_drops_case_punctuation_preview_and_dates() -> None:
    assert (
        identity_key("DeepSeek-V4-Pro (preview)")
        == identity_key("deepseek v4 pro")
        == identity_key("DeepSeek-V4-Pro-2026-04-24")
    )
    assert identity_key("Claude Opus 4.6") != identity_key("Claude Opus 4.5")


def test_live_names_and_precedence() -> None:
    assert is_live("frontier") and is_live("frontier@2026-06-01") and not is_live("frontier-2026-06")
    assert live_as_of("frontier@2026-06-01") == dt.date(2026, 6, 1) and live_as_of("frontier") is None
    with pytest.raises(InvalidInputError):
        live_as_of("frontier@2026-06")
    assert parse_precedence("third_party") == ("third_party", "lab", "paper")
    with pytest.raises(InvalidInputError):
        parse_precedence("vendor")


def test_setting_markers_read_only_the_first_clause() -> None:
    hle = Benchmark(key="hle", name="HLE", category="r", nonstandard_markers="text-only|with tools")
    assert nonstandard_marker(hle, "text-only subset") == "text-only"
    assert nonstandard_marker(hle, "no tools (42.8 with tools)") is None
    assert nonstandard_marker(hle, "full set, no tools; text-only figure 31.5") is None
    assert nonstandard_marker(hle, None) is None


def test_precedence_picks_one_value_and_says_why(engine: Engine) -> None:
    with transaction(engine) as session:
        default = {(c.model, c.benchmark): c for c in select_frontier(session).chosen}
        third = {
            (c.model, c.benchmark): c for c in select_frontier(session, precedence=parse_precedence("paper")).chosen
        }
    # Claude Sonnet 4.6's GPQA Diamond: the lab's 89.9 by default, the paper's 74.1 when the paper comes first
    assert default[("Claude Sonnet 4.6", "gpqa_diamond")].value == 89.9
    assert "lab precedes" in default[("Claude Sonnet 4.6", "gpqa_diamond")].reason
    assert third[("Claude Sonnet 4.6", "gpqa_diamond")].value == 74.1


def test_panel_data_accepts_the_live_panel(engine: Engine) -> None:
    with transaction(engine) as session:
        live = panel_data(session, ("frontier",), "swe_bench_verified", "gpqa_diamond")
        early = panel_data(session, ("frontier@2026-06-01",), "swe_bench_verified", "gpqa_diamond")
        with pytest.raises(InvalidInputError, match="fitted alone"):
            panel_data(session, ("frontier", "growing-pains-34"), "swe_bench_verified", "gpqa_diamond")
    assert live.n > early.n >= 30
    assert len(set(live.names)) == live.n


def test_fit_records_its_observations_and_staleness_counts_only_what_arrived_since(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        fit = latest_accepted_fit(session)
        assert fit is not None and fit.panels == "growing-pains-34"
        used = session.scalar(select(func.count()).select_from(FitObservation).where(FitObservation.fit_id == fit.id))
        assert used == 2 * fit.n_models
        # the bundled sourced panel's models were in the registry when the paper's panel was fitted: left out by
        # choosing that panel, they have not "arrived since" (the bug: they were counted as stale)
        live = {p[0].model for p in select_frontier(session).pairs("swe_bench_verified", "gpqa_diamond")}
        assert len(live) > fit.n_models
        before = staleness(session, fit)
        assert before.frozen and before.unseen == [] and not before.stale and releases_since_fit(session, fit) == 0
        assert "is current" in before.sentence()
        add_release(
            session,
            ReleaseRequest(
                name="Example 3",
                lab="OpenAI",
                date="2026-11-01",
                scores=(ScoreInput("swe_bench_verified", 82.0), ScoreInput("gpqa_diamond", 91.0)),
            ),
            today=TODAY,
        )
        add_release(  # one score only: never in a pair, never counted
            session,
            ReleaseRequest(name="Example 4", lab="OpenAI", date="2026-11-02", scores=(ScoreInput("hle", 40.0),)),
            today=TODAY,
        )
        after = staleness(session, fit)
        # the selection restricted (in SQL) to the candidates' variant groups agrees with the whole frontier's
        whole = select_frontier(session, benchmarks=("swe_bench_verified", "gpqa_diamond"))
        assert staleness(session, fit, whole) == after
    assert after.unseen == ["Example 3"] and after.stale
    assert "1 release with both scores arrived since (Example 3)" in after.sentence()
    assert "only a live-panel fit takes it in: run `phasewatch fit --panel frontier`" in after.sentence()


def test_selection_restricted_to_variant_groups_matches_the_whole(engine: Engine) -> None:
    from phasewatch.registry.frontier import variant_groups
    from phasewatch.registry.schema import Model

    with transaction(engine) as session:
        whole = select_frontier(session)
        xhigh = session.scalar(select(Model).where(Model.name == "GPT-5.4 xhigh"))
        assert xhigh is not None and xhigh.variant_of is not None
        group = variant_groups(session, {xhigh.id})
        assert {xhigh.id, xhigh.variant_of.id} <= group and len(group) < 10
        part = select_frontier(session, models=group)
    members = {xhigh.name, xhigh.variant_of.name}
    assert part.chosen and {c.model for c in part.chosen} <= members
    assert part.chosen == [c for c in whole.chosen if c.model in members]
    assert part.excluded == [e for e in whole.excluded if e.model in members]
    # the group is counted once: one member holds the chosen figures, the other's are left out as the same weights
    assert len({c.model for c in part.chosen}) == 1 and any("same weights" in e.reason for e in part.excluded)


def test_variant_groups_walked_up_and_down_equal_those_of_every_models_parent(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few models' groups are found by walking their chains (a query per level); many
    models' by reading every parent at once: the same groups, for every model of the seed."""
    from phasewatch.registry import frontier
    from phasewatch.registry.schema import Model

    with transaction(engine) as session:
        for name, parent in (("Chain Root", None), ("Chain Mid", "Chain Root"), ("Chain Leaf", "Chain Mid")):
            scores = (ScoreInput("hle", 30.0),)
            request = ReleaseRequest(name=name, lab="OpenAI", date="2026-10-01", scores=scores, variant_of=parent)
            add_release(session, request, today=TODAY)
        add_release(
            session,
            ReleaseRequest(name="Chain Twig", lab="OpenAI", date="2026-10-02", variant_of="Chain Root", distinct=True),
            today=TODAY,
        )
        rows = session.execute(select(Model.id, Model.variant_of_id)).all()
        chained = {i for i, v in rows if v is not None} | {v for _, v in rows if v is not None}
        assert len(chained) >= 6  # a chain of three with a sibling, and the seed's
        ids = [i for i, _ in rows]
        walked = {i: frontier.variant_groups(session, {i}) for i in ids}
        several = frontier.variant_groups(session, set(ids[::7]))
        monkeypatch.setattr(frontier, "MAX_GROUPS_WALKED", 0)
        assert walked == {i: frontier.variant_groups(session, {i}) for i in ids}
        assert several == frontier.variant_groups(session, set(ids[::7]))
    assert max(len(group) for group in walked.values()) >= 4
