"""A lab's h-field trajectory over its releases, and what its shifts look like.

The Growing Pains paper reads a lab's consecutive h-field changes as one of:
a *persistent* shift (pretraining-level: the following releases stay at the
new level), a *recovered* excursion (post-training: the next release returns
towards the old level) or *inference compute* (same weights at a different
compute tier, e.g. GPT-5.4 std → xhigh). Here those labels are computed from
the data, with a noise threshold (the fit's residual scale) below which a
change is not called a shift at all.

What to measure next is chosen by computation (:func:`next_measurements`):
each candidate measurement is scored by the information it is expected to
give about the lab's open questions (its coupling slope; an open shift's
reading), and the one with the most bits is chosen.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from phasewatch.models.dynamics import SHIFT_SCALE_PP, ShiftProbabilities, shift_information


class ShiftKind(enum.StrEnum):
    INFERENCE_COMPUTE = "inference compute (same weights)"
    TIER_CHANGE = "tier change (different weights)"
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
    """The latest move of a lab's level (inference-compute pairs and tier changes skipped)."""
    return next(
        (s for s in reversed(shifts) if s.kind not in (ShiftKind.INFERENCE_COMPUTE, ShiftKind.TIER_CHANGE)), None
    )


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


@dataclass(frozen=True)
class Measurement:
    """A candidate measurement and the information it is expected to give."""

    what: str  # "an Anthropic release near x = 80.0"
    question: str  # "slope" (the lab's coupling slope) or "shift" (an open shift's reading)
    bits: float  # expected information about the question
    before: float  # slope: the 95 % interval's width now; shift: the reading's entropy now (bits)
    after: float  # slope: the width expected after it; shift: the entropy expected after it
    figure: str  # the figure in words

    def __str__(self) -> str:
        return f"{self.what}: {self.figure}"


@dataclass(frozen=True)
class SlopeModel:
    """A Gaussian linear model of a lab's releases on the fit's scale,
    y = a + b·(x − x_ref) + ε, ε ~ N(0, sigma²), with the hierarchy's prior
    a ~ N(·, prior_sd_intercept²), b ~ N(·, prior_sd_slope²)."""

    xs: tuple[float, ...]
    sigma: float
    prior_sd_intercept: float
    prior_sd_slope: float
    x_ref: float = 0.0


def slope_variance(model: SlopeModel, extra: Sequence[float] = ()) -> float:
    """Posterior variance of the slope (closed form: it does not depend on the y's),
    with the releases at ``model.xs`` and any ``extra`` ones."""
    x = np.asarray([*model.xs, *extra], dtype=float) - model.x_ref
    design = np.column_stack([np.ones_like(x), x])
    precision = design.T @ design / model.sigma**2 + np.diag(
        [1 / model.prior_sd_intercept**2, 1 / model.prior_sd_slope**2]
    )
    return float(np.linalg.inv(precision)[1, 1])


def slope_measurements(
    model: SlopeModel, width_now: float, candidates: Sequence[tuple[str, float]]
) -> list[Measurement]:
    """Each candidate (what, x on the fit's scale) scored by how much one more release
    at that x narrows the slope: the interval scales with the posterior sd, so
    the width expected after is ``width_now`` × sqrt(var_after / var_now), and the
    information is ½·log2(var_now / var_after) bits (a Gaussian's entropy drop)."""
    var_now = slope_variance(model)
    out = []
    for what, x in candidates:
        var_after = slope_variance(model, (x,))
        after = width_now * math.sqrt(var_after / var_now)
        out.append(
            Measurement(
                what,
                "slope",
                0.5 * math.log2(var_now / var_after),
                width_now,
                after,
                f"expected to narrow the slope's 95 % interval from {width_now:.2f} to {after:.2f}",
            )
        )
    return out


def shift_measurements(
    lab: str,
    shifts: Sequence[ShiftProbabilities],
    noise: float,
    tau: float = SHIFT_SCALE_PP,
    tiers: Mapping[str, str | None] | None = None,
) -> list[Measurement]:
    """For each open shift (read, not yet decided), the next release of that tier
    (named from ``tiers`` when known), scored by the expected information (bits) it
    gives about the shift's reading (:func:`phasewatch.models.dynamics.shift_information`)."""
    out = []
    for shift in shifts:
        if not shift.read or shift.following is not None:
            continue
        bits = shift_information(shift.d1, noise, tau)
        out.append(
            Measurement(
                f"the next {tier + ' ' if (tier := (tiers or {}).get(shift.after)) else ''}release of {lab} "
                f"(after {shift.after})",
                "shift",
                bits,
                shift.entropy,
                max(shift.entropy - bits, 0.0),
                f"expected to give {bits:.2f} bits about whether {shift.before} → {shift.after} "
                f"(Δh {shift.d1:+.1f} pp) is no shift, persistent or transient "
                f"({shift.entropy:.2f} bits uncertain now)",
            )
        )
    return out


def next_measurements(candidates: Sequence[Measurement]) -> list[Measurement]:
    """The candidates by expected information, most first (the first is the choice;
    ties keep the given order)."""
    return sorted(candidates, key=lambda m: -m.bits)
