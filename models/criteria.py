"""A small declarative language for falsifiable predictions, and its evaluator.

A criterion is JSON::

    {
      "deadline": "2026-12-31",                 # optional for release-window predictions
      "pass": CONDITION, "fail": CONDITION,
      "pass_when": "any_time" | "deadline",     # default any_time: passes as soon as met
      "fail_when": "any_time" | "deadline",     # default deadline: judged on the deadline's data
      "population": {"released_after_registration": false},
      "trend": {"x": KEY, "y": KEY, "slope": 0.513, "intercept": 46.4, "source": "..."}
    }

    CONDITION  := {"all": [CONDITION, ...]} | {"any": [CONDITION, ...]} | COMPARISON
    COMPARISON := {"metric": METRIC, "op": "<" | "<=" | ">" | ">=", "value": NUMBER}
                  # list-valued metrics (h_field) also need "over": "each" | "some"
    METRIC     := {"top_k_spread": {"benchmark": KEY, "k": INT}}
                | {"correlation": {"x": KEY, "y": KEY, "min_n": INT}}
                | {"count": {"benchmarks": [KEY, ...]}}
                | {"h_field": {"lab": NAME, "next_releases": INT}}

Evaluation is three-valued: a comparison is true, false, or unknown (``None``)
when the data cannot decide it yet (too few models, releases not out). An
h-field is measured against the criterion's own ``trend`` — frozen at
registration — never against a later fit, so new data cannot move the goalposts.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
WHEN = ("any_time", "deadline")
TOP_KEYS = {"deadline", "pass", "fail", "pass_when", "fail_when", "population", "trend"}
METRICS = {
    "top_k_spread": {"benchmark", "k"},
    "correlation": {"x", "y", "min_n"},
    "count": {"benchmarks"},
    "h_field": {"lab", "next_releases"},
}
STATES = ("pending", "passed", "failed", "inconclusive", "not-yet-resolvable")


class CriterionError(ValueError):
    """A criterion that does not parse: names the place and what is wrong."""


# --- the data a criterion is evaluated on -------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One frontier model as the registry knew it on the evaluation date."""

    name: str
    lab: str
    released: dt.date | None  # first day of its release period
    released_end: dt.date | None  # last day of its release period (precision-aware)
    scores: dict[str, float]


@dataclass(frozen=True)
class Context:
    releases: tuple[Release, ...]
    registered_at: dt.date
    evaluated_on: dt.date


# --- validation ---------------------------------------------------------------------------


def validate(criterion: Any, benchmarks: Iterable[str], labs: Iterable[str] = ()) -> dict[str, Any]:
    """Check a criterion completely; raise :class:`CriterionError` naming the first problem."""
    known = set(benchmarks)
    if not isinstance(criterion, dict):
        raise CriterionError("a criterion is a JSON object")
    _only(criterion, TOP_KEYS, "criterion")
    for required in ("pass", "fail"):
        if required not in criterion:
            raise CriterionError(f"criterion: missing {required!r}")
    if "deadline" in criterion:
        _date(criterion["deadline"], "deadline")
    for key in ("pass_when", "fail_when"):
        if key in criterion and criterion[key] not in WHEN:
            raise CriterionError(f"{key}: {criterion[key]!r} is not one of {', '.join(WHEN)}")
    population = criterion.get("population", {})
    if not isinstance(population, dict):
        raise CriterionError("population: expected an object")
    _only(population, {"released_after_registration"}, "population")
    if not isinstance(population.get("released_after_registration", False), bool):
        raise CriterionError("population.released_after_registration: expected true or false")
    uses_h = False
    for side in ("pass", "fail"):
        uses_h |= _validate_condition(criterion[side], side, known)
    if uses_h:
        trend = criterion.get("trend")
        if not isinstance(trend, dict):
            raise CriterionError("an h_field metric needs a frozen 'trend' {x, y, slope, intercept, source}")
        _only(trend, {"x", "y", "slope", "intercept", "source"}, "trend")
        for key in ("x", "y"):
            _benchmark(trend.get(key), f"trend.{key}", known)
        for key in ("slope", "intercept"):
            if not isinstance(trend.get(key), int | float) or isinstance(trend.get(key), bool):
                raise CriterionError(f"trend.{key}: expected a number")
        if not isinstance(trend.get("source"), str) or not trend["source"].strip():
            raise CriterionError("trend.source: say where the frozen trend comes from")
    elif "deadline" not in criterion:
        raise CriterionError("criterion: a deadline is required unless it waits for a lab's next releases")
    return criterion


def _only(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CriterionError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})")


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CriterionError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _benchmark(value: Any, where: str, known: set[str]) -> None:
    if value not in known:
        raise CriterionError(f"{where}: unknown benchmark {value!r}")


def _positive_int(value: Any, where: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CriterionError(f"{where}: expected an integer >= {minimum}")


def _validate_condition(node: Any, where: str, known: set[str]) -> bool:
    """Returns whether the condition uses an h_field metric."""
    if not isinstance(node, dict):
        raise CriterionError(f"{where}: expected a condition object")
    for combinator in ("all", "any"):
        if combinator in node:
            _only(node, {combinator}, where)
            parts = node[combinator]
            if not isinstance(parts, list) or not parts:
                raise CriterionError(f"{where}.{combinator}: expected a non-empty list of conditions")
            return any([_validate_condition(p, f"{where}.{combinator}[{i}]", known) for i, p in enumerate(parts)])
    _only(node, {"metric", "op", "value", "over"}, where)
    if node.get("op") not in OPS:
        raise CriterionError(f"{where}.op: {node.get('op')!r} is not one of {', '.join(OPS)}")
    if not isinstance(node.get("value"), int | float) or isinstance(node.get("value"), bool):
        raise CriterionError(f"{where}.value: expected a number")
    metric = node.get("metric")
    if not isinstance(metric, dict) or len(metric) != 1:
        raise CriterionError(f"{where}.metric: expected one of {', '.join(METRICS)}")
    (name, args), = metric.items()
    if name not in METRICS:
        raise CriterionError(f"{where}.metric: unknown metric {name!r} (known: {', '.join(METRICS)})")
    if not isinstance(args, dict):
        raise CriterionError(f"{where}.metric.{name}: expected an object")
    _only(args, METRICS[name], f"{where}.metric.{name}")
    missing = sorted(METRICS[name] - set(args) - {"min_n"})
    if missing:
        raise CriterionError(f"{where}.metric.{name}: missing {', '.join(missing)}")
    here = f"{where}.metric.{name}"
    if name == "top_k_spread":
        _benchmark(args["benchmark"], f"{here}.benchmark", known)
        _positive_int(args["k"], f"{here}.k", 2)
    elif name == "correlation":
        _benchmark(args["x"], f"{here}.x", known)
        _benchmark(args["y"], f"{here}.y", known)
        _positive_int(args.get("min_n", 3), f"{here}.min_n", 3)
    elif name == "count":
        if not isinstance(args["benchmarks"], list) or not args["benchmarks"]:
            raise CriterionError(f"{here}.benchmarks: expected a non-empty list")
        for i, key in enumerate(args["benchmarks"]):
            _benchmark(key, f"{here}.benchmarks[{i}]", known)
    else:  # h_field
        if not isinstance(args["lab"], str) or not args["lab"].strip():
            raise CriterionError(f"{here}.lab: expected a lab name")
        _positive_int(args["next_releases"], f"{here}.next_releases")
    list_valued = name == "h_field"
    if list_valued and node.get("over") not in ("each", "some"):
        raise CriterionError(f"{where}.over: an h_field comparison needs \"over\": \"each\" or \"some\"")
    if not list_valued and "over" in node:
        raise CriterionError(f"{where}.over: only list-valued metrics (h_field) take 'over'")
    return list_valued


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A condition's truth value (None = not decidable yet) with the evidence for it."""

    result: bool | None
    evidence: dict[str, Any]
    complete: bool = True  # False while a release window is still open


def evaluate(node: dict[str, Any], criterion: dict[str, Any], context: Context) -> Outcome:
    for combinator, reduce in (("all", _all), ("any", _any)):
        if combinator in node:
            parts = [evaluate(part, criterion, context) for part in node[combinator]]
            return Outcome(
                reduce([p.result for p in parts]),
                {combinator: [p.evidence for p in parts]},
                all(p.complete for p in parts),
            )
    return _compare(node, criterion, context)


def _all(results: list[bool | None]) -> bool | None:
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True


def _any(results: list[bool | None]) -> bool | None:
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def _population(criterion: dict[str, Any], context: Context) -> list[Release]:
    releases = list(context.releases)
    if criterion.get("population", {}).get("released_after_registration"):
        releases = [r for r in releases if r.released is not None and r.released > context.registered_at]
    return releases


def _compare(node: dict[str, Any], criterion: dict[str, Any], context: Context) -> Outcome:
    (name, args), = node["metric"].items()
    op, threshold = node["op"], float(node["value"])
    test = OPS[op]
    base = {"metric": name, **args, "op": op, "threshold": threshold}
    releases = _population(criterion, context)
    if name == "h_field":
        return _compare_h(node, args, criterion, context, base)
    value, detail = METRIC_FUNCTIONS[name](releases, args)
    result = None if value is None else bool(test(value, threshold))
    return Outcome(result, {**base, "value": value, **detail, "result": result})


def top_k_spread(releases: list[Release], args: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """Max minus min of the k highest scores (ties broken by name, for a stable list)."""
    key, k = args["benchmark"], args["k"]
    scored = sorted(((r.scores[key], r.name) for r in releases if key in r.scores), key=lambda t: (-t[0], t[1]))
    top = scored[:k]
    detail = {"models": [[name, value] for value, name in top], "n_available": len(scored)}
    if len(top) < k:
        return None, {**detail, "note": f"only {len(scored)} models have {key}"}
    return round(top[0][0] - top[-1][0], 6), detail


def correlation(releases: list[Release], args: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """Pearson r over the models holding both benchmarks; undecided below min_n."""
    x, y, min_n = args["x"], args["y"], args.get("min_n", 3)
    pairs = sorted((r.name, r.scores[x], r.scores[y]) for r in releases if x in r.scores and y in r.scores)
    detail: dict[str, Any] = {"n": len(pairs), "models": [p[0] for p in pairs]}
    if len(pairs) < max(min_n, 3):
        return None, {**detail, "note": f"n = {len(pairs)} < {max(min_n, 3)}"}
    xs, ys = [p[1] for p in pairs], [p[2] for p in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    sxx, syy = sum((a - mx) ** 2 for a in xs), sum((b - my) ** 2 for b in ys)
    if sxx == 0 or syy == 0:
        return None, {**detail, "note": "a benchmark has no spread"}
    return round(sxy / math.sqrt(sxx * syy), 6), detail


def count(releases: list[Release], args: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    keys = args["benchmarks"]
    names = sorted(r.name for r in releases if all(k in r.scores for k in keys))
    return float(len(names)), {"models": names}


METRIC_FUNCTIONS = {"top_k_spread": top_k_spread, "correlation": correlation, "count": count}


def lab_h_fields(criterion: dict[str, Any], context: Context, lab: str, k: int) -> tuple[list[list[Any]], list[str]]:
    """The lab's first k releases after registration with both trend scores, and their h
    against the criterion's frozen trend; plus the releases skipped for lacking a score."""
    trend = criterion["trend"]
    after = sorted(
        (r for r in context.releases if r.lab == lab and r.released is not None and r.released > context.registered_at),
        key=lambda r: (r.released, r.name),
    )
    rows, skipped = [], []
    for release in after:
        if trend["x"] in release.scores and trend["y"] in release.scores:
            h = release.scores[trend["y"]] - (trend["slope"] * release.scores[trend["x"]] + trend["intercept"])
            rows.append([release.name, release.released.isoformat(), round(h, 6)])
        else:
            skipped.append(release.name)
        if len(rows) == k:
            break
    return rows, skipped


def _compare_h(node: dict[str, Any], args: dict[str, Any], criterion: dict[str, Any], context: Context,
               base: dict[str, Any]) -> Outcome:  # fmt: skip
    rows, skipped = lab_h_fields(criterion, context, args["lab"], args["next_releases"])
    test = OPS[node["op"]]
    checks = [bool(test(h, base["threshold"])) for _, _, h in rows]
    complete = len(rows) == args["next_releases"]
    if node["over"] == "each":
        result = False if not all(checks) else (True if complete else None)
    else:
        result = True if any(checks) else (False if complete else None)
    trend = criterion["trend"]
    evidence = {
        **base, "over": node["over"], "releases": rows, "skipped_without_scores": skipped,
        "trend": f"{trend['y']} = {trend['slope']}·{trend['x']} + {trend['intercept']} ({trend['source']})",
        "window": f"{len(rows)} of {args['next_releases']} releases after {context.registered_at.isoformat()}",
        "result": result,
    }  # fmt: skip
    return Outcome(result, evidence, complete)


# --- grading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grade:
    state: str
    evaluated_on: str
    passing: bool | None
    failing: bool | None
    note: str
    evidence: dict[str, Any] = field(default_factory=dict)


def uses_release_window(criterion: dict[str, Any]) -> bool:
    def walk(node: dict[str, Any]) -> bool:
        for combinator in ("all", "any"):
            if combinator in node:
                return any(walk(part) for part in node[combinator])
        return "h_field" in node["metric"]

    return walk(criterion["pass"]) or walk(criterion["fail"])


def evaluation_date(criterion: dict[str, Any], as_of: dt.date) -> dt.date:
    """Data after the deadline never counts: grade on min(as_of, deadline)."""
    deadline = dt.date.fromisoformat(criterion["deadline"]) if "deadline" in criterion else None
    return min(as_of, deadline) if deadline else as_of


def grade(criterion: dict[str, Any], context: Context, as_of: dt.date) -> Grade:
    """The prediction's state on ``as_of`` (``context`` holds the data known on
    :func:`evaluation_date`).

    passed / failed — a condition is met and may resolve now (``*_when``
    any_time, or the deadline has come, or the release window is full);
    inconclusive — the deadline has come (or the window is full) and neither is
    met; not-yet-resolvable — neither condition can be decided on the data yet;
    pending — otherwise (the note says which condition currently holds).
    """
    passing = evaluate(criterion["pass"], criterion, context)
    failing = evaluate(criterion["fail"], criterion, context)
    deadline = dt.date.fromisoformat(criterion["deadline"]) if "deadline" in criterion else None
    deadline_reached = deadline is not None and as_of >= deadline
    window_full = uses_release_window(criterion) and passing.complete and failing.complete
    resolvable = deadline_reached or window_full
    pass_now = criterion.get("pass_when", "any_time") == "any_time" or resolvable
    fail_now = criterion.get("fail_when", "deadline") == "any_time" or resolvable
    if passing.result is True and pass_now:
        state, note = "passed", "the pass condition is met"
    elif failing.result is True and fail_now:
        state, note = "failed", "the fail condition is met"
    elif resolvable:
        state, note = "inconclusive", "resolution reached with neither condition met"
    elif passing.result is None and failing.result is None:
        state, note = "not-yet-resolvable", "the data cannot decide either condition yet"
    else:
        state = "pending"
        note = (
            "the fail condition is currently met (judged at the deadline)" if failing.result
            else "the pass condition is currently met (judged at the deadline)" if passing.result
            else "neither condition is met yet"
        )  # fmt: skip
    return Grade(
        state=state,
        evaluated_on=context.evaluated_on.isoformat(),
        passing=passing.result,
        failing=failing.result,
        note=note,
        evidence={"pass": passing.evidence, "fail": failing.evidence},
    )
