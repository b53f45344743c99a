"""registry/analysis.py: the embedded draws redo `analyze_scores` exactly; the correlation matrix."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from phasewatch.models.coupling import from_link, to_link
from phasewatch.models.intervals import eti, hdi
from phasewatch.registry.analysis import analysis_draws, analyze_scores, benchmark_correlations, latest_scores
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.fits import get_fit

pytestmark = pytest.mark.slow


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_embedded_draws_reproduce_the_analysis_bit_for_bit(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        fit = get_fit(session)
        draws = analysis_draws(fit)
        assert draws["draws"] == draws["total_draws"] and not draws["thinned"]
        for lab, x, y in (("Google", 70.0, 85.0), ("DeepSeek", 30.0, 40.0), ("a lab never seen", 60.0, 99.0)):
            result = analyze_scores(session, lab, x, y)
            known = lab in draws["labs"]
            a = _decode(draws["labs"][lab]["a"] if known else draws["new"]["a"])
            b = _decode(draws["labs"][lab]["b"] if known else draws["new"]["b"])
            noise = _decode(draws["noise_known"] if known else draws["new"]["noise"])
            link = draws["link"]
            dx = float(to_link(x, link)) - draws["x_ref"]
            predicted = eti(from_link(a + b * dx + noise, link))
            h = hdi(y - from_link(_decode(draws["mu_a"]) + _decode(draws["mu_b"]) * dx, link))
            assert result.check.lab_known is known
            assert (h.mean, h.low, h.high) == (result.check.h.mean, result.check.h.low, result.check.h.high)
            assert (max(predicted.low, 0.0), min(predicted.high, 100.0)) == (
                result.check.predicted.low,
                result.check.predicted.high,
            )
        thinned = analysis_draws(fit, max_draws=1000)
        assert (
            thinned["thinned"]
            and thinned["draws"] <= 1000
            and thinned["stride"] * thinned["draws"] >= thinned["total_draws"]
        )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_analyze_rejects_scores_off_the_scale(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session, pytest.raises(InvalidInputError):
        analyze_scores(session, "Google", 120.0, 50.0)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_correlation_matrix_is_pearson_r_with_a_bootstrap_interval(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        keys, pairs = benchmark_correlations(session, resamples=300)
        scores = list(latest_scores(session).values())
    assert "swe_bench_verified" in keys and "gpqa_diamond" in keys
    for p in pairs:
        both = np.array([(s[p.x], s[p.y]) for s in scores if p.x in s and p.y in s])
        assert p.n == len(both) >= 8
        assert p.r == pytest.approx(np.corrcoef(both[:, 0], both[:, 1])[0, 1])
        assert -1 <= p.low <= p.high <= 1
    main = next(p for p in pairs if {p.x, p.y} == {"gpqa_diamond", "swe_bench_verified"})
    assert main.low < main.r < main.high
