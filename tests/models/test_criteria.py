"""The criterion language: every form on hand-built data with a known verdict,
the states, and malformed criteria rejected with a clear message."""

from __future__ import annotations

import datetime as dt

import pytest

from phasewatch.models.criteria import Context, CriterionError, Release, evaluate, grade, validate

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


def test_top_k_spread_names_its_models_and_needs_k() -> None:
    data = ctx(rel("a", swe_bench_verified=80), rel("b", swe_bench_verified=79), rel("c", swe_bench_verified=70),
               rel("d", swe_bench_verified=85))  # fmt: skip
    out = evaluate(cmp(SPREAD5, "<", 7), {}, data)
    assert out.result is True and out.evidence["value"] == 6  # 85 - 79
    assert [m[0] for m in out.evidence["models"]] == ["d", "a", "b"]
    assert evaluate(cmp(SPREAD5, ">", 5), {}, data).result is True
    too_few = evaluate(cmp(SPREAD5, "<", 2), {}, ctx(rel("a", swe_bench_verified=80)))
    assert too_few.result is None and "only 1 models" in too_few.evidence["note"]


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
        ((80, 79.5, 79), "2026-06-01", "passed"),  # pass resolves as soon as it holds
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
    crit = {"trend": TREND, "fail_when": "any_time",
            "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each"),
            "fail": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, ">", 5, over="some")}  # fmt: skip
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


BAD = [
    ({"pass": cmp(SPREAD5, "<", 2)}, "missing 'fail'"),
    ({**DEADLINE_CRIT, "extra": 1}, "unknown field(s) 'extra'"),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "=", 2)}, "pass.op: '=' is not one of"),
    ({**DEADLINE_CRIT, "pass": cmp({"top_k_spread": {"benchmark": "swe", "k": 5}}, "<", 2)}, "unknown benchmark 'swe'"),
    ({**DEADLINE_CRIT, "pass": cmp({"median": {"benchmark": "hle"}}, "<", 2)}, "unknown metric 'median'"),
    ({**DEADLINE_CRIT, "pass": cmp({"top_k_spread": {"benchmark": "hle", "k": 1}}, "<", 2)}, "k: expected an integer >= 2"),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "<", "two")}, "pass.value: expected a number"),
    ({**DEADLINE_CRIT, "pass": cmp(SPREAD5, "<", 2, over="each")}, "only list-valued metrics"),
    ({**DEADLINE_CRIT, "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0, over="each")}, "needs a frozen 'trend'"),
    ({**DEADLINE_CRIT, "trend": TREND, "pass": cmp({"h_field": {"lab": "DS", "next_releases": 2}}, "<", 0)}, "needs \"over\""),
    ({**DEADLINE_CRIT, "deadline": "end of 2026"}, "deadline: 'end of 2026' is not a date"),
    ({"pass": cmp(SPREAD5, "<", 2), "fail": cmp(SPREAD5, ">", 5)}, "a deadline is required"),
    ({**DEADLINE_CRIT, "pass": {"all": []}}, "non-empty list"),
    ({**DEADLINE_CRIT, "fail_when": "sometimes"}, "fail_when: 'sometimes' is not one of"),
]


@pytest.mark.parametrize(("criterion", "message"), BAD)
def test_malformed_criteria_are_rejected_with_the_place_named(criterion: dict, message: str) -> None:
    with pytest.raises(CriterionError) as raised:
        validate(criterion, BENCHES)
    assert message in str(raised.value)


def test_the_seven_predictions_validate() -> None:
    import json
    from pathlib import Path

    bundle = json.loads((Path(__file__).resolve().parents[2] / "registry/data/predictions/growing-pains-7.json").read_text())
    for entry in bundle["predictions"]:
        validate({**entry["criterion"], "trend": bundle["trend"]}, BENCHES)
