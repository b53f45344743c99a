"""Intervals and tests for steering rates: Wilson for proportions, paired bootstrap
for differences, exact McNemar for corrected vs broken, empirical p against a
distribution of random directions. Pure Python + numpy; no torch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """A proportion k / n with its 95 % Wilson interval (n = 0: value and bounds are None)."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    def text(self) -> str:
        if not self.n or self.value is None:
            return f"{self.k}/{self.n} (no items)"
        return f"{self.value:.1%} ({self.k}/{self.n}; 95% CI {self.low:.1%}–{self.high:.1%})"


def wilson(k: int, n: int, z: float = Z95) -> Rate:
    """Wilson score interval for k successes in n trials."""
    if n <= 0:
        return Rate(k, n, None, None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Rate(k, n, p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Estimate:
    """A mean or difference over n items with a 95 % interval and how it was obtained."""

    value: float
    low: float
    high: float
    n: int
    method: str

    def text(self, percent: bool = True, signed: bool = True) -> str:
        f = (
            (lambda x: f"{x:+.1%}" if signed else f"{x:.1%}")
            if percent
            else (lambda x: f"{x:+.3f}" if signed else f"{x:.3f}")
        )
        return f"{f(self.value)} (n={self.n}; 95% CI {f(self.low)} to {f(self.high)})"


def bootstrap_mean(values: Sequence[float], *, seed: int = 0, resamples: int = 2000) -> Estimate:
    """Mean of per-item values (a paired difference when each value is after − before),
    with a percentile bootstrap interval over items."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(0.0, 0.0, 0.0, 0, "no items")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Estimate(float(x.mean()), float(low), float(high), int(x.size), f"paired bootstrap, {resamples} resamples")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b discordant pairs one way and c the other
    (binomial test of b against Binomial(b + c, 1/2))."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def empirical_p(observed: float, control: Sequence[float]) -> float:
    """One-sided p that a control draw is at least as large as ``observed``: (1 + #{c ≥ obs}) / (1 + m)."""
    return (1 + sum(1 for c in control if c >= observed)) / (1 + len(control))


@dataclass(frozen=True)
class Spread:
    """A control distribution summarised: its draws, min, median, max."""

    values: tuple[float, ...]
    low: float
    median: float
    high: float


def spread(values: Sequence[float]) -> Spread:
    v = tuple(float(x) for x in values)
    if not v:
        return Spread((), 0.0, 0.0, 0.0)
    return Spread(v, min(v), float(np.median(v)), max(v))
