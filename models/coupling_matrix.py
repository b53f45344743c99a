"""The coupling matrix of benchmarks: for every pair, the correlation of the
two scores across the models that have both (pairwise-complete, so the many
missing cells of a real registry cost only their own pairs), on the logit
scale of the default model, with a 95 % Fisher-z interval and its n.

This is a descriptive matrix, not a fit: each cell uses only the models that
report both benchmarks, so cells rest on different models and the matrix need
not be positive definite; each cell states its n, and cells with fewer than
``MIN_PAIRS`` models are left empty rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from phasewatch.models.coupling import to_link
from phasewatch.models.intervals import Interval

MIN_PAIRS = 5


@dataclass(frozen=True)
class MatrixCell:
    x: str
    y: str
    n: int
    r: Interval | None  # None when n < MIN_PAIRS
    slope: float | None  # OLS slope of logit y on logit x (the coupling's direction and size)


def fisher_interval(r: float, n: int, prob: float = 0.95) -> Interval:
    z = math.atanh(max(min(r, 0.999999), -0.999999))
    half = NormalDist().inv_cdf((1 + prob) / 2) / math.sqrt(n - 3)
    return Interval(r, math.tanh(z - half), math.tanh(z + half), prob, "fisher-z")


def coupling_matrix(scores: Mapping[str, Mapping[str, float]], benchmarks: Sequence[str]) -> list[MatrixCell]:
    """Every ordered pair (x, y) of ``benchmarks`` with x ≠ y; ``scores`` is model → benchmark → percent."""
    cells = []
    for x in benchmarks:
        for y in benchmarks:
            if x == y:
                continue
            pairs = [(v[x], v[y]) for v in scores.values() if x in v and y in v and 0 < v[x] < 100 and 0 < v[y] < 100]
            n = len(pairs)
            if n < MIN_PAIRS:
                cells.append(MatrixCell(x, y, n, None, None))
                continue
            u = to_link(np.array([p[0] for p in pairs]), "logit")
            w = to_link(np.array([p[1] for p in pairs]), "logit")
            if np.std(u) == 0 or np.std(w) == 0:
                cells.append(MatrixCell(x, y, n, None, None))
                continue
            r = float(np.corrcoef(u, w)[0, 1])
            slope = float(np.polyfit(u, w, 1)[0])
            cells.append(MatrixCell(x, y, n, fisher_interval(r, n), slope))
    return cells
