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
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from phasewatch.models.intervals import Interval, hdi

SHIFT_SCALE_PP = 10.0  # τ: a pretraining or post-training move of h is of order 10 pp (docs/coupling.md)
PRIOR = np.array([1 / 3, 1 / 3, 1 / 3])  # no shift, persistent, transient


@dataclass(frozen=True)
class ShiftProbabilities:
    """Posterior probabilities of the three hypotheses for one change of h."""

    before: str
    after: str
    following: str | None  # the release that decides persistent vs transient (None: not yet)
    delta_h: Interval
    p_none: Interval
    p_persistent: Interval
    p_transient: Interval
    inference_compute: bool

    @property
    def resolved(self) -> bool:
        return self.following is not None or self.inference_compute

    @property
    def label(self) -> str:
        """The most probable reading, with how probable it is."""
        if self.inference_compute:
            return "inference compute (same weights)"
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
        if self.inference_compute:
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


def shift_probabilities(
    names: list[str],
    h_draws: np.ndarray,
    noise: np.ndarray,
    same_weights: AbstractSet[frozenset[str]] = frozenset(),
    tau: float = SHIFT_SCALE_PP,
) -> list[ShiftProbabilities]:
    """Every consecutive change of h in release order.

    ``h_draws`` is draws × releases (posterior draws of each release's h, which
    carry the trend's uncertainty into Δh); ``noise`` the residual-scale draws in pp.
    Hypotheses are weighed at the posterior-mean h; a same-weights variant of
    the later release is skipped when looking for the release that decides.
    """
    h = h_draws.mean(axis=0)
    out = []
    for k in range(len(names) - 1):
        a, b = names[k], names[k + 1]
        delta = hdi(h_draws[:, k + 1] - h_draws[:, k])
        tier = frozenset((a, b)) in same_weights
        following = next((j for j in range(k + 2, len(names)) if frozenset((b, names[j])) not in same_weights), None)
        d2 = None if following is None else float(h[following] - h[k + 1])
        p = hypothesis_probabilities(float(h[k + 1] - h[k]), d2, noise, tau)
        out.append(
            ShiftProbabilities(
                before=a,
                after=b,
                following=names[following] if following is not None else None,
                delta_h=delta,
                p_none=_prob_interval(p[:, 0]),
                p_persistent=_prob_interval(p[:, 1]),
                p_transient=_prob_interval(p[:, 2]),
                inference_compute=tier,
            )
        )
    return out


def _prob_interval(draws: np.ndarray) -> Interval:
    low, high = np.quantile(draws, [0.025, 0.975])
    return Interval(float(draws.mean()), float(low), float(high), 0.95, "eti")
