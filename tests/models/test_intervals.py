"""Our numpy HDI agrees with ArviZ's; the equal-tailed interval is the quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from phasewatch.models.intervals import eti, hdi


@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_hdi_matches_arviz(shape: str) -> None:
    import arviz as az

    rng = np.random.default_rng(3)
    draws = rng.normal(2.0, 1.5, 4000) if shape == "normal" else rng.gamma(2.0, 1.0, 4000)
    ours = hdi(draws, 0.95)
    theirs = np.asarray(az.hdi(draws, prob=0.95)).ravel()
    assert ours.low == pytest.approx(theirs[0], abs=1e-9) and ours.high == pytest.approx(theirs[1], abs=1e-9)
    if shape == "skewed":  # the HDI of a right-skewed posterior sits left of the ETI
        assert ours.low < eti(draws, 0.95).low


def test_eti_is_the_central_quantiles() -> None:
    draws = np.arange(1001, dtype=float)
    interval = eti(draws, 0.9)
    assert (interval.low, interval.high, interval.mean) == pytest.approx((50.0, 950.0, 500.0))
    assert interval.contains(500) and not interval.contains(951)
