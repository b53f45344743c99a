"""Stored fits: what they hold, verdicts without refitting, predictions, lab views, coverage."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from phasewatch.models.coupling import (
    CouplingData,
    CouplingSampler,
    Diagnostics,
    ModelSpec,
    OLSTrend,
    SamplerSettings,
    leave_future_out,
    ols_trend,
)
from phasewatch.models.intervals import Interval
from phasewatch.registry.coverage import list_coverage
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.fits import (
    DEFAULT_SPEC,
    StoredFit,
    data_hash,
    latest_accepted_fit,
    panel_data,
    predict,
    read_fit,
    record_verdict,
    show_fit,
)
from phasewatch.registry.hfield import hfield_rows
from phasewatch.registry.philosophy import compare_labs, lab_philosophy
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import CoverageCheck, Fit, ReleaseVerdict
from phasewatch.services.coverage import run_coverage
from phasewatch.services.fitting import FitRequest, run_fit
from tests.helpers import source_path

pytestmark = pytest.mark.slow
TODAY = dt.date(2026, 11, 23)


def _log(engine: Engine, name: str, lab: str, swe: float | None, gpqa: float | None):
    scores = tuple(ScoreInput(k, v) for k, v in (("swe_bench_verified", swe), ("gpqa_diamond", gpqa)) if v is not None)
    with transaction(engine) as session:
        add_release(session, ReleaseRequest(name=name, lab=lab, date="2026-06-01", scores=scores), today=TODAY)
        return record_verdict(session, name)


def test_stored_fit_holds_spec_data_hash_versions_and_diagnostics(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        fit = latest_accepted_fit(session)
        assert fit is not None and fit.converged and fit.accepted
        assert fit.data_hash == data_hash(panel_data(session, ("growing-pains-34",), fit.x_benchmark, fit.y_benchmark))
        assert fit.diagnostics["max_r_hat"] < 1.01 and fit.diagnostics["divergences"] == 0
        assert fit.versions["pymc"].startswith("6.") and fit.spec["settings"]["seed"] == fit.seed
        assert fit.ols["slope"] == pytest.approx(0.513, abs=5e-4) and fit.n_models == 34
        labs = {lab["lab"]: lab for lab in fit.summary["labs"]}
        for name in ("Google", "DeepSeek"):
            slope = labs[name]["slope"]
            assert slope["low"] < slope["mean"] < slope["high"]
        assert labs["Google"]["slope"]["mean"] > labs["DeepSeek"]["slope"]["mean"]


def test_release_verdict_from_the_stored_fit(fitted_engine: Engine) -> None:
    verdict = _log(fitted_engine, "Claude Opus 4.7 (again)", "Anthropic", 87.6, 94.2)
    assert verdict is not None and verdict.check.lab_known and verdict.check.inside
    assert verdict.check.predicted.high <= 100.0
    # h against the posterior trend sits near the paper's +2.9 (frozen OLS trend), within its HDI width
    assert verdict.check.h.low < 2.9 < verdict.check.h.high
    with transaction(fitted_engine) as session:
        assert session.scalar(select(func.count()).select_from(ReleaseVerdict)) == 1


def test_release_from_an_unseen_lab_and_an_outlier(fitted_engine: Engine) -> None:
    verdict = _log(fitted_engine, "Nova Coder", "Amazon", 70.0, 40.0)
    assert verdict is not None and not verdict.check.lab_known and not verdict.check.inside
    assert verdict.check.h.high < -20


def test_release_without_both_scores_gets_no_verdict(fitted_engine: Engine) -> None:
    assert _log(fitted_engine, "Half Scored", "Google", 80.0, None) is None


def test_unconverged_fit_is_stored_but_not_used_unless_insisted(fitted_engine: Engine) -> None:
    tiny = SamplerSettings(draws=100, tune=100, chains=2, seed=3)
    result = run_fit(fitted_engine, FitRequest(settings=tiny))
    assert not result.converged and not result.accepted and result.problems
    with transaction(fitted_engine) as session:
        assert latest_accepted_fit(session).id != result.id
    insisted = run_fit(fitted_engine, FitRequest(settings=tiny, accept_unconverged=True))
    assert insisted.accepted and not insisted.converged
    with transaction(fitted_engine) as session:
        assert latest_accepted_fit(session).id == insisted.id
        assert session.scalar(select(func.count()).select_from(Fit)) == 3


def test_predict_for_known_and_new_labs(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        google = predict(session, "Google DeepMind", 80.0)
        newcomer = predict(session, "Some New Lab", 80.0)
    assert google.lab == "Google" and google.lab_known and not newcomer.lab_known
    assert newcomer.predicted.width > google.predicted.width
    assert google.predicted.low < google.predicted.mean < google.predicted.high <= 100.0
    with pytest.raises(InvalidInputError):
        with transaction(fitted_engine) as session:
            predict(session, "Google", 180.0)


def test_hfield_of_a_panel_outside_the_fit(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        _, rows = hfield_rows(session, panel="post-cutoff-2026-04")
        _, deepseek = hfield_rows(session, lab="DeepSeek")
    assert len(rows) == 5 and not any(r.in_fit for r in rows)
    assert {r.lab for r in deepseek} == {"DeepSeek"} and sum(r.in_fit for r in deepseek) == 4
    assert len(deepseek) > 4  # DeepSeek releases the fit never saw are shown too, marked out of fit


def test_lab_philosophy_classifies_the_compute_tier_shift(fitted_engine: Engine) -> None:
    paper = {
        m["name"]: m for m in json.loads(source_path("cape-scaling", "frontier_34models.json").read_text())["models"]
    }
    expected = paper["GPT-5.4 xhigh"]["gpqa"] - paper["GPT-5.4 std"]["gpqa"]  # same SWE: Δh is the GPQA gap (+7.8)
    with transaction(fitted_engine) as session:
        openai = lab_philosophy(session, "OpenAI")
        fit_id, ranks = compare_labs(session)
    tier = next(s for s in openai.shifts if s.after == "GPT-5.4 xhigh")
    assert tier.kind.startswith("inference compute") and tier.delta_h == pytest.approx(expected)
    assert [p.date for p in openai.trajectory] == sorted(p.date for p in openai.trajectory)
    ranked = [r for r in ranks if r.ranked]
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r.slope.mean for r in ranked] == sorted((r.slope.mean for r in ranked), reverse=True)
    assert all(r.n_releases >= 3 for r in ranked) and all(
        r.rank_low <= i + 1 <= r.rank_high for i, r in enumerate(ranked)
    )
    few = [r for r in ranks if not r.ranked]
    assert few and all(r.n_releases < 3 for r in few)  # one or two releases: listed, never ranked


def test_lab_without_a_fit_or_outside_it(engine: Engine, fitted_engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="run `phasewatch fit`"):
        with transaction(engine) as session:
            lab_philosophy(session, "Google")
    with transaction(fitted_engine) as session:  # a lab outside the fit still gets a page: slope from the hierarchy
        mistral = lab_philosophy(session, "Mistral AI")
    assert mistral.n_in_fit == 0 and mistral.n_releases >= 1 and mistral.slope_source.startswith("hierarchy")
    assert not any(p.in_fit for p in mistral.trajectory)


def test_views_include_releases_outside_the_fit_as_of_a_date(fitted_engine: Engine) -> None:
    from phasewatch.registry.catalog import Catalog

    with transaction(fitted_engine) as session:
        Catalog(session).add_lab("Newcomer Lab", [])
    _log(fitted_engine, "Newcomer One", "Newcomer Lab", 71.0, 80.0)
    with transaction(fitted_engine) as session:
        fit_id, rows = hfield_rows(session)
        _, before = hfield_rows(session, as_of=dt.date(2026, 5, 1))
        page = lab_philosophy(session, "Newcomer Lab")
        _, ranks = compare_labs(session)
    names = {r.name: r for r in rows}
    assert names["Newcomer One"].in_fit is False and "Newcomer One" not in {r.name for r in before}
    assert sum(r.in_fit for r in rows) == 34 and len(rows) > 34
    assert page.trajectory[0].name == "Newcomer One" and page.n_in_fit == 0
    assert "Newcomer Lab" in {r.lab for r in ranks if not r.ranked}


def test_conflicting_panels_are_refused(fitted_engine: Engine) -> None:
    with pytest.raises(InvalidInputError, match=r"has several (swe_bench_verified|gpqa_diamond) values"):
        with transaction(fitted_engine) as session:
            panel_data(session, ("growing-pains-34", "sourced-2026-11"), "swe_bench_verified", "gpqa_diamond")


def test_stored_fit_reads_back_as_typed_records(fitted_engine: Engine) -> None:
    with transaction(fitted_engine) as session:
        row = latest_accepted_fit(session)
        assert row is not None
        fit = read_fit(row)
        data = panel_data(session, fit.panels, fit.x, fit.y)
        assert show_fit(session) == fit
    assert isinstance(fit, StoredFit) and fit.panels == ("growing-pains-34",) and fit.is_default_model
    assert fit.spec == DEFAULT_SPEC == ModelSpec("logit", "partial") and fit.settings.seed == fit.seed
    # the OLS trend read back is the one the panel's data give (the paper's 0.513 slope)
    assert isinstance(fit.ols, OLSTrend) and fit.ols == ols_trend(data.x, data.y)
    assert fit.ols.slope == pytest.approx(0.513, abs=5e-4) and fit.ols.slope_ci95[0] < 0.513 < fit.ols.slope_ci95[1]
    low, high = fit.ols.prediction_interval(fit.ols.x_mean)
    assert low < fit.ols.predict(fit.ols.x_mean) < high
    assert isinstance(fit.diagnostics, Diagnostics) and fit.diagnostics.converged == fit.converged
    assert fit.diagnostics.chains == fit.settings.chains and fit.diagnostics.draws == fit.settings.draws
    assert isinstance(fit.summary.population_slope, Interval) and fit.summary.n == fit.n_models == data.n
    assert {lab.lab for lab in fit.summary.labs} == set(data.labs)
    assert sum(lab.n_models for lab in fit.summary.labs) == data.n
    assert [m.name for m in fit.summary.models] == list(data.names)
    stored = fit.as_dict()  # the JSON form is the stored layout
    assert stored["diagnostics"] == row.diagnostics and stored["summary"] == row.summary
    assert stored["ols"]["slope"] == row.ols["slope"] and stored["spec"]["method"] == row.spec["method"]


def _line(x: np.ndarray) -> np.ndarray:
    return 20.0 + 0.8 * x


def test_leave_future_out_gives_the_known_verdicts() -> None:
    """Four labs on one line y = 20 + 0.8 x (a little noise) before the cutoff; after it,
    three releases on the line and two 45 pp below it: the verdicts are known."""
    rng = np.random.default_rng(7)
    labs = ("A", "B", "C", "D")
    names, lab_of, xs, ys, dates = [], [], [], [], []
    for i in range(24):
        x = 25.0 + 2.5 * i
        names.append(f"train {i}")
        lab_of.append(labs[i % 4])
        xs.append(x)
        ys.append(float(_line(np.array(x)) + rng.normal(0, 1.0)))
        dates.append(f"2025-{1 + i % 12:02d}-{1 + i // 12:02d}")
    future = [("on A", "A", 40.0, 0.0), ("on B", "B", 55.0, 0.0), ("on C", "C", 70.0, 0.0)]
    future += [("below A", "A", 50.0, -45.0), ("below D", "D", 65.0, -45.0)]
    for name, lab, x, off in future:
        names.append(name)
        lab_of.append(lab)
        xs.append(x)
        ys.append(float(_line(np.array(x)) + off))
        dates.append("2026-06-01")
    data = CouplingData(tuple(names), tuple(lab_of), np.array(xs), np.array(ys), tuple(dates))
    sampler = CouplingSampler(data, None, DEFAULT_SPEC)
    coverage = leave_future_out(sampler, data, "2026-01", SamplerSettings(draws=500, tune=500, chains=2, seed=3))
    verdicts = {c.name: c.inside for c in coverage.checks}
    assert verdicts == {"on A": True, "on B": True, "on C": True, "below A": False, "below D": False}
    assert coverage.n == 5 and coverage.inside == 3
    with pytest.raises(ValueError, match="leaves 0 releases before"):
        leave_future_out(sampler, data, "2024-01", SamplerSettings(draws=100, tune=100, chains=2))


def test_holdout_and_leave_future_out_coverage_are_stored(fitted_engine: Engine) -> None:
    small = SamplerSettings(draws=400, tune=400, chains=2, seed=1)
    held = run_coverage(fitted_engine, "holdout", held_out=("post-cutoff-2026-04",), settings=small)
    assert held.n == 5 and held.inside == 5  # the paper's claim, reproduced out of sample
    assert held.share_interval[0] < 1.0 == held.share_interval[1] and held.share == 1.0
    future = run_coverage(fitted_engine, "lfo", cutoff="2025-12", settings=small)
    with transaction(fitted_engine) as session:
        data = panel_data(session, ("growing-pains-34",), "swe_bench_verified", "gpqa_diamond")
        assert session.scalar(select(func.count()).select_from(CoverageCheck)) == 2
        stored = list_coverage(session)
    after = sorted(n for n, d in zip(data.names, data.dates, strict=True) if d is not None and d >= "2025-12")
    assert sorted(c.name for c in future.details) == after and future.n == len(after) >= 5
    assert future.inside == sum(c.predicted.low <= c.y <= c.predicted.high for c in future.details)
    assert [s.id for s in stored] == [held.id, future.id] and stored[1] == future  # read back as stored
    with pytest.raises(InvalidInputError, match="leaves 0 releases before"):
        run_coverage(fitted_engine, "lfo", cutoff="2000-01", settings=small)
