"""Shift classification, confidence and the next measurement (chosen by expected
information) on hand-built trajectories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasewatch.models.dynamics import shift_probabilities
from phasewatch.models.trajectory import (
    Confidence,
    Shift,
    ShiftKind,
    SlopeModel,
    TrajectoryPoint,
    classify_shifts,
    confidence,
    last_weight_change,
    next_measurements,
    shift_measurements,
    slope_measurements,
    slope_variance,
)


def _points(*hs: float) -> list[TrajectoryPoint]:
    return [TrajectoryPoint(f"r{i}", f"2025-{i + 1:02d}", 50.0 + 5 * i, h) for i, h in enumerate(hs)]


def test_shift_kinds() -> None:
    shifts = classify_shifts(_points(0.0, -12.0, 1.0, 11.0, 10.0, 25.0), noise=5.0)
    assert [s.kind for s in shifts] == [
        ShiftKind.RECOVERED,  # -12 then back to +1: the excursion recovered
        ShiftKind.PERSISTENT,  # +13 (to +1), and the next release stays up (+11): closer to +1 than to -12
        ShiftKind.PERSISTENT,  # +10 held by the next release (+10)
        ShiftKind.WITHIN_NOISE,  # -1 is below the noise threshold
        ShiftKind.UNRESOLVED,  # +15 with no release after it
    ]
    assert shifts[0].delta_h == -12.0


def test_same_weights_are_inference_compute_and_not_the_following_release() -> None:
    points = [
        TrajectoryPoint("A", "2025-01", 70, 5.0),
        TrajectoryPoint("B std", "2025-06", 75, -3.0),
        TrajectoryPoint("B xhigh", "2025-06", 75, 4.8),
    ]
    shifts = classify_shifts(points, noise=5.0, same_weights={frozenset(("B std", "B xhigh"))})
    assert shifts[1].kind is ShiftKind.INFERENCE_COMPUTE
    assert shifts[0].kind is ShiftKind.UNRESOLVED  # xhigh is B at more compute, not a new release
    assert confidence(3, shifts) is Confidence.MEDIUM


def test_confidence_levels() -> None:
    steady = classify_shifts(_points(1.0, 2.0, 1.5, 2.5, 2.0), noise=5.0)
    assert confidence(1, []) is Confidence.LOW
    assert confidence(3, steady[:2]) is Confidence.MEDIUM
    assert confidence(5, steady) is Confidence.HIGH


def test_a_tier_change_is_not_the_lab_s_last_move() -> None:
    shifts = [
        Shift("S1", "S2", 8.0, ShiftKind.UNRESOLVED),
        Shift("S2", "H1", -9.0, ShiftKind.TIER_CHANGE),
        Shift("H1", "H1 high", 4.0, ShiftKind.INFERENCE_COMPUTE),
    ]
    last = last_weight_change(shifts)
    assert last is not None and last.after == "S2"


def test_slope_variance_against_a_hand_computed_case() -> None:
    # two releases at x = ±1 (x_ref 0), sigma 1, a flat intercept prior and a slope prior sd 1:
    # precision = [[2, 0], [0, 2]] + diag(0, 1) -> var(b) = 1/3
    model = SlopeModel((-1.0, 1.0), sigma=1.0, prior_sd_intercept=1e9, prior_sd_slope=1.0)
    assert slope_variance(model) == pytest.approx(1 / 3)
    # one more at x = 2: precision [[3, 2], [2, 7]] -> var(b) = 3 / (21 - 4) = 3/17
    assert slope_variance(model, (2.0,)) == pytest.approx(3 / 17)
    (m,) = slope_measurements(model, 0.6, [("at 2", 2.0)])
    assert m.bits == pytest.approx(0.5 * math.log2(17 / 9))
    assert m.after == pytest.approx(0.6 * math.sqrt(9 / 17)) and "from 0.60 to 0.44" in m.figure


def test_a_release_far_from_the_lab_narrows_the_slope_most() -> None:
    model = SlopeModel((50.0, 55.0, 60.0), sigma=5.0, prior_sd_intercept=20.0, prior_sd_slope=0.5, x_ref=55.0)
    ranked = next_measurements(slope_measurements(model, 0.8, [("mean", 55.0), ("low", 20.0), ("high", 80.0)]))
    assert [m.what for m in ranked] == ["low", "high", "mean"]  # 20 is further from 55 than 80 is
    assert ranked[-1].bits == pytest.approx(0.0, abs=1e-9)  # at the mean x a point says nothing of the slope


def test_the_choice_flips_from_the_slope_to_an_open_shift_when_the_data_make_it() -> None:
    h = np.array([0.0, 0.5, 0.2, 14.0])  # a large last move of h: an open shift
    names = ["r0", "r1", "r2", "r3"]
    shifts = shift_probabilities(names, np.tile(h, (50, 1)), np.full(50, 2.0))
    wide = SlopeModel((54.0, 55.0, 56.0, 55.0), sigma=5.0, prior_sd_intercept=20.0, prior_sd_slope=0.5, x_ref=55.0)
    spread = SlopeModel((20.0, 40.0, 70.0, 90.0), sigma=5.0, prior_sd_intercept=20.0, prior_sd_slope=0.5, x_ref=55.0)
    candidates = [("low", 20.0), ("high", 90.0)]
    open_shift = shift_measurements("L", shifts, 2.0)
    assert [m.question for m in open_shift] == ["shift"] and "r2 → r3" in open_shift[0].figure
    # releases bunched at one x: the slope is the open question
    assert next_measurements([*slope_measurements(wide, 0.9, candidates), *open_shift])[0].question == "slope"
    # releases spread over the frontier: the slope is pinned down and the shift wins
    assert next_measurements([*slope_measurements(spread, 0.2, candidates), *open_shift])[0].question == "shift"
    # with a quiet last release there is no open shift at all
    quiet = shift_probabilities(names, np.tile(np.array([0.0, 0.5, 0.2, 0.4]), (50, 1)), np.full(50, 2.0))
    assert shift_measurements("L", quiet, 2.0)[0].bits < 0.05
