"""Shift classification, confidence and next measurement on hand-built trajectories."""

from __future__ import annotations

from phasewatch.models.trajectory import (
    Confidence,
    ShiftKind,
    TrajectoryPoint,
    classify_shifts,
    confidence,
    next_measurement,
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
    assert "decides whether the shift A → B std" in next_measurement("L", points, shifts, (0.4, 0.6), (20, 90))


def test_confidence_levels() -> None:
    steady = classify_shifts(_points(1.0, 2.0, 1.5, 2.5, 2.0), noise=5.0)
    assert confidence(1, []) is Confidence.LOW
    assert confidence(3, steady[:2]) is Confidence.MEDIUM
    assert confidence(5, steady) is Confidence.HIGH


def test_next_measurement_targets_the_widest_uncertainty() -> None:
    one = _points(3.0)
    assert "second" in next_measurement("L", one, [], (0.0, 1.2), (20, 90))
    steady = _points(1.0, 2.0, 1.5)
    wide = next_measurement("L", steady, classify_shifts(steady, 5.0), (0.1, 1.1), (20.0, 80.0))
    assert "near 20.0" in wide  # mean x is 55: of 20 and 80, 20 is the far end
    narrow = next_measurement("L", steady, classify_shifts(steady, 5.0), (0.5, 0.7), (20.0, 90.0))
    assert "pinned down" in narrow
