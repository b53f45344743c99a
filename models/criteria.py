"""A small declarative language for falsifiable predictions: parsed once into a typed tree.

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

:func:`parse` turns the JSON into a :class:`Criterion` (frozen dataclasses: :class:`AllOf`,
:class:`AnyOf`, :class:`Compare` over one :class:`Metric` subclass per metric) or raises
:class:`CriterionError` naming the place; ``Criterion.to_json()`` gives the JSON back
(the canonical form that is hashed). Every question about a criterion is a method of
the tree: ``evaluate``, ``describe``, ``benchmarks``, ``labs``, ``explain`` (evidence in
words). A new metric is one new :class:`Metric` subclass listed in :data:`METRICS`.

Evaluation is three-valued (true, false, ``None`` = the data cannot decide it)
and each outcome also says whether it is *settled*: whether any data that could
still arrive might change it. The one resolution rule (see :func:`grade`): a
prediction resolves before its deadline only on a settled outcome; otherwise it
waits for the deadline (or, without one, for its release window to close).
Models with the same weights (``group``) count once in every metric.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NamedTuple

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
STATES = ("pending", "not-yet-resolvable", "passed", "failed", "inconclusive", "annulled", "ambiguous")
RESOLVED = ("passed", "failed", "inconclusive", "annulled", "ambiguous")
# A release in an h-field window whose needed scores are still unreported this many days
# after its release is unresolvable (the lab did not report them).
SCORE_GRACE_DAYS = 90
# Which reported_by values each provenance admits: the paper's tables compile lab reports.
PROVENANCE = {"any": None, "lab": {"lab", "paper"}, "third_party": {"third_party"}}
MAX_NAME = 200  # a benchmark key or lab name longer than this is not one


class CriterionError(ValueError):
    """A criterion that does not parse: names the place and what is wrong."""


# --- the data a criterion is evaluated on -------------------------------------------------


class Figure(NamedTuple):
    """One reported value: the observation it came from, who reported it, when it was known.

    (A named tuple, not a dataclass: a grading at scale builds one per observation read.)"""

    observation_id: int
    value: float
    reported_by: str
    known: dt.date


@dataclass(frozen=True, slots=True)
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
    # windowed views already computed on these releases (shared by predictions with one window)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


# --- parsing helpers ------------------------------------------------------------------------


def _only(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CriterionError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})"
        )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CriterionError(f"{where}: expected an object")
    return value


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CriterionError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _name(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise CriterionError(f"{where}: expected {what} (a string of 1 to {MAX_NAME} characters), got {value!r:.60}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CriterionError(f"{where}: control characters are not allowed in {what}")
    return value


def _benchmark(value: Any, where: str, known: set[str] | None) -> str:
    key = _name(value, where, "a benchmark key")
    if known is not None and key not in known:
        raise CriterionError(f"{where}: unknown benchmark {key!r}")
    return key


def _number(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise CriterionError(f"{where}: expected a number")
    if not math.isfinite(value):
        raise CriterionError(f"{where}: {value} is not a finite number")
    return value


def _integer(value: Any, where: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CriterionError(f"{where}: expected an integer >= {minimum}")
    return value


def _choice(value: Any, allowed: Iterable[str], where: str, shown: Iterable[str] | None = None) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise CriterionError(f"{where}: {value!r} is not one of {', '.join(shown or allowed)}")
    return value


def _verdict(result: bool | None, settled: bool) -> str:
    return {True: "met", False: "not met", None: "undecided"}[result] + (", settled" if settled else "")


def _num(value: float) -> str:
    return f"{value:g}"


# --- evidence windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    released: str
    reported: str
    provenance: str

    def describe(self, anchor: dt.date | None) -> str:
        """In words, from ``anchor`` (the first registration; ``None``: not yet registered)."""
        day = anchor.isoformat() if anchor else "registration"
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


OPEN = Window("any", "any", "any")


def _admits(window: Window, figure: Figure, anchor: dt.date) -> bool:
    allowed = PROVENANCE[window.provenance]
    if allowed is not None and figure.reported_by not in allowed:
        return False
    return window.reported == "any" or figure.known > anchor


class Windowed(NamedTuple):
    """What a window admits of a context's releases."""

    releases: list[Release]  # each with only the figures the window admits
    excluded: dict[str, str]  # admitted as released in the window, with a figure left out: name -> why
    before: list[Release]  # released before the window (counted in the evidence, not named: most of the registry)


def windowed(window: Window, context: Context) -> Windowed:
    """The releases a window admits and those it leaves out (computed once per window and context)."""
    if window in context.memo:
        return context.memo[window]
    anchor = context.registered_at
    kept: list[Release] = []
    excluded: dict[str, str] = {}
    before: list[Release] = []
    for release in context.releases:
        if window.released == "after_registration" and (release.released is None or release.released <= anchor):
            before.append(release)
            continue
        if not release.figures or (window.reported, window.provenance) == ("any", "any"):
            kept.append(release)  # hand-built data, or every figure admitted: the scores are the preferred figures
            continue
        scores, dropped = {}, []
        for key, figures in release.figures.items():
            chosen = next((f for f in figures if _admits(window, f, anchor)), None)
            if chosen is None:
                dropped.append(key)
            else:
                scores[key] = chosen.value
        if dropped:
            excluded[release.name] = f"no figure inside the window for {', '.join(sorted(dropped))}"
        kept.append(replace(release, scores=scores))
    context.memo[window] = Windowed(kept, excluded, before)
    return context.memo[window]


def figure_of(release: Release, key: str) -> Figure | None:
    """The figure behind ``release.scores[key]`` (the first admitted one with that value)."""
    figures = release.figures.get(key, ())
    score = release.scores.get(key)
    if figures and figures[0].value == score:  # the preferred figure: nearly always
        return figures[0]
    return next((f for f in figures if f.value == score), None)


_OBSERVATION_ID = operator.itemgetter(Figure._fields.index("observation_id"))
_REPORTED_BY = operator.itemgetter(Figure._fields.index("reported_by"))


def _figures_used(releases: list[Release], keys: tuple[str, ...]) -> list[Figure]:
    """The figure behind each of ``keys``' scores of each release (:func:`figure_of`, inlined:
    a correlation at scale asks for ~20,000)."""
    used = []
    for release in releases:
        for key in keys:
            figures = release.figures.get(key)
            if not figures:
                continue
            first = figures[0]
            found = first if first.value == release.scores.get(key) else figure_of(release, key)
            if found is not None:
                used.append(found)
    return used


def once_per_weights(
    releases: list[Release], keys: list[str], sharing: list[Release] | None = None
) -> tuple[list[Release], dict[str, str]]:
    """One release per same-weights group among those holding all ``keys``: the member
    with the highest score on ``keys[0]`` (ties: the earliest name). ``sharing``: the
    releases of ``releases`` whose weights another of them shares, if known (:func:`sharing_weights`)."""
    holders = _holders(releases, tuple(keys))
    candidates = _holders(sharing, tuple(keys)) if sharing is not None else sharing_weights(holders)
    counts = Counter(r.group or r.name for r in candidates)
    shared = {group for group, n in counts.items() if n > 1}
    if not shared:  # no two holders share weights (nearly always)
        return holders, {}
    first = keys[0]
    best: dict[str, Release] = {}
    for release in candidates:
        group = release.group or release.name
        if group in shared:
            held = best.get(group)
            if held is None or (-release.scores[first], release.name) < (-held.scores[first], held.name):
                best[group] = release
    dropped = {
        r.name: f"same weights as {best[group].name} (counted once)"
        for r in holders
        if (group := r.group or r.name) in shared and best[group] is not r
    }
    return [r for r in holders if (group := r.group or r.name) not in shared or best[group] is r], dropped


def sharing_weights(releases: list[Release] | tuple[Release, ...]) -> list[Release]:
    """The releases whose weights another of ``releases`` shares (same ``variant_of`` root)."""
    counts = Counter(r.group or r.name for r in releases)
    return [r for r in releases if counts[r.group or r.name] > 1]


def _holders(releases: list[Release], keys: tuple[str, ...]) -> list[Release]:
    """The releases holding a score on every one of ``keys``."""
    if len(keys) == 1:
        (key,) = keys
        return [r for r in releases if key in r.scores]
    wanted = set(keys)
    return [r for r in releases if r.scores.keys() >= wanted]


# --- the measures ---------------------------------------------------------------------------------


def top_k_spread(releases: list[Release], benchmark: str, k: int) -> tuple[float | None, dict[str, Any]]:
    """Max minus min of the k highest scores (ties broken by name, for a stable list)."""
    scored = [(-r.scores[benchmark], r.name) for r in releases if benchmark in r.scores]
    top = heapq.nsmallest(k, scored)  # highest first, ties by name: = sorted(scored)[:k]
    detail: dict[str, Any] = {"models": [[name, -value] for value, name in top], "n_available": len(scored)}
    if len(top) < k:
        n = len(scored)
        return None, {
            **detail,
            "note": f"only {n} model{'' if n == 1 else 's'} {'has' if n == 1 else 'have'} {benchmark}",
        }
    return round(top[-1][0] - top[0][0], 6), detail


def correlation(releases: list[Release], x: str, y: str, min_n: int = 3) -> tuple[float | None, dict[str, Any]]:
    """Pearson r over the models holding both benchmarks; undecided below min_n."""
    pairs = sorted((r.name, r.scores[x], r.scores[y]) for r in releases if x in r.scores and y in r.scores)
    detail: dict[str, Any] = {"n": len(pairs), "models": [p[0] for p in pairs]}
    if len(pairs) < max(min_n, 3):
        return None, {**detail, "note": f"n = {len(pairs)} < {max(min_n, 3)}"}
    xs, ys = [p[1] for p in pairs], [p[2] for p in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True))
    sxx, syy = sum((a - mx) ** 2 for a in xs), sum((b - my) ** 2 for b in ys)
    if sxx == 0 or syy == 0:
        return None, {**detail, "note": "a benchmark has no spread"}
    return round(sxy / math.sqrt(sxx * syy), 6), detail


# --- the tree: outcomes, metrics, conditions ----------------------------------------------------


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


@dataclass(frozen=True)
class Trend:
    """The trend an h-field is measured against, frozen at registration."""

    x: str
    y: str
    slope: float
    intercept: float
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "slope": self.slope, "intercept": self.intercept, "source": self.source}

    def describe(self) -> str:
        return f"{self.y} = {self.slope}·{self.x} + {self.intercept} ({self.source})"

    @classmethod
    def parse(cls, raw: Any, known: set[str] | None) -> Trend:
        if not isinstance(raw, dict):
            raise CriterionError("an h_field metric needs a frozen 'trend' {x, y, slope, intercept, source}")
        _only(raw, {"x", "y", "slope", "intercept", "source"}, "trend")
        x, y = (_benchmark(raw.get(key), f"trend.{key}", known) for key in ("x", "y"))
        slope, intercept = (_number(raw.get(key), f"trend.{key}") for key in ("slope", "intercept"))
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            raise CriterionError("trend.source: say where the frozen trend comes from")
        return cls(x, y, slope, intercept, source)


@dataclass(frozen=True)
class Scope:
    """What one comparison is evaluated on: the data, the criterion's window and trend."""

    context: Context
    window: Window
    trend: Trend | None = None

    def windowed(self) -> Windowed:
        return windowed(self.window, self.context)


@dataclass(frozen=True)
class Held:
    """A window's releases holding every one of some benchmarks, each set of weights once:
    what every metric of those benchmarks measures (shared by them)."""

    distinct: list[Release]
    by_name: dict[str, Release]
    same: dict[str, str]  # left out as a re-release of counted weights: name -> why
    excluded: dict[str, str]  # left out by the window, among those holding the benchmarks: name -> why
    before: int | None  # how many of those holding the benchmarks were released before the window (None: no start)


def holding(scope: Scope, keys: tuple[str, ...]) -> Held:
    """:class:`Held` for the scope's window and ``keys`` (computed once per window, keys and data)."""
    memo = scope.context.memo
    if (scope.window, keys) in memo:
        return memo[(scope.window, keys)]
    releases, excluded, before = scope.windowed()
    distinct, same = once_per_weights(releases, list(keys), _sharing(scope))
    relevant = {}
    if excluded:
        every = _by_name(scope.context)
        holders = {r.name for r in _holders([every[name] for name in excluded], keys)}
        relevant = {name: why for name, why in excluded.items() if name in holders}
    starts = scope.window.released == "after_registration"
    held = Held(
        distinct, {r.name: r for r in distinct}, same, relevant, len(_holders(before, keys)) if starts else None
    )
    memo[(scope.window, keys)] = held
    return held


def _sharing(scope: Scope) -> list[Release]:
    """:func:`sharing_weights` of the scope's window (once per window and data)."""
    memo = scope.context.memo
    key = ("sharing weights", scope.window)
    if key not in memo:
        memo[key] = sharing_weights(scope.windowed().releases)
    return memo[key]


def _by_name(context: Context) -> dict[str, Release]:
    if "by name" not in context.memo:
        context.memo["by name"] = {r.name: r for r in context.releases}
    return context.memo["by name"]


@dataclass(frozen=True)
class Measured:
    """A metric's value on a window, with what its evidence reports."""

    value: float | None
    detail: dict[str, Any]
    excluded: dict[str, str]
    provenance: dict[str, int]
    observations: frozenset[int]
    before_window: int | None = None  # how many holders were released before the window (None: it has no start)


@dataclass(frozen=True)
class Metric:
    """One measure of the releases. Subclasses set ``name`` and ``fields`` and implement
    ``keys``, ``args``, ``phrase`` and ``measure`` (or, for list-valued ones, ``evaluate``)."""

    name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    list_valued: ClassVar[bool] = False  # compared per release: needs "over": "each" | "some"

    @classmethod
    def parse(cls, args: dict[str, Any], where: str, known: set[str] | None, trend: Trend | None) -> Metric:
        raise NotImplementedError

    def keys(self) -> tuple[str, ...]:
        """The benchmarks whose figures it reads, the first deciding which same-weights member counts."""
        raise NotImplementedError

    def labs(self) -> tuple[str, ...]:
        return ()

    def reads(self, release: Release) -> bool:
        """Whether ``release`` can enter this metric's value or evidence: it holds a figure of
        every one of its benchmarks (no other is ever counted, excluded or listed)."""
        return all(key in release.scores or key in release.figures for key in self.keys())

    def args(self) -> dict[str, Any]:
        raise NotImplementedError

    def phrase(self) -> str:
        raise NotImplementedError

    def measure(self, releases: list[Release]) -> tuple[float | None, dict[str, Any]]:
        raise NotImplementedError

    def settles(self, op: str, result: bool | None) -> bool:
        """Whether this result can no longer change as data arrives (most metrics: never before the deadline)."""
        return False

    def sentence(self, compare: Compare) -> str:
        """The comparison in words."""
        return f"{self.phrase()} {compare.op} {_num(compare.value)}"

    def label(self, evidence: dict[str, Any]) -> str:
        """The measured quantity in words, with what the evidence adds (n, models)."""
        return self.phrase()

    def evaluate(self, compare: Compare, scope: Scope) -> Outcome:
        """Window, count each set of weights once, measure and compare; the evidence names
        the models used, the excluded with why, and the provenance mix."""
        measured = self.measured(scope)
        value = measured.value
        result = None if value is None else bool(OPS[compare.op](value, float(compare.value)))
        settled = self.settles(compare.op, result)
        evidence = {
            **compare.base(),
            "value": value,
            **measured.detail,
            "result": result,
            "settled": settled,
            "excluded": dict(measured.excluded),
            "provenance": dict(measured.provenance),
        }
        if measured.before_window is not None:
            evidence["released_before_window"] = measured.before_window
        return Outcome(result, evidence, True, settled, measured.observations)

    def measured(self, scope: Scope) -> Measured:
        """The measure on the scope's window (computed once per metric, window and data:
        a pass and a fail side on one metric share it)."""
        memo = scope.context.memo
        if (scope.window, self) in memo:
            return memo[(scope.window, self)]
        keys = self.keys()
        held = holding(scope, keys)
        value, detail = self.measure(held.distinct)
        named = {m[0] if isinstance(m, list) else m for m in detail.get("models", [])}
        if len(named) == len(held.distinct):  # a correlation or count names every holder
            releases = held.distinct
        else:
            releases = [r for name in named if (r := held.by_name.get(name)) is not None]
        used = _figures_used(releases, keys)
        observations = frozenset(map(_OBSERVATION_ID, used))
        mix = Counter(map(_REPORTED_BY, used))
        excluded = {**held.excluded, **held.same}
        out = Measured(value, detail, excluded, dict(sorted(mix.items())), observations, held.before)
        memo[(scope.window, self)] = out
        return out

    def explain(self, compare: Compare, evidence: dict[str, Any]) -> str:
        value = "n/a" if evidence["value"] is None else f"{evidence['value']:.3g}"
        line = (
            f"{self.label(evidence)} = {value} {compare.op} {_num(compare.value)} → "
            f"{_verdict(evidence['result'], evidence.get('settled', False))}{self.detail(evidence)}"
        )
        if evidence.get("note"):
            line += f" ({evidence['note']})"
        if evidence.get("provenance"):
            line += " {figures: " + ", ".join(f"{n} {who}" for who, n in evidence["provenance"].items()) + "}"
        if evidence.get("released_before_window"):
            line += f"; not counted: {evidence['released_before_window']} released before the window"
        if evidence.get("excluded"):
            shown = list(evidence["excluded"].items())
            line += (
                f"; excluded {len(shown)}: "
                + "; ".join(f"{n} ({why})" for n, why in shown[:8])
                + (" …" if len(shown) > 8 else "")
            )
        return line

    def detail(self, evidence: dict[str, Any]) -> str:
        """What follows the verdict in :meth:`explain` (e.g. the models of a top-k)."""
        return ""

    def decisive(self, evidence: dict[str, Any]) -> Any:
        """The parts of its evidence that decide a grade (not counts or model lists)."""
        return (evidence.get("value"), evidence.get("result"))


@dataclass(frozen=True)
class TopKSpread(Metric):
    benchmark: str
    k: int
    name: ClassVar[str] = "top_k_spread"
    fields: ClassVar[tuple[str, ...]] = ("benchmark", "k")

    @classmethod
    def parse(cls, args: dict[str, Any], where: str, known: set[str] | None, trend: Trend | None) -> Metric:
        return cls(_benchmark(args["benchmark"], f"{where}.benchmark", known), _integer(args["k"], f"{where}.k", 2))

    def keys(self) -> tuple[str, ...]:
        return (self.benchmark,)

    def args(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "k": self.k}

    def phrase(self) -> str:
        return f"top-{self.k} {self.benchmark} spread"

    def measure(self, releases: list[Release]) -> tuple[float | None, dict[str, Any]]:
        return top_k_spread(releases, self.benchmark, self.k)

    def detail(self, evidence: dict[str, Any]) -> str:
        models = evidence.get("models") or []
        return " [" + "; ".join(f"{n} {v:g}" for n, v in models) + "]" if models else ""


@dataclass(frozen=True)
class Correlation(Metric):
    x: str
    y: str
    min_n: int | None = None  # default 3
    name: ClassVar[str] = "correlation"
    fields: ClassVar[tuple[str, ...]] = ("x", "y", "min_n")
    optional: ClassVar[tuple[str, ...]] = ("min_n",)

    @classmethod
    def parse(cls, args: dict[str, Any], where: str, known: set[str] | None, trend: Trend | None) -> Metric:
        min_n = _integer(args["min_n"], f"{where}.min_n", 3) if "min_n" in args else None
        return cls(_benchmark(args["x"], f"{where}.x", known), _benchmark(args["y"], f"{where}.y", known), min_n)

    def keys(self) -> tuple[str, ...]:
        return (self.x, self.y)

    def args(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y} | ({} if self.min_n is None else {"min_n": self.min_n})

    def phrase(self) -> str:
        return f"r({self.x}, {self.y}) over at least {self.min_n or 3} models"

    def label(self, evidence: dict[str, Any]) -> str:
        return f"r({self.x}, {self.y}) over n = {evidence.get('n')}"

    def measure(self, releases: list[Release]) -> tuple[float | None, dict[str, Any]]:
        return correlation(releases, self.x, self.y, self.min_n or 3)


@dataclass(frozen=True)
class Count(Metric):
    benchmarks: tuple[str, ...]
    name: ClassVar[str] = "count"
    fields: ClassVar[tuple[str, ...]] = ("benchmarks",)

    @classmethod
    def parse(cls, args: dict[str, Any], where: str, known: set[str] | None, trend: Trend | None) -> Metric:
        keys = args["benchmarks"]
        if not isinstance(keys, list) or not keys:
            raise CriterionError(f"{where}.benchmarks: expected a non-empty list")
        return cls(tuple(_benchmark(key, f"{where}.benchmarks[{i}]", known) for i, key in enumerate(keys)))

    def keys(self) -> tuple[str, ...]:
        return self.benchmarks

    def args(self) -> dict[str, Any]:
        return {"benchmarks": list(self.benchmarks)}

    def phrase(self) -> str:
        return f"models with {', '.join(self.benchmarks)}"

    def measure(self, releases: list[Release]) -> tuple[float | None, dict[str, Any]]:
        names = sorted(r.name for r in releases if all(k in r.scores for k in self.benchmarks))
        return float(len(names)), {"models": names}

    def settles(self, op: str, result: bool | None) -> bool:
        # A count can only grow as data arrives: a lower bound settles once met, an upper one once broken.
        return result is not None and result is (op in (">", ">="))


@dataclass(frozen=True)
class WindowEntry:
    name: str
    released: str
    h: float | None
    status: str  # scored | awaiting scores | unresolvable: ...
    observations: tuple[int, ...] = ()


@dataclass(frozen=True)
class HField(Metric):
    lab: str
    next_releases: int
    trend: Trend  # the criterion's frozen trend (not part of the metric's JSON)
    name: ClassVar[str] = "h_field"
    fields: ClassVar[tuple[str, ...]] = ("lab", "next_releases")
    list_valued: ClassVar[bool] = True

    @classmethod
    def parse(cls, args: dict[str, Any], where: str, known: set[str] | None, trend: Trend | None) -> Metric:
        lab = _name(args["lab"], f"{where}.lab", "a lab name")
        k = _integer(args["next_releases"], f"{where}.next_releases")
        if trend is None:
            raise CriterionError("an h_field metric needs a frozen 'trend' {x, y, slope, intercept, source}")
        return cls(lab, k, trend)

    def keys(self) -> tuple[str, ...]:
        return (self.trend.x, self.trend.y)

    def labs(self) -> tuple[str, ...]:
        return (self.lab,)

    def reads(self, release: Release) -> bool:
        """Only the lab's own releases enter its window (scored or not)."""
        return release.lab == self.lab

    def args(self) -> dict[str, Any]:
        return {"lab": self.lab, "next_releases": self.next_releases}

    def phrase(self) -> str:
        return f"h of {self.lab}'s next {self.next_releases} releases against the frozen trend"

    def sentence(self, compare: Compare) -> str:
        return (
            f"h of {compare.over} of {self.lab}'s next {self.next_releases} releases {compare.op} "
            f"{_num(compare.value)} (against the frozen trend)"
        )

    def window(self, context: Context, releases: list[Release]) -> tuple[list[WindowEntry], list[str], list[str]]:
        """Every release of the lab after registration in date order, one per same-weights
        group: the first ``next_releases`` are the window, scored or not. Returns the window,
        the later releases, and the re-releases of weights already in the window."""
        trend, anchor = self.trend, context.registered_at
        after = sorted(
            (r for r in releases if r.lab == self.lab and r.released is not None and r.released > anchor),
            key=lambda r: (r.released, r.name),
        )
        window: list[WindowEntry] = []
        later, repeats, seen = [], [], set()
        for release in after:
            if release.weights in seen:
                repeats.append(f"{release.name} (same weights as an earlier release)")
                continue
            seen.add(release.weights)
            if len(window) == self.next_releases:
                later.append(release.name)
                continue
            assert release.released is not None
            day = release.released.isoformat()
            if trend.x in release.scores and trend.y in release.scores:
                h = release.scores[trend.y] - (trend.slope * release.scores[trend.x] + trend.intercept)
                ids = tuple(f.observation_id for key in (trend.x, trend.y) if (f := figure_of(release, key)))
                window.append(WindowEntry(release.name, day, round(h, 6), "scored", ids))
                continue
            missing = ", ".join(key for key in (trend.x, trend.y) if key not in release.scores)
            overdue = (context.evaluated_on - (release.released_end or release.released)).days > SCORE_GRACE_DAYS
            status = (
                f"unresolvable: {missing} not reported within {SCORE_GRACE_DAYS} days"
                if overdue
                else f"awaiting scores: {missing}"
            )
            window.append(WindowEntry(release.name, day, None, status))
        return window, later, repeats

    def windowed(self, scope: Scope) -> tuple[list[WindowEntry], list[str], list[str]]:
        """:meth:`window` on the scope's window (once per metric, window and data: a pass and a
        fail side share it)."""
        memo = scope.context.memo
        if ("h window", scope.window, self) not in memo:
            memo[("h window", scope.window, self)] = self.window(scope.context, scope.windowed().releases)
        return memo[("h window", scope.window, self)]

    def evaluate(self, compare: Compare, scope: Scope) -> Outcome:
        window, later, repeats = self.windowed(scope)
        test = OPS[compare.op]
        checks = [bool(test(e.h, float(compare.value))) for e in window if e.h is not None]
        full = len(window) == self.next_releases
        all_scored = full and all(e.h is not None for e in window)
        result: bool | None
        if compare.over == "each":
            result = False if not all(checks) else (True if all_scored else None)
        else:
            result = True if any(checks) else (False if all_scored else None)
        settled = result is not None  # a scored release's h does not change
        closed = full and all(e.h is not None or e.status.startswith("unresolvable") for e in window)
        evidence = {
            **compare.base(),
            "over": compare.over,
            "releases": [[e.name, e.released, e.h] for e in window],
            "entries": [{"name": e.name, "released": e.released, "h": e.h, "status": e.status} for e in window],
            "after_window": later,
            "same_weights": repeats,
            "trend": self.trend.describe(),
            "window": f"{len(window)} of {self.next_releases} releases after {scope.context.registered_at.isoformat()}",
            "result": result,
            "settled": settled,
        }
        observations = frozenset(i for e in window for i in e.observations)
        unscored = any(e.status.startswith("unresolvable") for e in window)
        return Outcome(result, evidence, closed, settled, observations, unscored)

    def explain(self, compare: Compare, evidence: dict[str, Any]) -> str:
        entries = evidence.get("entries") or [
            {"name": n, "released": d, "h": h, "status": "scored"} for n, d, h in evidence["releases"]
        ]
        releases = (
            ", ".join(
                f"{e['name']} ({e['released']}) " + (f"h {e['h']:+.1f}" if e["h"] is not None else e["status"])
                for e in entries
            )
            or "none yet"
        )
        line = (
            f"h of {self.lab}'s {evidence['window']} {compare.over} {compare.op} {_num(compare.value)}: "
            f"{releases} → {_verdict(evidence['result'], evidence.get('settled', False))}"
        )
        if evidence.get("after_window"):
            line += f"; later releases: {', '.join(evidence['after_window'])}"
        if evidence.get("same_weights"):
            line += f"; not counted again: {', '.join(evidence['same_weights'])}"
        return line

    def decisive(self, evidence: dict[str, Any]) -> Any:
        return (evidence.get("value"), evidence.get("result"), str(evidence.get("releases")))


METRICS: dict[str, type[Metric]] = {m.name: m for m in (TopKSpread, Correlation, Count, HField)}


@dataclass(frozen=True)
class Compare:
    """``metric op value`` (for a list-valued metric, ``over`` each or some of its releases)."""

    metric: Metric
    op: str
    value: float
    over: str | None = None

    def base(self) -> dict[str, Any]:
        return {"metric": self.metric.name, **self.metric.args(), "op": self.op, "threshold": float(self.value)}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": {self.metric.name: self.metric.args()}, "op": self.op, "value": self.value}
        if self.over is not None:
            out["over"] = self.over
        return out

    def comparisons(self) -> Iterator[Compare]:
        yield self

    def evaluate(self, scope: Scope) -> Outcome:
        return self.metric.evaluate(self, scope)

    def describe(self) -> str:
        return self.metric.sentence(self)

    def explain(self, evidence: dict[str, Any]) -> list[str]:
        return [self.metric.explain(self, evidence)]

    def decisive(self, evidence: dict[str, Any]) -> Any:
        return self.metric.decisive(evidence)


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


@dataclass(frozen=True)
class Junction:
    """``all`` / ``any`` of conditions, three-valued."""

    parts: tuple[Condition, ...]
    word: ClassVar[str]
    combine: ClassVar[Callable[[list[Outcome]], tuple[bool | None, bool]]]

    def to_json(self) -> dict[str, Any]:
        return {self.word: [p.to_json() for p in self.parts]}

    def comparisons(self) -> Iterator[Compare]:
        for part in self.parts:
            yield from part.comparisons()

    def evaluate(self, scope: Scope) -> Outcome:
        parts = [p.evaluate(scope) for p in self.parts]
        result, settled = type(self).combine(parts)
        return Outcome(
            result,
            {self.word: [p.evidence for p in parts]},
            all(p.complete for p in parts),
            settled,
            frozenset().union(*(p.observations for p in parts)),
            any(p.unscored for p in parts),
        )

    def describe(self) -> str:
        return f"{self.word} of (" + "; ".join(p.describe() for p in self.parts) + ")"

    def explain(self, evidence: dict[str, Any]) -> list[str]:
        return [
            f"{self.word}: {line}"
            for part, ev in zip(self.parts, evidence[self.word], strict=True)
            for line in part.explain(ev)
        ]

    def decisive(self, evidence: dict[str, Any]) -> Any:
        return [p.decisive(ev) for p, ev in zip(self.parts, evidence[self.word], strict=True)]


@dataclass(frozen=True)
class AllOf(Junction):
    word: ClassVar[str] = "all"
    combine: ClassVar[Callable[[list[Outcome]], tuple[bool | None, bool]]] = staticmethod(_all)


@dataclass(frozen=True)
class AnyOf(Junction):
    word: ClassVar[str] = "any"
    combine: ClassVar[Callable[[list[Outcome]], tuple[bool | None, bool]]] = staticmethod(_any)


Condition = AllOf | AnyOf | Compare
JUNCTIONS: dict[str, type[AllOf] | type[AnyOf]] = {"all": AllOf, "any": AnyOf}


def parse_condition(node: Any, where: str, known: set[str] | None, trend: Trend | None) -> Condition:
    if not isinstance(node, dict):
        raise CriterionError(f"{where}: expected a condition object")
    for word, junction in JUNCTIONS.items():
        if word in node:
            _only(node, {word}, where)
            parts = node[word]
            if not isinstance(parts, list) or not parts:
                raise CriterionError(f"{where}.{word}: expected a non-empty list of conditions")
            return junction(
                tuple(parse_condition(p, f"{where}.{word}[{i}]", known, trend) for i, p in enumerate(parts))
            )
    _only(node, {"metric", "op", "value", "over"}, where)
    op = _choice(node.get("op"), OPS, f"{where}.op")
    value = _number(node.get("value"), f"{where}.value")
    raw = node.get("metric")
    if not isinstance(raw, dict) or len(raw) != 1:
        raise CriterionError(f"{where}.metric: expected one of {', '.join(METRICS)}")
    ((name, args),) = raw.items()
    if name not in METRICS:
        raise CriterionError(f"{where}.metric: unknown metric {name!r} (known: {', '.join(METRICS)})")
    kind = METRICS[name]
    here = f"{where}.metric.{name}"
    args = _object(args, here)
    _only(args, set(kind.fields), here)
    missing = [f for f in kind.fields if f not in args and f not in kind.optional]
    if missing:
        raise CriterionError(f"{here}: missing {', '.join(sorted(missing))}")
    if kind.list_valued and trend is None:
        raise CriterionError("an h_field metric needs a frozen 'trend' {x, y, slope, intercept, source}")
    metric = kind.parse(args, here, known, trend)
    over = node.get("over")
    if kind.list_valued and over not in ("each", "some"):
        raise CriterionError(f'{where}.over: an {name} comparison needs "over": "each" or "some"')
    if not kind.list_valued and "over" in node:
        raise CriterionError(f"{where}.over: only list-valued metrics (h_field) take 'over'")
    return Compare(metric, op, value, over)


# --- the criterion ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """A parsed criterion. Optional fields are ``None`` when absent from the JSON, so
    :meth:`to_json` gives back exactly what was parsed (its hash does not move)."""

    passing: Condition
    failing: Condition
    deadline: dt.date | None = None
    pass_when: str | None = None
    fail_when: str | None = None
    evidence: dict[str, str] | None = field(default=None, hash=False)
    population: dict[str, bool] | None = field(default=None, hash=False)  # the pre-0007 spelling of evidence.released
    trend: Trend | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pass": self.passing.to_json(), "fail": self.failing.to_json()}
        if self.deadline is not None:
            out["deadline"] = self.deadline.isoformat()
        for key, value in (("pass_when", self.pass_when), ("fail_when", self.fail_when)):
            if value is not None:
                out[key] = value
        if self.evidence is not None:
            out["evidence"] = dict(self.evidence)
        if self.population is not None:
            out["population"] = dict(self.population)
        if self.trend is not None:
            out["trend"] = self.trend.to_json()
        return out

    def comparisons(self) -> Iterator[Compare]:
        yield from self.passing.comparisons()
        yield from self.failing.comparisons()

    def benchmarks(self) -> list[str]:
        """Every benchmark whose figures the criterion reads (an h-field reads its trend's two)."""
        return sorted({key for c in self.comparisons() for key in c.metric.keys()})

    def labs(self) -> list[str]:
        return sorted({lab for c in self.comparisons() for lab in c.metric.labs()})

    def reads(self, release: Release) -> bool:
        """Whether ``release`` can change this criterion's grade: a grade depends on the
        releases it reads alone, so adding, changing or removing any other leaves it as it was."""
        return any(c.metric.reads(release) for c in self.comparisons())

    def uses_release_window(self) -> bool:
        return any(c.metric.list_valued for c in self.comparisons())

    @property
    def window(self) -> Window:
        evidence = self.evidence or {}
        released = evidence.get("released")
        if released is None:
            legacy = (self.population or {}).get("released_after_registration", False)
            released = "after_registration" if legacy else "any"
        return Window(released, evidence.get("reported", "any"), evidence.get("provenance", "any"))

    def evaluation_date(self, as_of: dt.date) -> dt.date:
        """Data after the deadline never counts: grade on min(as_of, deadline)."""
        return min(as_of, self.deadline) if self.deadline else as_of

    def rule(self) -> str:
        """The resolution rule, in words."""
        wait = f"the deadline {self.deadline.isoformat()}" if self.deadline else "the release window closing"
        early = [side for side, when in (("pass", self.pass_when), ("fail", self.fail_when)) if when != "deadline"]
        if early:
            return (
                f"resolves early only when the {' or '.join(early)} outcome is settled (no data still to come can "
                f"change it); otherwise judged at {wait}"
            )
        return f"judged at {wait} only"

    def describe(self) -> str:
        """The whole criterion in words: both sides, the rule and the window."""
        trend = f"; trend {self.trend.describe()}" if self.trend and self.uses_release_window() else ""
        return (
            f"passes if {self.passing.describe()}; fails if {self.failing.describe()}; {self.rule()}; "
            f"evidence: {self.window.describe(None)}{trend}"
        )

    def evaluate(self, context: Context) -> tuple[Outcome, Outcome]:
        """Both sides on ``context``."""
        scope = Scope(context, self.window, self.trend)
        return self.passing.evaluate(scope), self.failing.evaluate(scope)

    def explain(self, evidence: dict[str, Any]) -> list[str]:
        """A grade's evidence in words, one line per comparison, prefixed by its side."""
        return [
            f"{side}: {line}"
            for side, node in (("pass", self.passing), ("fail", self.failing))
            for line in node.explain(evidence[side])
        ]

    def decisive(self, evidence: dict[str, Any]) -> Any:
        """The parts of a grade's evidence that decide it (values, results, window releases)."""
        return {
            "pass": self.passing.decisive(evidence["pass"]),
            "fail": self.failing.decisive(evidence["fail"]),
            "rule": evidence.get("rule"),
            "window": evidence.get("window"),
        }


def parse(raw: Any, benchmarks: Iterable[str] | None = None) -> Criterion:
    """Parse and check a criterion completely; raise :class:`CriterionError` naming the
    first problem. With ``benchmarks``, every benchmark named must be one of them."""
    known = None if benchmarks is None else set(benchmarks)
    if not isinstance(raw, dict):
        raise CriterionError("a criterion is a JSON object")
    _only(raw, TOP_KEYS, "criterion")
    for required in ("pass", "fail"):
        if required not in raw:
            raise CriterionError(f"criterion: missing {required!r}")
    deadline = _date(raw["deadline"], "deadline") if "deadline" in raw else None
    whens = {
        key: _choice(raw[key], WHEN, key, ("settled", "deadline")) if key in raw else None
        for key in ("pass_when", "fail_when")
    }
    population = None
    if "population" in raw:
        population = _object(raw["population"], "population")
        _only(population, {"released_after_registration"}, "population")
        if not isinstance(population.get("released_after_registration", False), bool):
            raise CriterionError("population.released_after_registration: expected true or false")
    evidence = None
    if "evidence" in raw:
        evidence = _object(raw["evidence"], "evidence")
        _only(evidence, set(EVIDENCE), "evidence")
        for key, allowed in EVIDENCE.items():
            if key in evidence:
                _choice(evidence[key], allowed, f"evidence.{key}")
    trend = Trend.parse(raw["trend"], known) if "trend" in raw else None
    passing = parse_condition(raw["pass"], "pass", known, trend)
    failing = parse_condition(raw["fail"], "fail", known, trend)
    criterion = Criterion(
        passing,
        failing,
        deadline,
        whens["pass_when"],
        whens["fail_when"],
        None if evidence is None else dict(evidence),
        None if population is None else dict(population),
        trend,
    )
    if deadline is None and not criterion.uses_release_window():
        raise CriterionError("criterion: a deadline is required unless it waits for a lab's next releases")
    return criterion


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


def grade(criterion: Criterion, context: Context, as_of: dt.date) -> Grade:
    """The prediction's state on ``as_of`` (``context`` holds the data known on
    ``criterion.evaluation_date(as_of)``), by the one resolution rule:

    before resolution (the deadline, or without one the release window closing), a
    side resolves only if its outcome is *settled*; at resolution, on its value.
    passed / failed — that side holds; ambiguous — both hold; inconclusive — at
    resolution neither holds; annulled — at resolution the data cannot decide
    (too few models in the window, or window releases never scored);
    not-yet-resolvable — neither side decidable yet; pending — otherwise.
    """
    passing, failing = criterion.evaluate(context)
    deadline = criterion.deadline
    at_deadline = deadline is not None and as_of >= deadline
    window_closed = deadline is None and criterion.uses_release_window() and passing.complete and failing.complete
    resolution = at_deadline or window_closed
    pass_now = passing.result is True and (resolution or (passing.settled and criterion.pass_when != "deadline"))
    fail_now = failing.result is True and (resolution or (failing.settled and criterion.fail_when != "deadline"))
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
            "rule": criterion.rule(),
            "window": criterion.window.describe(context.registered_at),
        },
        reason=reason,
        observations=tuple(sorted(passing.observations | failing.observations)),
    )
