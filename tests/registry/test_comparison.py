"""`fits compare`: stored fits are reused, missing models are fitted and stored
(never used for verdicts), and the table carries ELPD ± SE, stacking weights
and LOO-PIT coverage with binomial intervals."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from phasewatch.models.coupling import ModelSpec, SamplerSettings
from phasewatch.registry.comparison import compare_fits
from phasewatch.registry.db import transaction
from phasewatch.registry.fits import METHOD, latest_accepted_fit

pytestmark = pytest.mark.slow


def test_compare_reuses_the_default_fit_and_stores_the_others(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        default_id = latest_accepted_fit(session).id
    specs = (ModelSpec("logit", "partial"), ModelSpec("identity", "complete"))
    result = compare_fits(fitted_engine, specs=specs, settings=SamplerSettings(seed=1))
    assert {r.method for r in result.rows} == {s.method for s in specs} and result.n_models == 34
    by_method = {r.method: r for r in result.rows}
    assert by_method[METHOD].fit_id == default_id  # reused, not refitted
    assert [r.rank for r in result.rows] == [1, 2] and result.rows[0].elpd_diff == 0.0
    assert result.rows[1].elpd_diff < 0 and result.rows[1].diff_se > 0
    assert sum(r.weight for r in result.rows) == pytest.approx(1.0)
    for row in result.rows:
        assert row.se > 0 and row.refitted <= row.high_k
        assert [c.nominal for c in row.coverage] == [0.5, 0.8, 0.95]
        assert all(c.low <= c.share <= c.high and c.n == 34 for c in row.coverage)
    assert "default" in result.verdict
    with transaction(fitted_engine) as session:  # the comparison fit never becomes the verdict fit
        assert latest_accepted_fit(session).id == default_id
    again = compare_fits(fitted_engine, specs=specs)
    assert {r.fit_id for r in again.rows} == {r.fit_id for r in result.rows}  # both reused now
