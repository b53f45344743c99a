"""Intervals and tests against hand-computed values."""

from __future__ import annotations

import pytest

from phasewatch.models.steering.stats import bootstrap_mean, empirical_p, mcnemar_exact, spread, wilson


def test_wilson_matches_published_values() -> None:
    # Wilson 95 % intervals (Newcombe 1998, table I): 0/10 → 0–0.2775, 5/10 → 0.2366–0.7634, 81/263 → 0.2553–0.3662
    zero, half, big = wilson(0, 10), wilson(5, 10), wilson(81, 263)
    assert zero.low == 0 and zero.high == pytest.approx(0.2775, abs=1e-4)
    assert (half.low, half.high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert (big.low, big.high) == (pytest.approx(0.2553, abs=1e-4), pytest.approx(0.3662, abs=1e-4))
    assert wilson(0, 0).value is None and "no items" in wilson(0, 0).text()
    assert "5/10" in half.text()


def test_mcnemar_exact_by_hand() -> None:
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(2, 1) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_empirical_p_counts_ties_and_the_observation() -> None:
    assert empirical_p(0.5, [0.1, 0.6, 0.2]) == pytest.approx(2 / 4)
    assert empirical_p(0.5, [0.5] * 3) == 1.0
    assert empirical_p(1.0, [0.0] * 19) == pytest.approx(0.05)


def test_bootstrap_interval_brackets_the_mean_and_collapses_on_constants() -> None:
    est = bootstrap_mean([0, 0, 1, 1, 1, 0, 1, 0, 1, 1], seed=3)
    assert est.value == pytest.approx(0.6) and est.low < 0.6 < est.high and est.n == 10
    const = bootstrap_mean([0.25] * 7)
    assert const.low == const.high == const.value == pytest.approx(0.25)
    assert bootstrap_mean([1, 2, 3], seed=1) == bootstrap_mean([1, 2, 3], seed=1)  # seeded


def test_spread_summarises_a_distribution() -> None:
    s = spread([0.3, -0.1, 0.2])
    assert (s.low, s.median, s.high) == (-0.1, 0.2, 0.3) and s.values == (0.3, -0.1, 0.2)
