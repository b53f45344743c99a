"""The benchmark coupling matrix: pairwise-complete cells, known correlations
recovered within their intervals, thin cells left empty."""

from __future__ import annotations

import numpy as np

from phasewatch.models.coupling import from_link
from phasewatch.models.coupling_matrix import MIN_PAIRS, coupling_matrix


def test_known_correlations_are_recovered_with_missing_cells() -> None:
    rng = np.random.default_rng(8)
    n = 400
    ability = rng.standard_normal(n)
    latent = {
        "a": ability + 0.3 * rng.standard_normal(n),
        "b": ability + 0.3 * rng.standard_normal(n),
        "c": rng.standard_normal(n),
    }  # c is unrelated to a and b
    scores: dict[str, dict[str, float]] = {}
    for i in range(n):
        present = [k for k in latent if rng.random() < 0.6]  # ~40 % of cells missing
        scores[f"m{i}"] = {k: float(from_link(latent[k][i], "logit")) for k in present}
    scores["lonely"] = {"d": 50.0, "a": 60.0}
    cells = {(c.x, c.y): c for c in coupling_matrix(scores, ["a", "b", "c", "d"])}
    true_ab = 1 / 1.09  # corr of ability + noise(0.3) pairs
    ab = cells[("a", "b")]
    assert ab.r is not None and ab.r.low < true_ab < ab.r.high and ab.n < n
    assert abs(cells[("b", "a")].r.mean - ab.r.mean) < 1e-12  # symmetric
    ac = cells[("a", "c")]
    assert ac.r.low < 0 < ac.r.high
    assert cells[("a", "d")].n == 1 < MIN_PAIRS and cells[("a", "d")].r is None
