"""The criterion language: every form on hand-built data with a known verdict,
the one resolution rule and its states, evidence windows, same weights counted
once, malformed criteria rejected with one clear line, and the typed tree's
round trips (parse -> to_json, describe, benchmarks, explain)."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

from phasewatch.models import criteria
from phasewatch.models.criteria import (
    AllOf,
    AnyOf,
    Compare,
    Context,
    Correlation,
    Count,
    Criterion,
    CriterionError,
    Figure,
    HField,
    Outcome,
    Release,
    TopKSpread,
    Trend,
    parse,
)

BENCHES = {"swe_bench_verified", "gpqa_diamond", "hle", "ifeval"}
REGISTERED = dt.date(2026, 5, 13)
TREND = {"x": "swe_bench_verified", "y": "gpqa_diamond", "slope": 0.5, "intercept": 50.0, "source": "test"}


def rel(name: str, lab: str = "L", day: str | None = "2026-01-01", **scores: float) -> Release:
    released = dt.date.fromisoformat(day) if day else None
    return Release(name, lab, released, released, scores)


def ctx(*releases: Release, on: str = "2026-06-01") -> Context:
    return Context(tuple(releases), REGISTERED, dt.date.fromisoformat(on))


def cmp(metric: dict, op: str, value: float, **extra: object) -> dict:
    return {"metric": metric, "op": op, "value": value, **extra}


SPREAD5 = {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 3}}


def evaluate(node: dict, crit: dict, data: Context) -> Outcome:
    """One condition evaluated inside a criterion (its window and trend from ``crit``)."""
    return parse({"deadline": "2099-12-31", **crit, "pass": node, "fail": node}).evaluate(data)[0]


def grade(crit: dict, data: Context, on: dt.date) -> criteria.Grade:
    return criteria.grade(parse(crit), data, on)


def test_top_k_spread_names_its_models_and_needs_k() -> None:
    data = ctx(
        rel("a", swe_bench_verified=80),
        rel("b", swe_bench_verified=79),
        rel("c", swe_bench_verified=70),
        rel("d", swe_bench_verified=85),
    )
    out = evaluate(cmp(SPREAD5, "<", 7), {}, data)
    assert out.result is True and out.evidence["value"] == 6  # 85 - 79
    assert [m[0] for m in out.evidence["models"]] == ["d", "a", "b"]
    assert evaluate(cmp(SPREAD5, ">", 5), {}, data).result is True
    too_few = evaluate(cmp(SPREAD5, "<", 2), {}, ctx(rel("a", swe_bench_verified=80)))
    assert too_few.result is None and too_few.evidence["note"] == "only 1 model has swe_bench_verified"


def test_correlation_undecided_below_min_n() -> None:
    rising = [rel(f"m{i}", hle=float(i), ifeval=2.0 * i + (i % 2)) for i in range(6)]
    metric = {"correlation": {"x": "hle", "y": "ifeval", "min_n": 5}}
    assert evaluate(cmp(metric, ">", 0.9), {}, ctx(*rising)).result is True
    assert evaluate(cmp(metric, ">", 0.9), {}, ctx(*rising[:4])).result is None
    count = {"count": {"benchmarks": ["hle", "ifeval"]}}
    assert evaluate(cmp(count, "<", 5), {}, ctx(*rising[:4])).result is True


def test_h_field_window_after_registration_against_the_frozen_trend() -> None:
    crit = {"trend": TREND}
    before = rel("old", "DS", "2026-03-01", swe_bench_verified=80, gpqa_diamond=99)  # before registration: ignored
    first = rel("v4", "DS", "2026-06-01", swe_bench_verified=80, gpqa_diamond=88)  # h = 88 - 90 = -2
    second = rel("v5", "DS", "2026-08-01", swe_bench_verified=60, gpqa_diamond=86)  # h = 86 - 80 = +6
    each_negative = cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each")
    some_above_5 = cmp({"h_field": {"lab": "DS", "next_releases": 2}}, ">", 5, over="some")
    one = evaluate(each_negative, crit, ctx(before, first))
    assert one.result is None and not one.complete and one.evidence["releases"] == [["v4", "2026-06-01", -2.0]]
    assert evaluate(some_above_5, crit, ctx(before, first)).result is None
    both = ctx(before, first, second)
    assert evaluate(each_negative, crit, both).result is False
    assert evaluate(some_above_5, crit, both).result is True and evaluate(some_above_5, crit, both).complete


def test_three_valued_conjunction_and_disjunction() -> None:
    data = ctx(rel("a", swe_bench_verified=80), rel("b", swe_bench_verified=79), rel("c", swe_bench_verified=78))
    true, false = cmp(SPREAD5, "<", 5), cmp(SPREAD5, ">", 5)
    unknown = cmp({"top_k_spread": {"benchmark": "hle", "k": 3}}, "<", 5)
    assert evaluate({"all": [true, unknown]}, {}, data).result is None
    assert evaluate({"all": [false, unknown]}, {}, data).result is False
    assert evaluate({"any": [true, unknown]}, {}, data).result is True
    assert evaluate({"any": [false, unknown]}, {}, data).result is None


DEADLINE_CRIT = {"deadline": "2026-12-31", "pass": cmp(SPREAD5, "<", 2), "fail": cmp(SPREAD5, ">", 5)}


@pytest.mark.parametrize(
    ("scores", "as_of", "state"),
    [
        ((80, 79.5, 79), "2026-06-01", "pending"),  # a spread is never settled: the pass waits for the deadline too
        ((80, 79.5, 79), "2026-12-31", "passed"),
        ((80, 70, 60), "2026-06-01", "pending"),  # fail holds but is judged at the deadline
        ((80, 70, 60), "2027-01-05", "failed"),
        ((80, 77, 76), "2027-01-05", "inconclusive"),  # spread 4: neither at the deadline
        ((80, 77, 76), "2026-06-01", "pending"),
    ],
)
def test_deadline_states(scores: tuple[float, ...], as_of: str, state: str) -> None:
    data = ctx(*(rel(f"m{i}", swe_bench_verified=s) for i, s in enumerate(scores)))
    assert grade(DEADLINE_CRIT, data, dt.date.fromisoformat(as_of)).state == state


def test_not_yet_resolvable_and_release_window_states() -> None:
    crit = {
        "trend": TREND,
        "fail_when": "any_time",
        "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each"),
        "fail": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, ">", 5, over="some"),
    }
    on = dt.date(2026, 9, 1)
    assert grade(crit, ctx(on="2026-09-01"), on).state == "not-yet-resolvable"
    a = rel("v4", "DS", "2026-06-01", swe_bench_verified=80, gpqa_diamond=88)  # -2
    assert grade(crit, ctx(a), on).state == "not-yet-resolvable"  # one of two releases: neither side decided
    a_high = rel("v4", "DS", "2026-06-01", swe_bench_verified=80, gpqa_diamond=91)  # +1: "each < 0" already false
    assert grade(crit, ctx(a_high), on).state == "pending"
    b_up = rel("v5", "DS", "2026-08-01", swe_bench_verified=60, gpqa_diamond=87)  # +7: fails at once
    assert grade(crit, ctx(a, b_up), on).state == "failed"
    b_low = rel("v5", "DS", "2026-08-01", swe_bench_verified=60, gpqa_diamond=78)  # -2: both negative
    assert grade(crit, ctx(a, b_low), on).state == "passed"
    b_mid = rel("v5", "DS", "2026-08-01", swe_bench_verified=60, gpqa_diamond=82)  # +2: window full, neither
    assert grade(crit, ctx(a, b_mid), on).state == "inconclusive"


def test_the_pass_waits_for_the_deadline_unless_settled_like_the_fail() -> None:
    """gp-1 and gp-5 under one rule: a currently met condition is not a resolution."""
    r_crit = {
        "deadline": "2027-05-31",
        "pass": cmp({"correlation": {"x": "swe_bench_verified", "y": "gpqa_diamond", "min_n": 4}}, ">", 0.5),
        "fail": cmp({"correlation": {"x": "swe_bench_verified", "y": "gpqa_diamond", "min_n": 4}}, "<", 0.3),
    }
    data = ctx(*(rel(f"m{i}", swe_bench_verified=70 + i, gpqa_diamond=60 + 2 * i) for i in range(5)), on="2026-05-13")
    early = grade(r_crit, data, dt.date(2026, 5, 13))
    assert early.state == "pending" and early.passing is True and "not settled" in early.note
    assert grade(r_crit, data, dt.date(2027, 5, 31)).state == "passed"


def test_a_count_bound_settles_early() -> None:
    """More data can only raise a count: 'count >= 3' once met is settled, and passes before the deadline."""
    crit = {
        "deadline": "2027-01-01",
        "pass": cmp({"count": {"benchmarks": ["hle"]}}, ">=", 3),
        "fail": cmp({"count": {"benchmarks": ["hle"]}}, "<", 1),
    }
    three = ctx(*(rel(f"m{i}", hle=10.0 + i) for i in range(3)))
    result = grade(crit, three, dt.date(2026, 6, 1))
    assert (result.state, result.reason) == ("passed", "pass_settled")
    assert grade(crit, ctx(rel("a", hle=1.0)), dt.date(2026, 6, 1)).state == "pending"


def test_both_sides_met_is_ambiguous_and_too_little_evidence_annuls() -> None:
    both = {"deadline": "2026-12-31", "pass": cmp(SPREAD5, "<", 5), "fail": cmp(SPREAD5, ">", 1)}
    data = ctx(rel("a", swe_bench_verified=80), rel("b", swe_bench_verified=78), rel("c", swe_bench_verified=77))
    assert grade(both, data, dt.date(2027, 1, 1)).state == "ambiguous"
    assert grade(both, data, dt.date(2027, 1, 1)).reason == "pass_and_fail_both_met"
    short = grade(DEADLINE_CRIT, ctx(rel("a", swe_bench_verified=80)), dt.date(2027, 1, 1))
    assert (short.state, short.reason) == ("annulled", "insufficient_evidence")


H_CRIT = {
    "trend": TREND,
    "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each"),
    "fail": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, ">", 5, over="some"),
}


def test_next_releases_counts_every_release_and_lists_the_unscored() -> None:
    """The first two releases after registration are the window, scored or not."""
    unscored = rel("v4-lite", "DS", "2026-06-01", swe_bench_verified=70)  # no GPQA
    scored = rel("v5", "DS", "2026-07-01", swe_bench_verified=80, gpqa_diamond=88)  # h = -2
    third = rel("v6", "DS", "2026-08-01", swe_bench_verified=80, gpqa_diamond=86)
    soon = grade(H_CRIT, ctx(unscored, scored, third, on="2026-08-15"), dt.date(2026, 8, 15))
    entries = soon.evidence["pass"]["entries"]
    assert [e["name"] for e in entries] == ["v4-lite", "v5"] and entries[0]["status"] == "awaiting scores: gpqa_diamond"
    assert soon.evidence["pass"]["after_window"] == ["v6"] and soon.state == "not-yet-resolvable"
    late = grade(H_CRIT, ctx(unscored, scored, third, on="2026-11-30"), dt.date(2026, 11, 30))  # > 90 days on
    assert late.evidence["pass"]["entries"][0]["status"].startswith("unresolvable: gpqa_diamond not reported")
    assert (late.state, late.reason) == ("annulled", "unreported_scores")
    high = rel("v5", "DS", "2026-07-01", swe_bench_verified=60, gpqa_diamond=87)  # h = +7 settles the fail anyway
    assert grade(H_CRIT, ctx(unscored, high, on="2026-08-15"), dt.date(2026, 8, 15)).state == "failed"


def test_same_weights_count_once() -> None:
    """Two names for one set of weights enter a top-k once, as the best-scoring tier; a
    re-release of the same weights is not a new release."""
    models = [
        rel("Fable 5", swe_bench_verified=90),
        rel("Mythos 5", swe_bench_verified=89),
        rel("b", swe_bench_verified=80),
        rel("c", swe_bench_verified=79),
    ]
    models[1] = Release("Mythos 5", "L", models[1].released, models[1].released, models[1].scores, group="Fable 5")
    out = evaluate(cmp(SPREAD5, ">", 5), {}, ctx(*models))
    assert [m[0] for m in out.evidence["models"]] == ["Fable 5", "b", "c"] and out.evidence["value"] == 11
    assert out.evidence["excluded"]["Mythos 5"] == "same weights as Fable 5 (counted once)"
    first = rel("v5", "DS", "2026-07-01", swe_bench_verified=80, gpqa_diamond=88)
    again = Release(
        "v5-max",
        "DS",
        dt.date(2026, 7, 2),
        dt.date(2026, 7, 2),
        {"swe_bench_verified": 81, "gpqa_diamond": 99},
        group="v5",
    )
    window = evaluate(H_CRIT["pass"], H_CRIT, ctx(first, again))
    assert [e[0] for e in window.evidence["releases"]] == ["v5"] and window.evidence["same_weights"]


def fig(value: float, by: str, known: str, obs: int) -> Figure:
    return Figure(obs, value, by, dt.date.fromisoformat(known))


def test_evidence_windows_pick_figures_and_name_the_excluded() -> None:
    old = Release(
        "old",
        "L",
        dt.date(2025, 6, 1),
        dt.date(2025, 6, 1),
        {"hle": 30.0},
        {"hle": (fig(30.0, "lab", "2025-06-01", 1),)},
    )
    new = Release(
        "new",
        "L",
        dt.date(2026, 7, 1),
        dt.date(2026, 7, 1),
        {"hle": 40.0},
        {"hle": (fig(40.0, "lab", "2026-07-01", 2), fig(35.0, "third_party", "2026-08-01", 3))},
    )
    newer = Release(
        "newer",
        "L",
        dt.date(2026, 8, 1),
        dt.date(2026, 8, 1),
        {"hle": 50.0},
        {"hle": (fig(50.0, "third_party", "2026-08-05", 4),)},
    )
    count = cmp({"count": {"benchmarks": ["hle"]}}, ">=", 1)
    data = ctx(old, new, newer, on="2026-09-01")
    after = evaluate(count, {"evidence": {"released": "after_registration"}}, data)
    assert after.evidence["models"] == ["new", "newer"] and after.evidence["excluded"] == {}
    assert after.evidence["released_before_window"] == 1  # "old": counted, not named (most of a registry)
    counted = parse(
        {"deadline": "2099-12-31", "evidence": {"released": "after_registration"}, "pass": count, "fail": count}
    )
    assert (
        "not counted: 1 released before the window"
        in counted.explain({"pass": after.evidence, "fail": after.evidence})[0]
    )
    assert "released_before_window" not in evaluate(count, {}, data).evidence  # a window open at both ends
    no_hle = rel("older", day="2025-01-01", swe_bench_verified=50.0)  # before the window, but holds no HLE figure
    with_it = evaluate(count, {"evidence": {"released": "after_registration"}}, ctx(old, new, newer, no_hle))
    assert with_it.evidence["released_before_window"] == 1
    lab = evaluate(
        cmp({"top_k_spread": {"benchmark": "hle", "k": 2}}, ">", 0), {"evidence": {"provenance": "lab"}}, data
    )
    assert (
        lab.evidence["models"] == [["new", 40.0], ["old", 30.0]]
        and "no figure inside the window" in lab.evidence["excluded"]["newer"]
    )
    third = evaluate(
        cmp({"top_k_spread": {"benchmark": "hle", "k": 2}}, ">", 0), {"evidence": {"provenance": "third_party"}}, data
    )
    assert third.evidence["models"] == [["newer", 50.0], ["new", 35.0]] and third.observations == {3, 4}
    assert third.evidence["provenance"] == {"third_party": 2}
    reported = evaluate(count, {"evidence": {"reported": "after_registration"}}, data)
    assert reported.evidence["models"] == ["new", "newer"]


BAD = [
    ({"pass": cmp(SPREAD5, "<", 2)}, "missing 'fail'"),
    ({**DEADLINE_CRIT, "extra": 1}, "unknown field(s) 'extra'"),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "=", 2)}, "pass.op: '=' is not one of"),
    ({**DEADLINE_CRIT, "pass": cmp({"top_k_spread": {"benchmark": "swe", "k": 5}}, "<", 2)}, "unknown benchmark 'swe'"),
    ({**DEADLINE_CRIT, "pass": cmp({"median": {"benchmark": "hle"}}, "<", 2)}, "unknown metric 'median'"),
    (
        {**DEADLINE_CRIT, "pass": cmp({"top_k_spread": {"benchmark": "hle", "k": 1}}, "<", 2)},
        "k: expected an integer >= 2",
    ),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "<", "two")}, "pass.value: expected a number"),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "<", 2, over="each")}, "only list-valued metrics"),
    (
        {**DEADLINE_CRIT, "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each")},
        "needs a frozen 'trend'",
    ),
    (
        {**DEADLINE_CRIT, "trend": TREND, "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0)},
        'needs "over"',
    ),
    ({**DEADLINE_CRIT, "deadline": "end of 2026"}, "deadline: 'end of 2026' is not a date"),
    ({"pass": cmp(SPREAD5, "<", 2), "fail": cmp(SPREAD5, ">", 5)}, "a deadline is required"),
    ({**DEADLINE_CRIT, "pass": {"all": []}}, "non-empty list"),
    ({**DEADLINE_CRIT, "fail_when": "sometimes"}, "fail_when: 'sometimes' is not one of"),
    ({**DEADLINE_CRIT, "evidence": {"provenance": "rumour"}}, "evidence.provenance: 'rumour' is not one of"),
    ({**DEADLINE_CRIT, "evidence": {"window": 1}}, "evidence: unknown field(s) 'window'"),
]


@pytest.mark.parametrize(("criterion", "message"), BAD)
def test_malformed_criteria_are_rejected_with_the_place_named(criterion: dict, message: str) -> None:
    with pytest.raises(CriterionError) as raised:
        parse(criterion, BENCHES)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_seven_and_their_re_expression_validate() -> None:
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "registry/data/predictions"
    bundle = json.loads((folder / "growing-pains-7.json").read_text())
    revised = json.loads((folder / "growing-pains-7-r2.json").read_text())
    for entry in bundle["predictions"] + revised["predictions"]:
        raw = {**entry["criterion"], "trend": bundle["trend"]}
        assert parse(raw, BENCHES).to_json() == raw  # the hashed JSON comes back unchanged
        assert parse(entry["criterion"] | {"trend": bundle["trend"]}).to_json() == raw
    assert all("evidence" in e["criterion"] for e in revised["predictions"])


# --- the typed tree ------------------------------------------------------------------------------

H_JSON = {
    "trend": TREND,
    "fail_when": "deadline",
    "evidence": {"released": "after_registration", "provenance": "lab"},
    "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each"),
    "fail": {
        "any": [
            cmp({"h_field": {"lab": "DS", "next_releases": 2}}, ">", 5, over="some"),
            cmp({"count": {"benchmarks": ["hle", "ifeval"]}}, ">=", 3),
        ]
    },
}
MIXED_JSON = {
    "deadline": "2026-12-31",
    "pass": {"all": [cmp(SPREAD5, "<", 2), cmp({"correlation": {"x": "hle", "y": "ifeval", "min_n": 5}}, ">", 0.5)]},
    "fail": cmp({"correlation": {"x": "hle", "y": "ifeval"}}, "<", 0.25),
    "population": {"released_after_registration": True},
}


def test_parse_builds_the_typed_tree_and_gives_the_json_back() -> None:
    h = parse(H_JSON, BENCHES)
    assert isinstance(h, Criterion) and h.deadline is None and h.fail_when == "deadline"
    trend = Trend("swe_bench_verified", "gpqa_diamond", 0.5, 50.0, "test")
    assert h.passing == Compare(HField("DS", 2, trend), "<", 0, "each")
    assert isinstance(h.failing, AnyOf) and h.failing.parts[1] == Compare(Count(("hle", "ifeval")), ">=", 3)
    mixed = parse(MIXED_JSON, BENCHES)
    assert isinstance(mixed.passing, AllOf)
    assert mixed.passing.parts == (
        Compare(TopKSpread("swe_bench_verified", 3), "<", 2),
        Compare(Correlation("hle", "ifeval", 5), ">", 0.5),
    )
    assert mixed.failing == Compare(Correlation("hle", "ifeval"), "<", 0.25)
    for raw in (H_JSON, MIXED_JSON, DEADLINE_CRIT):
        assert parse(raw).to_json() == raw
        assert parse(parse(raw).to_json()) == parse(raw)


def test_benchmarks_labs_and_window_come_from_the_tree() -> None:
    h = parse(H_JSON)
    # an h-field reads its trend's two benchmarks; the count reads its own
    assert h.benchmarks() == ["gpqa_diamond", "hle", "ifeval", "swe_bench_verified"]
    assert h.labs() == ["DS"] and h.uses_release_window()
    assert h.window == criteria.Window("after_registration", "any", "lab")
    mixed = parse(MIXED_JSON)
    assert mixed.benchmarks() == ["hle", "ifeval", "swe_bench_verified"] and mixed.labs() == []
    assert not mixed.uses_release_window()
    assert mixed.window.released == "after_registration"  # the pre-0007 spelling still means it
    assert mixed.evaluation_date(dt.date(2027, 3, 1)) == dt.date(2026, 12, 31)


def test_describe_says_the_whole_criterion_in_words() -> None:
    words = parse(MIXED_JSON).describe()
    assert words.startswith(
        "passes if all of (top-3 swe_bench_verified spread < 2; r(hle, ifeval) over at least 5 models > 0.5); "
        "fails if r(hle, ifeval) over at least 3 models < 0.25; "
    )
    assert "judged at the deadline 2026-12-31" in words and "models released after registration" in words
    h_words = parse(H_JSON).describe()
    assert "passes if h of each of DS's next 2 releases < 0 (against the frozen trend)" in h_words
    assert "any of (h of some of DS's next 2 releases > 5" in h_words and "resolves early only when the pass" in h_words
    assert "trend gpqa_diamond = 0.5·swe_bench_verified + 50.0 (test)" in h_words


def test_explain_renders_a_grades_evidence_one_line_per_comparison() -> None:
    data = ctx(
        rel("a", swe_bench_verified=80, hle=10, ifeval=20),
        rel("b", swe_bench_verified=79.5, hle=20, ifeval=50),
        rel("c", swe_bench_verified=79, hle=30, ifeval=40),
        rel("d", hle=40, ifeval=80),
        rel("e", hle=50, ifeval=90),
    )
    crit = parse({**MIXED_JSON, "population": {"released_after_registration": False}})
    result = criteria.grade(crit, data, dt.date(2026, 12, 31))
    lines = crit.explain(result.evidence)
    assert lines[0] == "pass: all: top-3 swe_bench_verified spread = 1 < 2 → met [a 80; b 79.5; c 79]"
    r = statistics.correlation([10, 20, 30, 40, 50], [20, 50, 40, 80, 90])  # 0.9330, computed independently
    assert result.evidence["fail"]["value"] == pytest.approx(r, abs=1e-6)
    assert lines[1].startswith("pass: all: r(hle, ifeval) over n = 5 = 0.933 > 0.5 → met")
    assert lines[2].startswith("fail: r(hle, ifeval) over n = 5 = 0.933 < 0.25 → not met")
    assert len(lines) == 3 and result.state == "passed"


def test_decisive_changes_with_the_figures_not_with_model_lists() -> None:
    crit = parse(DEADLINE_CRIT)
    three = ctx(*(rel(f"m{i}", swe_bench_verified=s) for i, s in enumerate((80, 79.5, 79))))
    four = ctx(*(rel(f"m{i}", swe_bench_verified=s) for i, s in enumerate((80, 79.5, 79, 70))))
    wider = ctx(*(rel(f"m{i}", swe_bench_verified=s) for i, s in enumerate((81, 79.5, 79))))
    day = dt.date(2026, 6, 1)
    same, more, moved = (crit.decisive(criteria.grade(crit, c, day).evidence) for c in (three, four, wider))
    assert same == more  # a fourth model below the top 3 changes no deciding figure
    assert same != moved  # the top model's score moved the spread


def test_a_new_metric_is_one_class_in_the_registry_of_metrics() -> None:
    assert set(criteria.METRICS) == {"top_k_spread", "correlation", "count", "h_field"}
    assert all(issubclass(m, criteria.Metric) for m in criteria.METRICS.values())


ONE_LINE_BAD = [
    (cmp({"top_k_spread": {"benchmark": ["swe"], "k": 5}}, "<", 2), "pass.metric.top_k_spread.benchmark: expected"),
    (cmp(SPREAD5, "<", float("nan")), "pass.value: nan is not a finite number"),
    (cmp(SPREAD5, "<", float("inf")), "pass.value: inf is not a finite number"),
    (cmp({"count": {"benchmarks": [{"a": 1}]}}, ">", 1), "pass.metric.count.benchmarks[0]: expected"),
    (cmp({"count": {"benchmarks": "hle"}}, ">", 1), "benchmarks: expected a non-empty list"),
    (cmp({"top_k_spread": {"benchmark": "x" * 300, "k": 5}}, "<", 2), "1 to 200 characters"),
    (cmp({"top_k_spread": ["hle", 5]}, "<", 2), "pass.metric.top_k_spread: expected an object"),
    (cmp({"top_k_spread": {"benchmark": "hle", "k": True}}, "<", 2), "k: expected an integer >= 2"),
    (cmp({"correlation": {"x": "hle", "y": "ifeval", "min_n": 2}}, "<", 2), "min_n: expected an integer >= 3"),
    (cmp({"top_k_spread": {"benchmark": "hle"}}, "<", 2), "pass.metric.top_k_spread: missing k"),
    ({"metric": SPREAD5, "op": "<", "value": 2, "extra": 1}, "pass: unknown field(s) 'extra'"),
    ({"none": []}, "pass: unknown field(s) 'none'"),
    ([SPREAD5], "pass: expected a condition object"),
]


@pytest.mark.parametrize(("node", "message"), ONE_LINE_BAD)
def test_every_bad_condition_is_one_line_naming_the_place(node: object, message: str) -> None:
    with pytest.raises(CriterionError) as raised:
        parse({**DEADLINE_CRIT, "pass": node}, BENCHES)
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trend": {**TREND, "slope": float("nan")}}, "trend.slope: nan is not a finite number"),
        ({"trend": {**TREND, "source": " "}}, "trend.source: say where"),
        ({"trend": {**TREND, "x": "swe"}}, "trend.x: unknown benchmark 'swe'"),
        ({"evidence": "any"}, "evidence: expected an object"),
        ({"population": {"released_after_registration": "yes"}}, "expected true or false"),
        ({"pass_when": ["settled"]}, "pass_when: ['settled'] is not one of settled, deadline"),
        ({"deadline": 20261231}, "deadline: 20261231 is not a date"),
    ],
)
def test_every_bad_criterion_field_is_one_line(change: dict, message: str) -> None:
    with pytest.raises(CriterionError) as raised:
        parse({**H_JSON, **change}, BENCHES)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_lab_name_with_control_characters_is_refused() -> None:
    bad = cmp({"h_field": {"lab": "Evil\x1b[2J", "next_releases": 2}}, "<", 0, over="each")
    with pytest.raises(CriterionError, match="control characters"):
        parse({**H_JSON, "pass": bad})


# --- what a grade depends on ---------------------------------------------------------------------


def _random_release(rng, name: str, labs: list[str], groups: list[str]) -> Release:
    """A release with figures on a random subset of the four benchmarks, some before the
    registration, some lab-reported and some third-party, some sharing weights with another."""
    day = REGISTERED + dt.timedelta(days=rng.randint(-200, 200))
    keys = [k for k in sorted(BENCHES) if rng.random() < 0.5]
    figures = {
        k: tuple(
            fig(
                round(rng.uniform(20, 95), 1),
                rng.choice(["lab", "third_party", "paper"]),
                str(day),
                rng.randint(1, 10**6),
            )
            for _ in range(rng.randint(1, 2))
        )
        for k in keys
    }
    scores = {k: f[0].value for k, f in figures.items()}
    group = rng.choice(groups) if groups and rng.random() < 0.2 else ""
    return Release(name, rng.choice(labs), day, day, scores, figures, group)


def test_a_grade_depends_on_the_releases_its_criterion_reads_alone() -> None:
    """Adding any release a criterion does not read (:meth:`Criterion.reads`: no figure of its
    benchmarks, not of its h-field's lab) leaves its grade exactly as it was, evidence and
    observations included; a release it reads can move it. What ``releases add`` and a
    grading after a logged change rely on to keep the other predictions' grades."""
    import json
    import random
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "registry/data/predictions"
    bundle = json.loads((folder / "growing-pains-7-r2.json").read_text())
    trend = json.loads((folder / "growing-pains-7.json").read_text())["trend"]
    raws = [e["criterion"] | {"trend": trend} for e in bundle["predictions"]]
    raws += [H_JSON | {"deadline": "2027-06-30"}, MIXED_JSON, H_CRIT]
    rng = random.Random(20261202)
    labs = ["DeepSeek", "Google", "OpenAI", "DS", "L"]
    base = [_random_release(rng, f"m{i:02d}", labs, []) for i in range(40)]
    pool = [_random_release(rng, f"x{i:02d}", labs, [r.name for r in base]) for i in range(60)]
    moved_by_a_read = 0
    for raw in raws:
        criterion = parse(raw)
        unread = [r for r in pool if not criterion.reads(r)]
        read = [r for r in pool if criterion.reads(r)]
        assert unread and read  # both kinds are tried for every criterion
        for on in ("2026-09-01", "2027-12-31"):
            day = dt.date.fromisoformat(on)
            before = criteria.grade(criterion, Context(tuple(base), REGISTERED, day), day)
            with_unread = Context(tuple(sorted([*base, *unread], key=lambda r: r.name)), REGISTERED, day)
            assert criteria.grade(criterion, with_unread, day) == before, (raw, on)
            with_read = Context(tuple(sorted([*base, *read], key=lambda r: r.name)), REGISTERED, day)
            moved_by_a_read += criteria.grade(criterion, with_read, day) != before
    assert moved_by_a_read >= len(raws)  # the releases read do matter (the check above can fail)
