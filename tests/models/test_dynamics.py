"""Lab dynamics: the three-hypothesis shift model is calibrated on data drawn
from it, tells persistent from transient shifts, and leaves an undecided
shift open."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.models.dynamics import (
    SHIFT_SCALE_PP,
    hypothesis_probabilities,
    shift_information,
    shift_probabilities,
)


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


def test_a_change_of_tier_is_labelled_and_each_tier_is_read_on_its_own() -> None:
    # Sonnet 1, Haiku 1, Sonnet 2, Sonnet 2 high (same weights), Haiku 2, Sonnet 3
    names = ["S1", "H1", "S2", "S2 high", "H2", "S3"]
    tiers = ["Sonnet", "Haiku", "Sonnet", "Sonnet", "Haiku", "Sonnet"]
    h = np.tile(np.array([0.0, -15.0, 12.0, 18.0, -14.0, 12.5]), (100, 1))
    shifts = shift_probabilities(names, h, np.full(100, 2.0), {frozenset(("S2", "S2 high"))}, tiers=tiers)
    pairs = {(s.before, s.after): s for s in shifts}
    change = pairs[("S1", "H1")]
    assert change.tier_change == ("Sonnet", "Haiku") and not change.read and change.p_persistent is None
    assert change.label == "tier change (different weights: Sonnet → Haiku)"
    assert change.delta_h.mean == pytest.approx(-15.0) and change.entropy == 0.0
    # S2 is read against S1 (the previous Sonnet), not against H1, and decided by S3 (not its same-weights tier)
    sonnet = pairs[("S1", "S2")]
    assert sonnet.read and sonnet.following == "S3" and sonnet.delta_h.mean == pytest.approx(12.0)
    assert sonnet.p_persistent is not None and sonnet.p_persistent.mean > 0.9  # S3 stays up: persistent
    assert pairs[("S2", "S2 high")].inference_compute
    assert pairs[("S2 high", "H2")].tier_change == ("Sonnet", "Haiku")
    haiku = pairs[("H1", "H2")]  # Haiku read against Haiku: no move at all
    assert haiku.following is None and haiku.p_none is not None and haiku.p_none.mean > 0.5
    assert set(pairs) == {
        ("S1", "H1"),
        ("H1", "S2"),
        ("S1", "S2"),
        ("S2", "S2 high"),
        ("S2 high", "H2"),
        ("H1", "H2"),
        ("H2", "S3"),
        ("S2 high", "S3"),
    }
    # without tiers the same releases are one trajectory: H1 reads as a shift of the lab
    untiered = shift_probabilities(names, h, np.full(100, 2.0), {frozenset(("S2", "S2 high"))})
    assert all(s.tier_change is None for s in untiered) and untiered[0].after == "H1" and untiered[0].read


def test_shift_information_in_bits() -> None:
    # a clear move with little noise: no shift is ruled out, persistent and transient are 50/50,
    # and the next release tells them apart exactly: 1 bit
    assert shift_information(30.0, 0.1) == pytest.approx(1.0, abs=1e-6)
    # no move: the next release can hardly change the reading
    assert shift_information(0.0, 3.0) < 0.02
    # against a Monte Carlo estimate of the expected entropy drop
    rng = np.random.default_rng(0)
    d1, noise = 12.0, 2.0
    p = hypothesis_probabilities(d1, None, np.array([noise]))[0]
    s2, t2 = noise**2, SHIFT_SCALE_PP**2
    cov = [
        s2 * np.array([[2.0, -1.0], [-1.0, 2.0]]) + t2 * np.array(extra)
        for extra in ([[0, 0], [0, 0]], [[1, 0], [0, 0]], [[1, -1], [-1, 1]])
    ]
    hyp = rng.choice(3, size=4000, p=p)
    d2 = np.array(
        [
            c[0, 1] / c[0, 0] * d1 + np.sqrt(c[1, 1] - c[0, 1] ** 2 / c[0, 0]) * z
            for c, z in zip((cov[k] for k in hyp), rng.standard_normal(hyp.size), strict=True)
        ]
    )
    post = np.array([hypothesis_probabilities(d1, x, np.array([noise]))[0] for x in d2])

    def entropy(q: np.ndarray) -> np.ndarray:
        return -(q * np.log2(np.where(q > 0, q, 1.0))).sum(axis=-1)

    assert shift_information(d1, noise) == pytest.approx(entropy(p) - entropy(post).mean(), abs=0.03)
