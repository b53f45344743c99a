"""Base-scale phase analysis: the "alignment tax" of Lying Is Just a Phase.

Within a model family ordered by size N, the local coupling of truthfulness
(TruthfulQA) to reasoning (HellaSwag) between consecutive sizes is
γ12 = ΔTQA / ΔHS. The paper calls γ12 < −0.1 the *tax* phase (reasoning gains
cost truthfulness), γ12 > +0.1 the *bonus* phase, and the band between the
*transition*; the critical size N_c is where the sign changes.

References
----------
Amin, A. (2026). Lying Is Just a Phase. arXiv:2605.18838 (and its repository's
    scripts/bootstrap_Nc.py, whose method :func:`nc_quadratic_bootstrap` reproduces).
Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13
    (percentile intervals).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from phasewatch.models.errors import ModelInputError

TAX_BELOW = -0.1
BONUS_ABOVE = 0.1
MIN_DELTA_HS = 0.5  # the paper's script skips pairs whose HellaSwag differs by no more than this


@dataclass(frozen=True)
class Point:
    """One model of a family: its size (parameters) and two scores in percent."""

    name: str
    params: float
    reasoning: float
    truthfulness: float
    d_model: int | None = None


@dataclass(frozen=True)
class LocalCoupling:
    smaller: str
    larger: str
    mid_log10_params: float
    gamma: float
    phase: str


def phase_of(gamma: float) -> str:
    if gamma < TAX_BELOW:
        return "tax"
    if gamma > BONUS_ABOVE:
        return "bonus"
    return "transition"


def local_couplings(points: Sequence[Point], min_delta: float = MIN_DELTA_HS) -> list[LocalCoupling]:
    """γ12 between consecutive sizes; near-equal reasoning pairs are skipped.

    The sort by parameters is stable: models of equal size keep the order they
    were given in (as the paper's script does), which decides the pairs at ties.
    """
    ordered = sorted(points, key=lambda p: p.params)
    out = []
    for a, b in itertools.pairwise(ordered):
        d_hs = b.reasoning - a.reasoning
        if abs(d_hs) <= min_delta:
            continue
        gamma = (b.truthfulness - a.truthfulness) / d_hs
        mid = (math.log10(a.params) + math.log10(b.params)) / 2
        out.append(LocalCoupling(a.name, b.name, mid, gamma, phase_of(gamma)))
    return out


@dataclass(frozen=True)
class Correlation:
    r: float
    n: int
    p_value: float
    method: str  # "exact permutation (n! orderings)" or "Monte Carlo permutation (k resamples)"


def permutation_correlation(
    x: Sequence[float], y: Sequence[float], resamples: int = 100_000, seed: int = 0
) -> Correlation:
    """Pearson r with a two-sided permutation p-value: exact for n ≤ 8, else Monte Carlo.

    p = share of orderings of y whose |r| is at least the observed |r| (the
    Monte Carlo estimate counts the observed ordering, so p is never 0).
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = xs.size
    if n < 3:
        raise ModelInputError(f"a correlation needs at least 3 models, got {n}")
    r = float(np.corrcoef(xs, ys)[0, 1])
    xc = (xs - xs.mean()) / np.sqrt(((xs - xs.mean()) ** 2).sum())
    yc = (ys - ys.mean()) / np.sqrt(((ys - ys.mean()) ** 2).sum())
    if n <= 8:
        perms = np.array(list(itertools.permutations(range(n))))
        rs = yc[perms] @ xc
        p = float(np.mean(np.abs(rs) >= abs(r) - 1e-12))
        return Correlation(r, n, p, f"exact permutation ({len(perms)} orderings)")
    rng = np.random.default_rng(seed)
    rs = np.array([rng.permutation(yc) @ xc for _ in range(resamples)])
    p = float((np.sum(np.abs(rs) >= abs(r) - 1e-12) + 1) / (resamples + 1))
    return Correlation(r, n, p, f"Monte Carlo permutation ({resamples} resamples, seed {seed})")


@dataclass(frozen=True)
class NcEstimate:
    method: str
    point_billions: float | None  # on all points
    median_billions: float | None
    ci95_billions: tuple[float, float] | None
    ci68_billions: tuple[float, float] | None
    valid_resamples: int
    resamples: int
    note: str = ""


def _quadratic_vertex(log_n: np.ndarray, tqa: np.ndarray, window: tuple[float, float]) -> float | None:
    a, b, _ = np.polyfit(log_n, tqa, 2)
    if not a > 0:
        return None
    vertex = -b / (2 * a)
    return float(vertex) if window[0] < vertex < window[1] else None


def _resample_indices(n: int, resamples: int, seed: int, legacy: bool) -> list[np.ndarray]:
    if legacy:  # the paper's script: np.random.seed(seed); np.random.choice(n, n, replace=True) per resample
        state = np.random.RandomState(seed)
        return [state.choice(n, n, replace=True) for _ in range(resamples)]
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(resamples)]


def _summary(method: str, point: float | None, values: list[float], resamples: int, note: str = "") -> NcEstimate:
    if not values:
        return NcEstimate(method, point, None, None, None, 0, resamples, note or "no resample gave a valid N_c")
    v = np.asarray(values)
    lo95, hi95, lo68, hi68 = np.percentile(v, [2.5, 97.5, 16, 84])
    return NcEstimate(
        method,
        point,
        float(np.median(v)),
        (float(lo95), float(hi95)),
        (float(lo68), float(hi68)),
        len(values),
        resamples,
        note,
    )


def nc_quadratic_bootstrap(
    points: Sequence[Point],
    resamples: int = 10_000,
    seed: int = 42,
    *,
    legacy_rng: bool = False,
    window: tuple[float, float] = (7.0, 12.0),
) -> NcEstimate:
    """The paper's method: fit TQA = a·x² + b·x + c with x = log10 N; N_c = 10^vertex.

    A fit counts when a > 0 (a minimum) and the vertex lies strictly inside
    ``window`` (10 M to 1 T parameters). Bootstrap over points; percentile
    intervals. ``legacy_rng`` replays the paper's script's random stream.
    """
    log_n = np.log10([p.params for p in points])
    tqa = np.array([p.truthfulness for p in points])
    full = _quadratic_vertex(log_n, tqa, window)
    values = []
    for idx in _resample_indices(len(points), resamples, seed, legacy_rng):
        if len(set(idx.tolist())) < 3:
            continue
        vertex = _quadratic_vertex(log_n[idx], tqa[idx], window)
        if vertex is not None:
            values.append(10**vertex / 1e9)
    note = "" if full is not None else "the fit on all points has no minimum inside the window (no sign change)"
    return _summary(
        "quadratic vertex of TQA(log10 N)", None if full is None else 10**full / 1e9, values, resamples, note
    )


def _gamma_crossing(points: Sequence[Point]) -> float | None:
    couplings = local_couplings(points)
    if len(couplings) < 2:
        return None
    xs = np.array([c.mid_log10_params for c in couplings])
    gs = np.array([c.gamma for c in couplings])
    if np.ptp(xs) == 0:
        return None
    slope, intercept = np.polyfit(xs, gs, 1)
    if slope == 0:
        return None
    crossing = -intercept / slope
    return float(crossing) if 7.0 < crossing < 12.0 else None


def nc_gamma_bootstrap(points: Sequence[Point], resamples: int = 10_000, seed: int = 42) -> NcEstimate:
    """The γ12 zero crossing: a straight line of γ12 on the pair's mid log10 N; N_c = 10^(−b/a)."""
    full = _gamma_crossing(points)
    rng = np.random.default_rng(seed)
    values = []
    n = len(points)
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        chosen = [points[i] for i in sorted(set(idx.tolist()))]  # duplicates carry no new pair
        crossing = _gamma_crossing(chosen)
        if crossing is not None:
            values.append(10**crossing / 1e9)
    note = "" if full is not None else "γ12 does not cross zero between 10 M and 1 T parameters"
    return _summary("zero crossing of γ12(log10 N)", None if full is None else 10**full / 1e9, values, resamples, note)


# --- the isocline classifier and width normalisation -----------------------------------------


@dataclass(frozen=True)
class Isocline:
    ratio: float  # a/b, with scores as fractions
    calibration: str


def calibrate_isocline(points: Sequence[Point]) -> Isocline:
    """The paper's calibration, computed: at the consecutive pair of a family whose
    γ12 is nearest zero (it must lie in the transition band), a/b = TQA² / HS with
    the pair's mean scores as fractions. (The paper reads OLMo as "measured at
    γ12 = 0.000"; the registry's OLMo rows say how near zero they really are.)"""
    couplings = [c for c in local_couplings(points) if c.phase == "transition"]
    if not couplings:
        raise ModelInputError("no consecutive pair in the transition band to calibrate on")
    best = min(couplings, key=lambda c: abs(c.gamma))
    pair = [p for p in points if p.name in (best.smaller, best.larger)]
    tqa = sum(p.truthfulness for p in pair) / len(pair) / 100
    hs = sum(p.reasoning for p in pair) / len(pair) / 100
    ratio = tqa**2 / hs
    return Isocline(
        ratio,
        f"{best.smaller} → {best.larger}: γ12 = {best.gamma:+.3f}; mean TQA {tqa:.4f}, "
        f"mean HS {hs:.4f} (fractions) → a/b = {ratio:.4f}",
    )


def isocline_phase(isocline: Isocline, reasoning: float, truthfulness: float) -> tuple[str, float]:
    """Above TQA_c = √((a/b)·HS) (fractions) is the cooperative (bonus) side; below, the tax side."""
    boundary = math.sqrt(isocline.ratio * reasoning / 100) * 100
    return ("bonus (above the isocline)" if truthfulness > boundary else "tax (below the isocline)"), boundary


WIDTH_CAVEAT = (
    "width-normalised scores divide by d_model/512, so they fall as models widen whatever the "
    "capability: a ratio artifact, not evidence of a phase"
)


def width_normalised(score: float, d_model: int) -> float:
    return score / (d_model / 512)


# --- cross-family prediction ---------------------------------------------------------------


@dataclass(frozen=True)
class CrossFamily:
    trained_on: list[str]
    predicted: list[tuple[str, float, float]]  # name, actual TQA, predicted TQA
    mape_percent: float


def cross_family_prediction(train: Sequence[Point], test: Sequence[Point]) -> CrossFamily:
    """Quadratic TQA(log10 N) fitted on ``train``, mean absolute percentage error on ``test``."""
    coeffs = np.polyfit(np.log10([p.params for p in train]), [p.truthfulness for p in train], 2)
    rows = [(p.name, p.truthfulness, float(np.polyval(coeffs, math.log10(p.params)))) for p in test]
    mape = float(np.mean([abs(pred - actual) / actual for _, actual, pred in rows]) * 100)
    return CrossFamily(sorted({p.name for p in train}), rows, mape)
