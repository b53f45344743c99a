"""Interval summaries of posterior draws, with numpy only (no ArviZ import needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from phasewatch.models.errors import ModelInputError


@dataclass(frozen=True)
class Interval:
    """A point estimate with a central or highest-density interval."""

    mean: float
    low: float
    high: float
    prob: float
    kind: str  # "hdi" or "eti"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def hdi(draws: ArrayLike, prob: float = 0.95) -> Interval:
    """Highest-density interval of one-dimensional draws.

    The narrowest window holding ``prob`` of the sorted draws (the same
    estimator as ``arviz.hdi`` for unimodal posteriors; Chen & Shao 1999).
    """
    values = np.sort(np.asarray(draws, dtype=float).ravel())
    n = values.size
    width = int(np.floor(prob * n))
    if n == 0 or width < 1:
        raise ModelInputError("need draws to summarise")
    spans = values[width:] - values[: n - width]
    start = int(np.argmin(spans))
    return Interval(float(values.mean()), float(values[start]), float(values[start + width]), prob, "hdi")


def eti(draws: ArrayLike, prob: float = 0.95) -> Interval:
    """Equal-tailed interval: the (1-prob)/2 and (1+prob)/2 quantiles."""
    values = np.asarray(draws, dtype=float).ravel()
    low, high = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2])
    return Interval(float(values.mean()), float(low), float(high), prob, "eti")
