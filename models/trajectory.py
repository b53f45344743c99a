"""A lab's h-field trajectory over its releases, and what its shifts look like.

The Growing Pains paper reads a lab's consecutive h-field changes as one of:
a *persistent* shift (pretraining-level: the following releases stay at the
new level), a *recovered* excursion (post-training: the next release returns
towards the old level) or *inference compute* (same weights at a different
compute tier, e.g. GPT-5.4 std → xhigh). Here those labels are computed from
the data, with a noise threshold (the fit's residual scale) below which a
change is not called a shift at all.
"""

from __future__ import annotations

import enum
from collections.abc import Set as AbstractSet
from dataclasses import dataclass


class ShiftKind(enum.StrEnum):
    INFERENCE_COMPUTE = "inference compute (same weights)"
    WITHIN_NOISE = "within noise"
    PERSISTENT = "persistent (pretraining-level)"
    RECOVERED = "recovered within one release (post-training excursion)"
    UNRESOLVED = "unresolved (needs the next release)"


class Confidence(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class TrajectoryPoint:
    name: str
    date: str | None
    x: float
    h: float
    in_fit: bool = True


@dataclass(frozen=True)
class Shift:
    before: str
    after: str
    delta_h: float
    kind: ShiftKind


def classify_shifts(
    points: list[TrajectoryPoint], noise: float, same_weights: AbstractSet[frozenset[str]] = frozenset()
) -> list[Shift]:
    """Label each consecutive change of h (``points`` in release order).

    A change smaller than ``noise`` is within noise. Otherwise, with a release
    after it, the shift *recovered* if that release's h is closer to the
    pre-shift level than to the post-shift level, and is *persistent* if not;
    without one it is unresolved. Pairs in ``same_weights`` are inference
    compute, whatever their size, and a same-weights variant of the post-shift
    release is not "the release after it".
    """
    shifts = []
    for k in range(len(points) - 1):
        a, b = points[k], points[k + 1]
        delta = b.h - a.h
        following = next((p for p in points[k + 2 :] if frozenset((b.name, p.name)) not in same_weights), None)
        if frozenset((a.name, b.name)) in same_weights:
            kind = ShiftKind.INFERENCE_COMPUTE
        elif abs(delta) < noise:
            kind = ShiftKind.WITHIN_NOISE
        elif following is not None:
            recovered = abs(following.h - a.h) < abs(following.h - b.h)
            kind = ShiftKind.RECOVERED if recovered else ShiftKind.PERSISTENT
        else:
            kind = ShiftKind.UNRESOLVED
        shifts.append(Shift(a.name, b.name, delta, kind))
    return shifts


def last_weight_change(shifts: list[Shift]) -> Shift | None:
    """The latest shift between different weights (inference-compute tiers skipped)."""
    return next((s for s in reversed(shifts) if s.kind is not ShiftKind.INFERENCE_COMPUTE), None)


def confidence(n_releases: int, shifts: list[Shift]) -> Confidence:
    """The paper's rule of thumb, computed: one release is low; two or three,
    or a last shift that recovered or is unresolved (a recent pivot), medium;
    otherwise high."""
    if n_releases <= 1:
        return Confidence.LOW
    last = last_weight_change(shifts)
    recent_pivot = last is not None and last.kind in (ShiftKind.RECOVERED, ShiftKind.UNRESOLVED)
    if n_releases <= 3 or recent_pivot:
        return Confidence.MEDIUM
    return Confidence.HIGH


def next_measurement(
    lab: str,
    points: list[TrajectoryPoint],
    shifts: list[Shift],
    slope_hdi: tuple[float, float],
    frontier_x: tuple[float, float],
) -> str:
    """The measurement that would teach the most about ``lab`` now.

    In order: a lab seen once needs a second release; an unresolved shift is
    decided by the next release; a wide slope interval narrows most with a
    release far from the lab's mean x; otherwise the coupling is pinned down
    and the next release is a test of it.
    """
    if len(points) <= 1:
        return f"any second {lab} release with both scores: one release gives no trajectory and no lab slope of its own"
    last = last_weight_change(shifts)
    if last is not None and last.kind is ShiftKind.UNRESOLVED:
        return (
            f"the next {lab} release: it decides whether the shift {last.before} → {last.after} "
            f"(Δh {last.delta_h:+.1f} pp) persists (pretraining) or recovers (post-training)"
        )
    width = slope_hdi[1] - slope_hdi[0]
    if width > 0.5:
        mean_x = sum(p.x for p in points) / len(points)
        far = frontier_x[0] if abs(frontier_x[0] - mean_x) > abs(frontier_x[1] - mean_x) else frontier_x[1]
        return (
            f"a new release of {lab} scored far from its mean x ({mean_x:.1f}), e.g. near {far:.1f}: "
            f"its slope interval is {width:.2f} wide"
        )
    return f"the next {lab} release against its predictive interval: the lab's coupling is pinned down (slope interval {width:.2f} wide)"
