"""A small declarative language for falsifiable predictions, and its evaluator.

A criterion is JSON::

    {
      "deadline": "2026-12-31",                 # optional for release-window predictions
      "pass": CONDITION, "fail": CONDITION,
      "pass_when": "settled" | "deadline",      # default settled: early only when it can no longer change
      "fail_when": "settled" | "deadline",
      "evidence": {"released": "after_registration" | "any",     # default any
                   "reported": "after_registration" | "any",     # default any
                   "provenance": "lab" | "third_party" | "any"}, # default any (the mix is stated)
      "trend": {"x": KEY, "y": KEY, "slope": 0.513, "intercept": 46.4, "source": "..."}
    }

    CONDITION  := {"all": [CONDITION, ...]} | {"any": [CONDITION, ...]} | COMPARISON
    COMPARISON := {"metric": METRIC, "op": "<" | "<=" | ">" | ">=", "value": NUMBER}
                  # list-valued metrics (h_field) also need "over": "each" | "some"
    METRIC     := {"top_k_spread": {"benchmark": KEY, "k": INT}}
                | {"correlation": {"x": KEY, "y": KEY, "min_n": INT}}
                | {"count": {"benchmarks": [KEY, ...]}}
                | {"h_field": {"lab": NAME, "next_releases": INT}}

Evaluation is three-valued (true, false, ``None`` = the data cannot decide it)
and each outcome also says whether it is *settled*: whether any data that could
still arrive might change it. The one resolution rule (see :func:`grade`): a
prediction resolves before its deadline only on a settled outcome; otherwise it
waits for the deadline (or, without one, for its release window to close).
Models with the same weights (``group``) count once in every metric.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# "any_time" is the pre-0007 spelling of "settled" (rows registered before it stay verifiable and gradable).
WHEN = ("settled", "deadline", "any_time")
TOP_KEYS = {"deadline", "pass", "fail", "pass_when", "fail_when", "population", "evidence", "trend"}
EVIDENCE = {
    "released": ("any", "after_registration"),
    "reported": ("any", "after_registration"),
    "provenance": ("any", "lab", "third_party"),
}
METRICS = {
    "top_k_spread": {"benchmark", "k"},
    "correlation": {"x", "y", "min_n"},
    "count": {"benchmarks"},
    "h_field": {"lab", "next_releases"},
}
STATES = ("pending", "not-yet-resolvable", "passed", "failed", "inconclusive", "annulled", "ambiguous")
RESOLVED = ("passed", "failed", "inconclusive", "annulled", "ambiguous")
# A release in an h-field window whose needed scores are still unreported this many days
# after its release is unresolvable (the lab did not report them).
SCORE_GRACE_DAYS = 90
# Which reported_by values each provenance admits: the paper's tables compile lab reports.
PROVENANCE = {"any": None, "lab": {"lab", "paper"}, "third_party": {"third_party"}}


class CriterionError(ValueError):
    """A criterion that does not parse: names the place and what is wrong."""


# --- the data a criterion is evaluated on -------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One reported value: the observation it came from, who reported it, when it was known."""

    observation_id: int
    value: float
    reported_by: str
    known: dt.date


@dataclass(frozen=True)
class Release:
    """One frontier model as the registry knew it on the evaluation date.

    ``scores`` holds the preferred value per benchmark; ``figures`` every counted
    figure per benchmark, preferred first (evidence windows pick from them);
    ``group`` names the same-weights group (the ``variant_of`` chain's root).
    """

    name: str
    lab: str
    released: dt.date | None  # first day of its release period
    released_end: dt.date | None  # last day of its release period (precision-aware)
    scores: dict[str, float]
    figures: dict[str, tuple[Figure, ...]] = field(default_factory=dict)
    group: str = ""

    @property
    def weights(self) -> str:
        return self.group or self.name


@dataclass(frozen=True)
class Context:
    releases: tuple[Release, ...]
    registered_at: dt.date  # the evidence window's start: the prediction's first registration
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
            raise CriterionError(f"{key}: {criterion[key]!r} is not one of settled, deadline")
    population = criterion.get("population", {})
    if not isinstance(population, dict):
        raise CriterionError("population: expected an object")
    _only(population, {"released_after_registration"}, "population")
    if not isinstance(population.get("released_after_registration", False), bool):
        raise CriterionError("population.released_after_registration: expected true or false")
    evidence = criterion.get("evidence", {})
    if not isinstance(evidence, dict):
        raise CriterionError("evidence: expected an object")
    _only(evidence, set(EVIDENCE), "evidence")
    for key, allowed in EVIDENCE.items():
        if key in evidence and evidence[key] not in allowed:
            raise CriterionError(f"evidence.{key}: {evidence[key]!r} is not one of {', '.join(allowed)}")
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
        raise CriterionError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})"
        )


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
    ((name, args),) = metric.items()
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
        raise CriterionError(f'{where}.over: an h_field comparison needs "over": "each" or "some"')
    if not list_valued and "over" in node:
        raise CriterionError(f"{where}.over: only list-valued metrics (h_field) take 'over'")
    return list_valued


# --- evidence windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    released: str
    reported: str
    provenance: str

    def describe(self, anchor: dt.date) -> str:
        day = anchor.isoformat()
        released = (
            f"models released after {day}" if self.released == "after_registration" else "models released any time"
        )
        reported = f"figures known after {day}" if self.reported == "after_registration" else "figures known any time"
        provenance = {
            "any": "lab-reported and third-party figures",
            "lab": "lab-reported figures only",
            "third_party": "third-party figures only",
        }[self.provenance]
        return f"{released}; {reported}; {provenance}; same weights counted once"


def window_of(criterion: dict[str, Any]) -> Window:
    evidence = criterion.get("evidence", {})
    released = evidence.get("released")
    if released is None:
        legacy = criterion.get("population", {}).get("released_after_registration", False)
        released = "after_registration" if legacy else "any"
    return Window(released, evidence.get("reported", "any"), evidence.get("provenance", "any"))


def _admits(window: Window, figure: Figure, anchor: dt.date) -> bool:
    allowed = PROVENANCE[window.provenance]
    if allowed is not None and figure.reported_by not in allowed:
        return False
    return window.reported == "any" or figure.known > anchor


def windowed(criterion: dict[str, Any], context: Context) -> tuple[list[Release], dict[str, str]]:
    """The releases a criterion may use, each with only the figures its window admits,
    and the models left out with why (``name -> reason``)."""
    window = window_of(criterion)
    anchor = context.registered_at
    kept, excluded = [], {}
    for release in context.releases:
        if window.released == "after_registration" and (release.released is None or release.released <= anchor):
            excluded[release.name] = f"released before the window ({anchor.isoformat()})"
            continue
        if not release.figures:  # hand-built data: the scores are the figures
            kept.append(release)
            continue
        scores, dropped = {}, []
        for key, figures in release.figures.items():
            chosen = next((f for f in figures if _admits(window, f, anchor)), None)
            if chosen is None:
                dropped.append(key)
            else:
                scores[key] = chosen.value
        if dropped and window != Window("any", "any", "any"):
            excluded[release.name] = f"no figure inside the window for {', '.join(sorted(dropped))}"
        kept.append(replace(release, scores=scores))
    return kept, excluded


def figure_of(release: Release, key: str) -> Figure | None:
    """The figure behind ``release.scores[key]`` (the first admitted one with that value)."""
    return next((f for f in release.figures.get(key, ()) if f.value == release.scores.get(key)), None)


def once_per_weights(releases: list[Release], keys: list[str]) -> tuple[list[Release], dict[str, str]]:
    """One release per same-weights group among those holding all ``keys``: the member
    with the highest score on ``keys[0]`` (ties: the earliest name)."""
    holding = [r for r in releases if all(k in r.scores for k in keys)]
    best: dict[str, Release] = {}
    for release in sorted(holding, key=lambda r: (-r.scores[keys[0]], r.name)):
        best.setdefault(release.weights, release)
    dropped = {
        r.name: f"same weights as {best[r.weights].name} (counted once)" for r in holding if best[r.weights] is not r
    }
    return [r for r in holding if best[r.weights] is r], dropped


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A condition's truth value (None = not decidable yet), whether no data that could
    still arrive can change it (``settled``), the evidence, and the observations used."""

    result: bool | None
    evidence: dict[str, Any]
    complete: bool = True  # False while a release window is still open
    settled: bool = False
    observations: frozenset[int] = frozenset()
    unscored: bool = False  # a window release's needed scores were never reported


def evaluate(node: dict[str, Any], criterion: dict[str, Any], context: Context) -> Outcome:
    for combinator in ("all", "any"):
        if combinator in node:
            parts = [evaluate(part, criterion, context) for part in node[combinator]]
            result, settled = (_all if combinator == "all" else _any)(parts)
            return Outcome(
                result,
                {combinator: [p.evidence for p in parts]},
                all(p.complete for p in parts),
                settled,
                frozenset().union(*(p.observations for p in parts)),
                any(p.unscored for p in parts),
            )
    return _compare(node, criterion, context)


def _all(parts: list[Outcome]) -> tuple[bool | None, bool]:
    if any(p.result is False for p in parts):
        return False, any(p.result is False and p.settled for p in parts)
    if any(p.result is None for p in parts):
        return None, False
    return True, all(p.settled for p in parts)


def _any(parts: list[Outcome]) -> tuple[bool | None, bool]:
    if any(p.result is True for p in parts):
        return True, any(p.result is True and p.settled for p in parts)
    if any(p.result is None for p in parts):
        return None, False
    return False, all(p.settled for p in parts)


def _compare(node: dict[str, Any], criterion: dict[str, Any], context: Context) -> Outcome:
    ((name, args),) = node["metric"].items()
    op, threshold = node["op"], float(node["value"])
    base = {"metric": name, **args, "op": op, "threshold": threshold}
    releases, excluded = windowed(criterion, context)
    if name == "h_field":
        return _compare_h(node, args, criterion, context, releases, base)
    keys = metric_keys(name, args)
    distinct, same = once_per_weights(releases, keys)
    value, detail = METRIC_FUNCTIONS[name](distinct, args)
    result = None if value is None else bool(OPS[op](value, threshold))
    # Only a count is monotone (more data can only raise it): its bound settles once met.
    settled = name == "count" and result is not None and (result is (op in (">", ">=")))
    used = [r for r in distinct if r.name in _named(detail)]
    observations = frozenset(f.observation_id for r in used for k in keys if (f := figure_of(r, k)) is not None)
    relevant = {
        n: why
        for n, why in excluded.items()
        if any(r.name == n for r in context.releases if all(k in r.scores for k in keys))
    }
    mix: dict[str, int] = {}
    for r in used:
        for k in keys:
            if (f := figure_of(r, k)) is not None:
                mix[f.reported_by] = mix.get(f.reported_by, 0) + 1
    evidence = {
        **base,
        "value": value,
        **detail,
        "result": result,
        "settled": settled,
        "excluded": {**relevant, **same},
        "provenance": dict(sorted(mix.items())),
    }
    return Outcome(result, evidence, True, settled, observations)


def metric_keys(name: str, args: dict[str, Any]) -> list[str]:
    return {
        "top_k_spread": lambda: [args["benchmark"]],
        "correlation": lambda: [args["x"], args["y"]],
        "count": lambda: list(args["benchmarks"]),
    }[name]()


def _named(detail: dict[str, Any]) -> set[str]:
    return {m[0] if isinstance(m, list) else m for m in detail.get("models", [])}


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
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=False))
    sxx, syy = sum((a - mx) ** 2 for a in xs), sum((b - my) ** 2 for b in ys)
    if sxx == 0 or syy == 0:
        return None, {**detail, "note": "a benchmark has no spread"}
    return round(sxy / math.sqrt(sxx * syy), 6), detail


def count(releases: list[Release], args: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    keys = args["benchmarks"]
    names = sorted(r.name for r in releases if all(k in r.scores for k in keys))
    return float(len(names)), {"models": names}


METRIC_FUNCTIONS = {"top_k_spread": top_k_spread, "correlation": correlation, "count": count}


@dataclass(frozen=True)
class WindowEntry:
    name: str
    released: str
    h: float | None
    status: str  # scored | awaiting scores | unresolvable: ...
    observations: tuple[int, ...] = ()


def lab_window(
    criterion: dict[str, Any], context: Context, releases: list[Release], lab: str, k: int
) -> tuple[list[WindowEntry], list[str], list[str]]:
    """Every release of ``lab`` after registration in date order, one per same-weights
    group: the first ``k`` are the window, scored or not. Returns the window, the later
    releases, and the re-releases of weights already in the window."""
    trend = criterion["trend"]
    anchor = context.registered_at
    after = sorted(
        (r for r in releases if r.lab == lab and r.released is not None and r.released > anchor),
        key=lambda r: (r.released, r.name),
    )
    window: list[WindowEntry] = []
    later, repeats, seen = [], [], set()
    for release in after:
        if release.weights in seen:
            repeats.append(f"{release.name} (same weights as an earlier release)")
            continue
        seen.add(release.weights)
        if len(window) == k:
            later.append(release.name)
            continue
        day = release.released.isoformat()
        if trend["x"] in release.scores and trend["y"] in release.scores:
            h = release.scores[trend["y"]] - (trend["slope"] * release.scores[trend["x"]] + trend["intercept"])
            ids = tuple(f.observation_id for key in (trend["x"], trend["y"]) if (f := figure_of(release, key)))
            window.append(WindowEntry(release.name, day, round(h, 6), "scored", ids))
            continue
        missing = ", ".join(key for key in (trend["x"], trend["y"]) if key not in release.scores)
        overdue = (context.evaluated_on - (release.released_end or release.released)).days > SCORE_GRACE_DAYS
        status = (
            f"unresolvable: {missing} not reported within {SCORE_GRACE_DAYS} days"
            if overdue
            else f"awaiting scores: {missing}"
        )
        window.append(WindowEntry(release.name, day, None, status))
    return window, later, repeats


def _compare_h(
    node: dict[str, Any],
    args: dict[str, Any],
    criterion: dict[str, Any],
    context: Context,
    releases: list[Release],
    base: dict[str, Any],
) -> Outcome:
    window, later, repeats = lab_window(criterion, context, releases, args["lab"], args["next_releases"])
    test = OPS[node["op"]]
    checks = [bool(test(e.h, base["threshold"])) for e in window if e.h is not None]
    full = len(window) == args["next_releases"]
    all_scored = full and all(e.h is not None for e in window)
    if node["over"] == "each":
        result = False if not all(checks) else (True if all_scored else None)
        settled = result is not None  # a scored release's h does not change
    else:
        result = True if any(checks) else (False if all_scored else None)
        settled = result is not None
    closed = full and all(e.h is not None or e.status.startswith("unresolvable") for e in window)
    trend = criterion["trend"]
    evidence = {
        **base,
        "over": node["over"],
        "releases": [[e.name, e.released, e.h] for e in window],
        "entries": [{"name": e.name, "released": e.released, "h": e.h, "status": e.status} for e in window],
        "after_window": later,
        "same_weights": repeats,
        "trend": f"{trend['y']} = {trend['slope']}·{trend['x']} + {trend['intercept']} ({trend['source']})",
        "window": f"{len(window)} of {args['next_releases']} releases after {context.registered_at.isoformat()}",
        "result": result,
        "settled": settled,
    }
    observations = frozenset(i for e in window for i in e.observations)
    unscored = any(e.status.startswith("unresolvable") for e in window)
    return Outcome(result, evidence, closed, settled, observations, unscored)


# --- grading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grade:
    state: str
    evaluated_on: str
    passing: bool | None
    failing: bool | None
    note: str
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    observations: tuple[int, ...] = ()


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


def rule_of(criterion: dict[str, Any]) -> str:
    """The resolution rule, in words, for this criterion."""
    deadline = criterion.get("deadline")
    wait = f"the deadline {deadline}" if deadline else "the release window closing"
    early = [side for side in ("pass", "fail") if criterion.get(f"{side}_when", "settled") != "deadline"]
    if early:
        return (
            f"resolves early only when the {' or '.join(early)} outcome is settled (no data still to come can "
            f"change it); otherwise judged at {wait}"
        )
    return f"judged at {wait} only"


def grade(criterion: dict[str, Any], context: Context, as_of: dt.date) -> Grade:
    """The prediction's state on ``as_of`` (``context`` holds the data known on
    :func:`evaluation_date`), by the one resolution rule:

    before resolution (the deadline, or without one the release window closing), a
    side resolves only if its outcome is *settled*; at resolution, on its value.
    passed / failed — that side holds; ambiguous — both hold; inconclusive — at
    resolution neither holds; annulled — at resolution the data cannot decide
    (too few models in the window, or window releases never scored);
    not-yet-resolvable — neither side decidable yet; pending — otherwise.
    """
    passing = evaluate(criterion["pass"], criterion, context)
    failing = evaluate(criterion["fail"], criterion, context)
    deadline = dt.date.fromisoformat(criterion["deadline"]) if "deadline" in criterion else None
    at_deadline = deadline is not None and as_of >= deadline
    window_closed = deadline is None and uses_release_window(criterion) and passing.complete and failing.complete
    resolution = at_deadline or window_closed
    pass_now = passing.result is True and (resolution or (passing.settled and criterion.get("pass_when") != "deadline"))
    fail_now = failing.result is True and (resolution or (failing.settled and criterion.get("fail_when") != "deadline"))
    when = "at the deadline" if at_deadline else "the release window is closed" if window_closed else "settled early"
    if pass_now and fail_now:
        state, reason, note = "ambiguous", "pass_and_fail_both_met", "the pass and fail conditions both hold"
    elif pass_now:
        state, reason, note = (
            "passed",
            "pass_at_resolution" if resolution else "pass_settled",
            f"the pass condition holds ({when})",
        )
    elif fail_now:
        state, reason, note = (
            "failed",
            "fail_at_resolution" if resolution else "fail_settled",
            f"the fail condition holds ({when})",
        )
    elif resolution and (passing.result is None or failing.result is None):
        if passing.unscored or failing.unscored:
            state, reason = "annulled", "unreported_scores"
            note = "releases in the window never reported the needed scores: the criterion cannot be decided for them"
        else:
            state, reason = "annulled", "insufficient_evidence"
            note = "at resolution the window holds too little evidence to decide"
    elif resolution:
        state, reason, note = "inconclusive", "neither_met", "resolution reached with neither condition met"
    elif passing.result is None and failing.result is None:
        state, reason, note = "not-yet-resolvable", "awaiting_evidence", "the data cannot decide either condition yet"
    else:
        state, reason = "pending", "awaiting_resolution"
        wait = f"judged at the deadline {deadline.isoformat()}" if deadline else "judged when the window closes"
        note = (
            f"the fail condition currently holds, not settled ({wait})"
            if failing.result
            else f"the pass condition currently holds, not settled ({wait})"
            if passing.result
            else "neither condition holds yet"
        )
    return Grade(
        state=state,
        evaluated_on=context.evaluated_on.isoformat(),
        passing=passing.result,
        failing=failing.result,
        note=note,
        evidence={
            "pass": passing.evidence,
            "fail": failing.evidence,
            "rule": rule_of(criterion),
            "window": window_of(criterion).describe(context.registered_at),
        },
        reason=reason,
        observations=tuple(sorted(passing.observations | failing.observations)),
    )
