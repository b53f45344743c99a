"""Everything the dashboard shows, read from the registry's stored results through the same
registry functions the CLI calls (no fit is rerun; the one bootstrap, N_c, is `phase nc`'s)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.registry.errors import PhasewatchError

# `phase nc`'s defaults: the page shows exactly the number that command prints.
NC_FAMILIES = ["Pythia-deduped", "Llama-1", "Llama-2"]
NC_RESAMPLES = 10_000
NC_SEED = 42


def _iv(interval: Any) -> dict[str, float]:
    return {"mean": interval.mean, "low": interval.low, "high": interval.high}


def collect(session: Session, today: dt.date) -> dict[str, Any]:
    """The page's data as one JSON-able dict; ``findings`` are the headline lines."""
    findings: list[str] = []
    data: dict[str, Any] = {"today": today.isoformat(), "findings": findings}
    data["frontier"] = _frontier(session, findings)
    data["labs"] = _labs(session, today) if data["frontier"] else []
    data["predictions"] = _predictions(session, today, findings)
    data["saturation"] = _saturation(session, today)
    data["phase"] = _phase(session, findings)
    data["coupling"] = _coupling(session)
    data["steering"] = _steering(session, findings)
    data["provenance"] = _provenance(session)
    return data


def _frontier(session: Session, findings: list[str]) -> dict[str, Any] | None:
    from phasewatch.registry.analysis import analysis_draws, frontier_points
    from phasewatch.registry.coverage import list_coverage
    from phasewatch.registry.fits import latest_accepted_fit, summary_of

    if latest_accepted_fit(session) is None:
        findings.append("No accepted coupling fit yet: run `phasewatch fit`.")
        return None
    fit, points = frontier_points(session)
    summary = summary_of(fit)
    ols = fit.ols
    findings.append(
        f"Frontier coupling (fit #{fit.id}, {fit.panels}): OLS slope {ols['slope']:.3f}, "
        f"intercept {ols['intercept']:.1f}, r = {ols['r']:+.3f}; the paper's constant band is 1.96 × RMS "
        f"residual = ±{ols['paper_band']:.2f} pp, the t-based prediction interval wider."
    )
    by_lab = {lab.lab: lab for lab in summary.labs}
    shown = [by_lab[n] for n in ("Google", "DeepSeek") if n in by_lab and by_lab[n].ols_slope is not None]
    if shown:
        findings.append(
            "Per-lab slopes, partially pooled (beside the per-lab OLS slope, the paper's method): "
            + "; ".join(
                f"{lab.lab} {lab.slope.mean:+.2f} [{lab.slope.low:+.2f}, {lab.slope.high:+.2f}] (OLS {lab.ols_slope:.2f})"
                for lab in shown
            )
        )
    coverage = list_coverage(session)[-3:]
    for check in coverage:
        findings.append(
            f"Coverage, {check.method} on {check.panels}: {check.inside}/{check.n} inside the 95 % interval (nominal 95 %)."
        )
    since = sum(not p.in_fit for p in points)
    return {
        "fit": {
            "id": fit.id,
            "panels": fit.panels,
            "n_models": fit.n_models,
            "converged": fit.converged,
            "x": fit.x_benchmark,
            "y": fit.y_benchmark,
            "ols": ols,
            "seed": fit.seed,
            "population_slope": _iv(summary.population_slope),
            "noise_sd": _iv(summary.noise_sd),
            "data_hash": fit.data_hash,
        },
        "points": [
            {
                "name": p.name,
                "lab": p.lab,
                "date": p.date,
                "x": p.x,
                "y": p.y,
                "h": p.h.mean,
                "h_low": p.h.low,
                "h_high": p.h.high,
                "in_fit": p.in_fit,
            }
            for p in points
        ],
        "since": since,
        "draws": analysis_draws(fit),
        "coverage": [
            {
                "method": c.method,
                "panels": c.panels,
                "held_out": c.held_out,
                "n": c.n,
                "inside": c.inside,
                "share": c.share,
            }
            for c in coverage
        ],
    }


def _labs(session: Session, today: dt.date) -> list[dict[str, Any]]:
    from phasewatch.registry.fits import get_fit
    from phasewatch.registry.hfield import hfield_rows
    from phasewatch.registry.philosophy import compare_labs, lab_philosophy

    fit = get_fit(session)
    # every release with both scores as of today, in the fit or logged since (as `hfield` shows them)
    intervals = {r.name: r.h for r in hfield_rows(session, fit_id=fit.id, as_of=today)[1]}
    out = []
    # every lab with a release, in the fit or not; slope and mean h as `labs compare` gives them
    for lab in compare_labs(session, fit.id, as_of=today)[1]:
        view = lab_philosophy(session, lab.lab, fit.id, as_of=today)
        out.append(
            {
                "lab": view.lab,
                "n_releases": view.n_releases,
                "slope": _iv(lab.slope),
                "ols_slope": view.ols_slope,
                "mean_h": _iv(lab.mean_h),
                "direction": view.direction,
                "confidence": view.confidence,
                "noise_pp": view.noise_pp,
                "next_measurement": view.next_measurement,
                "trajectory": [
                    {
                        "name": t.name,
                        "date": t.date,
                        "x": t.x,
                        "h": t.h,
                        "in_fit": t.in_fit,
                        "h_low": intervals[t.name].low,
                        "h_high": intervals[t.name].high,
                    }
                    for t in view.trajectory
                ],
                "shifts": [asdict(s) for s in view.shifts],
            }
        )
    return out


def _predictions(session: Session, today: dt.date, findings: list[str]) -> dict[str, Any]:
    from phasewatch.registry.predictions import grade_predictions, gradings_of, show_prediction, verify_chain

    rows = grade_predictions(session, today)
    check = verify_chain(session)
    counts: dict[str, int] = {}
    items = []
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
        revisions = show_prediction(session, row.key)
        current = revisions[-1]
        items.append(
            {
                "key": row.key,
                "title": row.title,
                "statement": current.statement,
                "criterion": current.criterion,
                "registered": row.registered_at,
                "deadline": row.deadline,
                "probability": row.probability,
                "source": current.source,
                "hash": current.content_hash,
                "prev_hash": current.prev_hash,
                "revisions": [
                    {"revision": r.revision, "registered": r.registered_at.isoformat(), "hash": r.content_hash}
                    for r in revisions
                ],
                "state": row.state,
                "note": row.note,
                "evaluated_on": row.grade.evaluated_on,
                "evidence": row.grade.evidence,
                "benchmarks": row.benchmarks,
                "history": [
                    {
                        "as_of": g.as_of.isoformat(),
                        "state": g.state,
                        "panels": g.panels,
                        "graded_at": g.graded_at.isoformat(timespec="seconds") if g.graded_at else None,
                    }
                    for g in gradings_of(session, row.key)
                ],
            }
        )
    chain = (
        f"hash chain intact ({check.rows} rows, head {check.head_hash})"
        if check.ok
        else "HASH CHAIN BROKEN: " + "; ".join(check.problems)
    )
    findings.append(
        f"Predictions as of {today.isoformat()}: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"; {'hash chain intact' if check.ok else 'HASH CHAIN BROKEN'}."
    )
    return {"items": items, "chain": chain, "chain_ok": check.ok, "counts": counts}


def _saturation(session: Session, today: dt.date) -> dict[str, Any]:
    from phasewatch.registry.predictions import DEFAULT_PANELS, saturation_of

    benchmarks, pairs = saturation_of(session, DEFAULT_PANELS, today)
    return {
        "benchmarks": [
            {
                "benchmark": b.benchmark,
                "spread": b.spread,
                "n": b.n,
                "state": b.state,
                "history": [{"date": h.date, "spread": h.spread, "n": h.n} for h in b.history],
            }
            for b in benchmarks
        ],
        "pairs": [asdict(p) for p in pairs],
    }


def _phase(session: Session, findings: list[str]) -> dict[str, Any]:
    from phasewatch.registry.analysis import phase_classifier
    from phasewatch.registry.phase import SOURCED, family_points, nc_estimates

    quadratic, gamma, n = nc_estimates(session, NC_FAMILIES, SOURCED, NC_RESAMPLES, NC_SEED)
    findings.append(
        f"Critical size N_c (quadratic vertex, `phase nc`): sourced deduplicated Pythia + Llama give "
        f"{quadratic.median_billions:.2f}B [{quadratic.ci95_billions[0]:.2f}, {quadratic.ci95_billions[1]:.2f}] "
        f"({quadratic.valid_resamples} of {quadratic.resamples} resamples valid, {n} models)."
    )
    classifier = phase_classifier(session)
    families = family_points(session, SOURCED)
    return {
        "panel": SOURCED,
        "nc_families": NC_FAMILIES,
        "nc_points": n,
        "nc_quadratic": asdict(quadratic),
        "nc_gamma": asdict(gamma),
        "isocline": {"ratio": classifier.isocline.ratio, "calibration": classifier.isocline.calibration},
        "classifier_nc": [{"label": label, "billions": b} for label, b in classifier.nc_points],
        "families": [
            {
                "family": name,
                "points": [
                    {"name": p.name, "params_b": p.params / 1e9, "hellaswag": p.reasoning, "truthfulqa": p.truthfulness}
                    for p in sorted(fp.points, key=lambda p: p.params)
                ],
            }
            for name, fp in families.items()
        ],
    }


def _coupling(session: Session) -> dict[str, Any]:
    from phasewatch.registry.analysis import benchmark_correlations

    keys, pairs = benchmark_correlations(session)
    return {
        "benchmarks": keys,
        "pairs": [asdict(p) for p in pairs],
        "method": "Pearson r over frontier releases with both "
        "benchmarks (latest logged values); 95 % percentile bootstrap over releases, 2000 resamples, seed 42",
    }


def _steering(session: Session, findings: list[str]) -> list[dict[str, Any]]:
    from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

    results = session.execute(
        select(SteeringResult, SteeringJob, Model.name)
        .join(SteeringJob, SteeringResult.job_id == SteeringJob.id)
        .outerjoin(Model, Model.id == SteeringResult.model_id)
        .order_by(SteeringResult.id)
    ).all()
    findings.append(f"Steering: {len(results)} stored evaluation{'' if len(results) == 1 else 's'}.")
    from phasewatch.registry.jobs import summarize_report

    return [
        {
            "model": model or job.hf_repo,
            "hf_repo": job.hf_repo,
            "revision": job.revision,
            "worker": result.worker,
            "report": summarize_report(result.report),
        }
        for result, job, model in results
    ]


def _provenance(session: Session) -> dict[str, Any]:
    from phasewatch.registry.queries import list_panels
    from phasewatch.registry.schema import Benchmark, Lab, Model, Observation

    rows = session.execute(
        select(
            Model.name,
            Lab.name,
            Model.kind,
            Benchmark.key,
            Observation.value,
            Observation.setting,
            Observation.reported_by,
            Observation.retrieved_on,
            Observation.source_url,
        )
        .join(Model, Observation.model_id == Model.id)
        .join(Lab)
        .join(Benchmark)
        .order_by(Model.name, Benchmark.key, Observation.id)
    ).all()
    try:
        panels = [asdict(p) for p in list_panels(session)]
    except PhasewatchError:
        panels = []
    return {
        "observations": [
            [name, lab, kind, key, value, setting, by, on.isoformat() if on else None, url]
            for name, lab, kind, key, value, setting, by, on, url in rows
        ],
        "panels": [
            {
                "name": p["name"],
                "models": p["models"],
                "observations": p["observations"],
                "source": p["source"],
                "licence": p["licence"],
            }
            for p in panels
        ],
    }
