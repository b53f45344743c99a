"""Lab dynamics with probabilities: is a change of a lab's h-field between two
releases a persistent move of its level, a transient excursion, or noise?

Model. A lab's h over its releases (compute-tier variants of one set of
weights aside) is a level plus noise, h_k = L_k + ε_k with ε_k ~ N(0, s²),
where s is the fit's residual scale in percentage points. Around a change
from release k to k+1, with the next release k+2 when there is one, three
hypotheses are weighed:

- H0 *no shift*: L_k = L_{k+1} = L_{k+2};
- H1 *persistent* (pretraining-level): the level moves by δ at k+1 and stays,
  L_{k+1} = L_{k+2} = L_k + δ (a random-walk step);
- H2 *transient* (post-training excursion): release k+1 alone is off by δ,
  L_{k+2} = L_k,

with δ ~ N(0, τ²) and prior weights 1/3 each. In differences d1 = h_{k+1} − h_k
and d2 = h_{k+2} − h_{k+1} every hypothesis is a bivariate normal, so the
marginal likelihoods are exact:

    H0: Σ = s²·[[2, −1], [−1, 2]],  H1: Σ + τ²·[[1, 0], [0, 0]],
    H2: Σ + τ²·[[1, −1], [−1, 1]].

Without a following release only d1 is seen: H1 and H2 have the same
likelihood and the question stays open (P(shift) is still computed). The
probabilities are averaged over the posterior draws of s (their spread over
draws is reported as an interval). Same-weights tiers are inference compute
by construction (the registry says so), with their Δh.

Tiers. A lab ships tiers of different weights (Opus, Sonnet, Haiku; Pro,
Flash; a "mini"): a smaller model sits at its own h, so a Sonnet → Haiku
change is not a move of the lab's level. Given each release's tier, a change
between consecutive releases of different tiers is a *tier change* (Δh with
its interval, no persistent/transient reading), and each tier's trajectory is
read on its own: a release's shift is taken against the previous release of
the same tier, and decided by the next release of that tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from phasewatch.models.intervals import Interval, hdi

SHIFT_SCALE_PP = 10.0  # τ: a pretraining or post-training move of h is of order 10 pp (docs/coupling.md)
PRIOR = np.array([1 / 3, 1 / 3, 1 / 3])  # no shift, persistent, transient


@dataclass(frozen=True)
class ShiftProbabilities:
    """Posterior probabilities of the three hypotheses for one change of h
    (``None`` for a tier change or a same-weights pair: no reading is made)."""

    before: str
    after: str
    following: str | None  # the release that decides persistent vs transient (None: not yet)
    delta_h: Interval
    p_none: Interval | None
    p_persistent: Interval | None
    p_transient: Interval | None
    inference_compute: bool
    tier_change: tuple[str, str] | None = None  # (tier before, tier after): different weights
    d1: float = 0.0  # the change of posterior-mean h the hypotheses were weighed on

    @property
    def read(self) -> bool:
        """Whether the three hypotheses were weighed (not a tier change, not same weights)."""
        return not self.inference_compute and self.tier_change is None

    @property
    def resolved(self) -> bool:
        return self.following is not None or not self.read

    @property
    def label(self) -> str:
        """The most probable reading, with how probable it is."""
        if self.inference_compute:
            return "inference compute (same weights)"
        if self.tier_change is not None:
            return f"tier change (different weights: {self.tier_change[0]} → {self.tier_change[1]})"
        assert self.p_none is not None and self.p_persistent is not None and self.p_transient is not None
        options = {
            "no shift (noise)": self.p_none.mean,
            "persistent (pretraining-level)": self.p_persistent.mean,
            "transient (post-training excursion)": self.p_transient.mean,
        }
        if not self.resolved:
            shift = self.p_persistent.mean + self.p_transient.mean
            if shift > self.p_none.mean:
                return f"a shift (P {shift:.2f}); persistent or transient: open until the next release"
            return f"no shift (noise) (P {self.p_none.mean:.2f})"
        best = max(options, key=lambda k: options[k])
        return f"{best} (P {options[best]:.2f})"

    @property
    def entropy(self) -> float:
        """Uncertainty of the open question in bits (persistent vs transient when a shift is likely)."""
        if self.p_none is None or self.p_persistent is None or self.p_transient is None:
            return 0.0
        p = np.array([self.p_none.mean, self.p_persistent.mean, self.p_transient.mean])
        p = p[p > 0]
        return float(-(p * np.log2(p)).sum())


def _log_normal2(d1: float, d2: float, cov: np.ndarray) -> np.ndarray:
    """log N((d1, d2); 0, cov) for a stack of 2×2 covariances (draws × 2 × 2)."""
    det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
    quad = (cov[:, 1, 1] * d1**2 - 2 * cov[:, 0, 1] * d1 * d2 + cov[:, 0, 0] * d2**2) / det
    return -np.log(2 * np.pi) - 0.5 * np.log(det) - 0.5 * quad


def _log_normal1(d1: float, var: np.ndarray) -> np.ndarray:
    return -0.5 * np.log(2 * np.pi * var) - 0.5 * d1**2 / var


def hypothesis_probabilities(d1: float, d2: float | None, noise: np.ndarray, tau: float = SHIFT_SCALE_PP) -> np.ndarray:
    """P(no shift), P(persistent), P(transient) per noise draw (draws × 3)."""
    s2 = np.asarray(noise, dtype=float) ** 2
    t2 = tau**2
    if d2 is None:
        logs = np.column_stack([_log_normal1(d1, 2 * s2), _log_normal1(d1, 2 * s2 + t2), _log_normal1(d1, 2 * s2 + t2)])
    else:
        base = s2[:, None, None] * np.array([[2.0, -1.0], [-1.0, 2.0]])
        logs = np.column_stack(
            [
                _log_normal2(d1, d2, base),
                _log_normal2(d1, d2, base + t2 * np.array([[1.0, 0.0], [0.0, 0.0]])),
                _log_normal2(d1, d2, base + t2 * np.array([[1.0, -1.0], [-1.0, 1.0]])),
            ]
        )
    logs = logs + np.log(PRIOR)
    logs -= logs.max(axis=1, keepdims=True)
    p = np.exp(logs)
    return p / p.sum(axis=1, keepdims=True)


UNTIERED = "untiered"  # how a release with no tier (a lab's unnamed main line) is named in a label


def shift_probabilities(
    names: list[str],
    h_draws: np.ndarray,
    noise: np.ndarray,
    same_weights: AbstractSet[frozenset[str]] = frozenset(),
    tau: float = SHIFT_SCALE_PP,
    tiers: Sequence[str | None] | None = None,
) -> list[ShiftProbabilities]:
    """Every change of h in release order, each tier read on its own.

    ``h_draws`` is draws × releases (posterior draws of each release's h, which
    carry the trend's uncertainty into Δh); ``noise`` the residual-scale draws in
    pp; ``tiers`` each release's tier (``None`` for all: one tier). For each
    release after the first: a same-weights pair with the release before it is
    inference compute; a different tier is a tier change, and the release is
    then also read against the previous release of its own tier (if any). The
    release that decides a shift is the next one of the same tier that is not
    a same-weights variant of the later release. Hypotheses are weighed at the
    posterior-mean h.
    """
    n = len(names)
    tier = list(tiers) if tiers is not None else [None] * n
    h = h_draws.mean(axis=0)

    def same(i: int, j: int) -> bool:
        return frozenset((names[i], names[j])) in same_weights

    out = []
    for k in range(1, n):
        a = k - 1
        if same(a, k):
            out.append(_unread(names, h_draws, a, k, inference_compute=True))
            continue
        j: int | None = a
        if tier[a] != tier[k]:
            out.append(_unread(names, h_draws, a, k, tier_change=(tier[a] or UNTIERED, tier[k] or UNTIERED)))
            j = next((i for i in range(a - 1, -1, -1) if tier[i] == tier[k]), None)
            if j is None:
                continue
            if same(j, k):
                out.append(_unread(names, h_draws, j, k, inference_compute=True))
                continue
        assert j is not None
        following = next((m for m in range(k + 1, n) if tier[m] == tier[k] and not same(k, m)), None)
        d1 = float(h[k] - h[j])
        d2 = None if following is None else float(h[following] - h[k])
        p = hypothesis_probabilities(d1, d2, noise, tau)
        out.append(
            ShiftProbabilities(
                before=names[j],
                after=names[k],
                following=names[following] if following is not None else None,
                delta_h=hdi(h_draws[:, k] - h_draws[:, j]),
                p_none=_prob_interval(p[:, 0]),
                p_persistent=_prob_interval(p[:, 1]),
                p_transient=_prob_interval(p[:, 2]),
                inference_compute=False,
                d1=d1,
            )
        )
    return out


def _unread(
    names: list[str],
    h_draws: np.ndarray,
    a: int,
    b: int,
    *,
    inference_compute: bool = False,
    tier_change: tuple[str, str] | None = None,
) -> ShiftProbabilities:
    """A change with no persistent/transient reading: same weights, or a change of tier."""
    return ShiftProbabilities(
        before=names[a],
        after=names[b],
        following=None,
        delta_h=hdi(h_draws[:, b] - h_draws[:, a]),
        p_none=None,
        p_persistent=None,
        p_transient=None,
        inference_compute=inference_compute,
        tier_change=tier_change,
        d1=float(h_draws[:, b].mean() - h_draws[:, a].mean()),
    )


def _prob_interval(draws: np.ndarray) -> Interval:
    low, high = np.quantile(draws, [0.025, 0.975])
    return Interval(float(draws.mean()), float(low), float(high), 0.95, "eti")


def _conditional_d2(d1: float, s2: float, t2: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of d2 given d1 under each hypothesis (none, persistent, transient)."""
    base = s2 * np.array([[2.0, -1.0], [-1.0, 2.0]])
    covs = (base, base + t2 * np.array([[1.0, 0.0], [0.0, 0.0]]), base + t2 * np.array([[1.0, -1.0], [-1.0, 1.0]]))
    mean = np.array([c[0, 1] / c[0, 0] * d1 for c in covs])
    var = np.array([c[1, 1] - c[0, 1] ** 2 / c[0, 0] for c in covs])
    return mean, var


def shift_information(d1: float, noise: float, tau: float = SHIFT_SCALE_PP, nodes: int = 80) -> float:
    """Expected information (bits) the deciding release gives about an open shift's reading.

    The mutual information I(H; d2 | d1) between the hypothesis H (no shift /
    persistent / transient, weighted by P(H | d1)) and the next change
    d2 = h_{k+2} − h_{k+1}, whose law under each hypothesis is the normal
    conditional on d1 given by the covariances above:
    Σ_H P(H | d1) · E_{d2 ~ H}[log2 p(d2 | H) − log2 Σ_H' P(H' | d1) p(d2 | H')],
    each expectation by Gauss–Hermite quadrature (exact up to the quadrature).
    """
    p = hypothesis_probabilities(d1, None, np.array([noise]), tau)[0]
    mean, var = _conditional_d2(d1, noise**2, tau**2)
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    total = 0.0
    for h in np.flatnonzero(p > 1e-12):
        d2 = mean[h] + np.sqrt(var[h]) * z
        log_dens = -0.5 * (d2[None, :] - mean[:, None]) ** 2 / var[:, None] - 0.5 * np.log(2 * np.pi * var[:, None])
        with np.errstate(divide="ignore"):
            log_mix = np.logaddexp.reduce(np.log(p)[:, None] + log_dens, axis=0)
        total += p[h] * float(w @ (log_dens[h] - log_mix))
    return max(total / np.log(2), 0.0)
