"""Benchmark saturation and the paper's rotation rule.

A benchmark saturates when the best models bunch together on it: the spread
of its top five (max - min) shrinks. The saturation ratio of an (old, new)
pair is σ = spread(old) / spread(new); the Growing Pains paper rotates to the
new pair when σ < 0.2 (the old axis has lost its discriminating power).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from phasewatch.models.criteria import (
    Release,
    correlation,
    once_per_weights,
    top_k_spread,
)

ROTATE_BELOW = 0.2
TOP_K = 5
# (old axis, new axis): the paper's cascade SWE → GPQA → IFEval / HLE, and its σ(SWE/HLE).
PAIRS = (
    ("swe_bench_verified", "gpqa_diamond"),
    ("gpqa_diamond", "hle"),
    ("swe_bench_verified", "hle"),
    ("gpqa_diamond", "ifeval"),
    ("ifeval", "hle"),
)


@dataclass(frozen=True)
class SpreadPoint:
    date: str
    spread: float | None
    n: int


@dataclass(frozen=True)
class BenchmarkSaturation:
    benchmark: str
    spread: float | None
    n: int
    top: list[list[object]]
    history: list[SpreadPoint]
    state: str


@dataclass(frozen=True)
class PairRatio:
    old: str
    new: str
    sigma: float | None
    advice: str
    next_axis: str | None


def spread_of(
    releases: Iterable[Release], benchmark: str, k: int = TOP_K
) -> tuple[float | None, int, list[list[object]]]:
    """Top-k spread with each set of weights counted once (its best-scoring tier)."""
    distinct, _ = once_per_weights(list(releases), [benchmark])
    value, detail = top_k_spread(distinct, benchmark, k)
    return value, int(detail["n_available"]), detail["models"]


def quarter_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """Last days of the calendar quarters from ``start`` to ``end``, then ``end``."""
    out = []
    year, quarter = start.year, (start.month - 1) // 3
    while True:
        month = 3 * quarter + 3
        last = (
            dt.date(year + month // 12, month % 12 + 1, 1) if month < 12 else dt.date(year + 1, 1, 1)
        ) - dt.timedelta(days=1)
        if last >= end:
            break
        out.append(last)
        year, quarter = (year + 1, 0) if quarter == 3 else (year, quarter + 1)
    return [*out, end]


def released_by(releases: Iterable[Release], day: dt.date) -> list[Release]:
    return [r for r in releases if r.released_end is not None and r.released_end <= day]


History = Callable[[dt.date], list[Release]]


def benchmark_saturation(
    releases: list[Release],
    benchmark: str,
    as_of: dt.date,
    saturating: set[str],
    quarters: int = 6,
    history_at: History | None = None,
) -> BenchmarkSaturation:
    """``history_at(day)`` gives the releases as known on ``day`` (exact as-of history);
    without it, the current data restricted to models released by then (hindsight)."""
    spread, n, top = spread_of(releases, benchmark)
    dates = quarter_ends(as_of - dt.timedelta(days=92 * quarters), as_of)[-quarters:] if quarters > 0 else []
    history = []
    for day in dates:
        known = history_at(day) if history_at is not None else released_by(releases, day)
        value, count, _ = spread_of(known, benchmark)
        history.append(SpreadPoint(day.isoformat(), value, count))
    state = (
        "saturating (rotate away)" if benchmark in saturating else "active" if spread is not None else "too few models"
    )
    return BenchmarkSaturation(benchmark, spread, n, top, history, state)


def pair_ratio(
    releases: list[Release],
    old: str,
    new: str,
    candidates: Iterable[str],
    saturating: frozenset[str] | set[str] = frozenset(),
) -> PairRatio:
    old_spread, _, _ = spread_of(releases, old)
    new_spread, _, _ = spread_of(releases, new)
    if old_spread is None or not new_spread:
        return PairRatio(old, new, None, "too few models to compare", None)
    sigma = old_spread / new_spread
    if sigma >= ROTATE_BELOW:
        return PairRatio(old, new, sigma, f"keep: σ >= {ROTATE_BELOW}", None)
    axis = next_axis(releases, new, [c for c in candidates if c not in (old, new) and c not in saturating])
    advice = f"rotate: {old} no longer separates the top models (σ < {ROTATE_BELOW}); measure {new}"
    return PairRatio(old, new, sigma, advice + (f", then {axis}" if axis else ""), axis)


def next_axis(releases: list[Release], active: str, candidates: Iterable[str], min_r: float = 0.5) -> str | None:
    """The paper's rule: the candidate that first shows r > +0.5 with the active axis;
    among those, the one whose top five are spread widest (most room to discriminate)."""
    best: tuple[float, str] | None = None
    for candidate in candidates:
        distinct, _ = once_per_weights(releases, [active, candidate])
        r, _ = correlation(distinct, active, candidate, 5)
        spread, _, _ = spread_of(releases, candidate)
        if r is not None and r > min_r and spread is not None and (best is None or spread > best[0]):
            best = (spread, candidate)
    return best[1] if best else None


def saturation_report(
    releases: list[Release],
    benchmarks: Iterable[str],
    as_of: dt.date,
    history_at: History | None = None,
    quarters: int = 6,
) -> tuple[list[BenchmarkSaturation], list[PairRatio]]:
    """Spreads, σ per axis pair and the rotation advice; each of the ``quarters`` history
    points is computed on the data known at that quarter's end when ``history_at`` is given."""
    keys = list(benchmarks)
    if history_at is not None:
        cache: dict[dt.date, list[Release]] = {as_of: releases}
        load = history_at

        def known(day: dt.date) -> list[Release]:
            if day not in cache:
                cache[day] = load(day)
            return cache[day]

        history_at = known
    first = [pair_ratio(releases, old, new, ()) for old, new in PAIRS if old in keys and new in keys]
    saturating = {p.old for p in first if p.sigma is not None and p.sigma < ROTATE_BELOW}
    pairs = [pair_ratio(releases, p.old, p.new, keys, saturating) for p in first]
    report = [benchmark_saturation(releases, key, as_of, saturating, quarters, history_at) for key in keys]
    return report, pairs
