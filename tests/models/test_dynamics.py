"""Lab dynamics: the three-hypothesis shift model is calibrated on data drawn
from it, tells persistent from transient shifts, and leaves an undecided
shift open."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.models.dynamics import SHIFT_SCALE_PP, hypothesis_probabilities, shift_probabilities


def _simulate(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, d1, d2): hypothesis drawn 1/3 each, δ ~ N(0, τ²), h with N(0, noise²) errors."""
    truth = rng.integers(0, 3, n)
    delta = SHIFT_SCALE_PP * rng.standard_normal(n)
    level = np.zeros((n, 3))
    level[truth == 1, 1:] = delta[truth == 1, None]
    level[truth == 2, 1] = delta[truth == 2]
    h = level + noise * rng.standard_normal((n, 3))
    return truth, h[:, 1] - h[:, 0], h[:, 2] - h[:, 1]


def test_probabilities_are_calibrated_on_data_from_the_model() -> None:
    rng = np.random.default_rng(4)
    noise = 3.0
    truth, d1, d2 = _simulate(rng, 3000, noise)
    p = np.array([hypothesis_probabilities(a, b, np.array([noise]))[0] for a, b in zip(d1, d2, strict=True)])
    # calibration in the large: the mean probability of each hypothesis equals its frequency
    for k in range(3):
        assert p[:, k].mean() == pytest.approx(np.mean(truth == k), abs=0.03)
    # and in bins: where P(persistent) is high, persistent shifts are as frequent as claimed
    high = p[:, 1] > 0.8
    assert high.sum() > 100 and np.mean(truth[high] == 1) == pytest.approx(p[high, 1].mean(), abs=0.06)
    # the model recovers the truth far better than chance
    assert np.mean(p.argmax(axis=1) == truth) > 0.55  # chance is 1/3; small δ are indistinguishable from noise


def test_a_clear_persistent_and_a_clear_transient_shift() -> None:
    noise = np.full(200, 2.0)
    persistent = hypothesis_probabilities(12.0, 0.5, noise).mean(axis=0)
    transient = hypothesis_probabilities(12.0, -11.5, noise).mean(axis=0)
    none = hypothesis_probabilities(0.8, -0.5, noise).mean(axis=0)
    assert persistent[1] > 0.9 and transient[2] > 0.9 and none[0] > 0.6


def test_an_undecided_shift_stays_open_and_tiers_are_inference_compute() -> None:
    names = ["A1", "A2", "A2 xhigh"]
    h = np.tile(np.array([0.0, 12.0, 19.0]), (100, 1))
    shifts = shift_probabilities(names, h, np.full(100, 2.0), {frozenset(("A2", "A2 xhigh"))})
    first, tier = shifts
    assert first.following is None and not first.resolved  # the tier of A2 does not decide A1 → A2
    assert first.p_persistent.mean == pytest.approx(first.p_transient.mean)
    assert first.p_persistent.mean + first.p_transient.mean > 0.9 and "open until the next release" in first.label
    assert (
        tier.inference_compute
        and tier.label.startswith("inference compute")
        and tier.delta_h.mean == pytest.approx(7.0)
    )
