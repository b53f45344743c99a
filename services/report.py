"""The report: everything the dashboard shows, read from the registry's stored results through
the same registry functions the CLI calls. Nothing is refitted or resampled while reading: the
coupling fit is the stored one, and N_c is the bootstrap `phase nc` / `phase reproduce` stored
(the report says which command to run when it is missing or out of date).

The one use case behind ``phasewatch report``: :func:`report_data` returns a :class:`ReportData`
that ``phasewatch.dashboard`` renders (a web page or a Python user can call it the same way).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import PhasewatchError


@dataclass(frozen=True)
class ReportData:
    """What the report shows: ``findings`` (the headline lines) and ``page`` (every figure's and
    table's data, JSON-ready, ``findings`` included)."""

    today: dt.date
    findings: list[str]
    page: dict[str, Any]


def report_data(engine: Engine, today: dt.date) -> ReportData:
    """Read the report's data in one (read-only) transaction."""
    with transaction(engine) as session:
        page = collect(session, today)
    return ReportData(today, list(page["findings"]), page)


def _n(count: int, word: str) -> str:
    """ "1 model", "2 models" (the CLI's ``plural``; services sit below the CLI)."""
    return f"{count} {word}{'' if count == 1 else 's'}"


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
    data["coupling"] = _coupling(session, today, findings)
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


NC_COMMAND = "phasewatch phase nc"


def _phase(session: Session, findings: list[str]) -> dict[str, Any]:
    from phasewatch.models.phase import calibrate_isocline
    from phasewatch.registry.errors import NotFoundError
    from phasewatch.registry.phase import (
        NC_FAMILIES,
        PAPER_NC,
        PAPER_NC_FAMILIES,
        SOURCED,
        family_points,
        stored_nc,
    )

    stored = stored_nc(session, NC_FAMILIES, SOURCED, resamples=None, seed=None, legacy_rng=None)
    nc: dict[str, Any] = {"stored": stored is not None, "command": NC_COMMAND}
    if stored is None:
        findings.append(
            f"Critical size N_c: not computed yet; run `{NC_COMMAND}` (or `phasewatch phase reproduce`) "
            "and then `phasewatch report` again."
        )
    else:
        q = stored.quadratic
        nc.update(
            resamples=stored.resamples,
            seed=stored.seed,
            by=stored.command,
            computed_at=stored.computed_at.isoformat(timespec="seconds"),
            current=stored.current,
        )
        interval = (
            f"{q.median_billions:.2f}B [{q.ci95_billions[0]:.2f}, {q.ci95_billions[1]:.2f}]"
            if q.median_billions is not None and q.ci95_billions is not None
            else f"none ({q.note})"
        )
        findings.append(
            f"Critical size N_c (quadratic vertex, `phase nc`): sourced deduplicated Pythia + Llama give "
            f"{interval} ({q.valid_resamples} of {_n(q.resamples, 'resample')} valid, {_n(stored.points, 'model')})"
            + ("." if stored.current else f"; the panel has changed since, rerun `{NC_COMMAND}`.")
        )
    olmo = family_points(session, "lying-63").get("OLMo")
    if olmo is None:
        raise NotFoundError("the paper's OLMo rows are not in the registry", "run `phasewatch init`")
    isocline = calibrate_isocline(olmo.points)
    classifier_nc = []  # the points `phase classify` compares a size with (quadratic fit on all points)
    for label, panel, families in (
        ("paper's 14 points", PAPER_NC, PAPER_NC_FAMILIES),
        ("sourced Pythia-deduped + Llama", SOURCED, NC_FAMILIES),
    ):
        run = stored_nc(session, families, panel, resamples=None, seed=None, legacy_rng=None)
        if run is not None and run.quadratic.point_billions is not None:
            classifier_nc.append({"label": label, "billions": run.quadratic.point_billions})
    families_ = family_points(session, SOURCED)
    return {
        "panel": SOURCED,
        "nc": nc,
        "nc_families": list(NC_FAMILIES),
        "nc_points": stored.points if stored else None,
        "nc_quadratic": asdict(stored.quadratic) if stored else None,
        "nc_gamma": asdict(stored.gamma) if stored else None,
        "isocline": {"ratio": isocline.ratio, "calibration": isocline.calibration},
        "classifier_nc": classifier_nc,
        "families": [
            {
                "family": name,
                "points": [
                    {"name": p.name, "params_b": p.params / 1e9, "hellaswag": p.reasoning, "truthfulqa": p.truthfulness}
                    for p in sorted(fp.points, key=lambda p: p.params)
                ],
            }
            for name, fp in families_.items()
        ],
    }


MATRIX_MIN_MODELS = 10  # `phasewatch fits matrix`'s default


def _coupling(session: Session, today: dt.date, findings: list[str]) -> dict[str, Any]:
    """`phasewatch fits matrix` as of today: the stored joint matrix (`fit-matrix`; read, never
    refitted) when there is one, beside the pairwise-complete matrix (closed-form Fisher-z)."""
    from phasewatch.models.coupling_matrix import MIN_PAIRS
    from phasewatch.registry.comparison import benchmark_matrix
    from phasewatch.services.coupling_matrix import latest_stored

    matrix = benchmark_matrix(session, as_of=today, min_models=MATRIX_MIN_MODELS)
    keys = matrix.benchmarks
    pairs = [
        {"x": c.x, "y": c.y, "n": c.n, "r": c.r.mean, "low": c.r.low, "high": c.r.high, "slope": c.slope}
        for c in matrix.cells
        if c.r is not None and keys.index(c.x) < keys.index(c.y)  # r is symmetric: each pair once
    ]
    used = [k for k in keys if any(k in (p["x"], p["y"]) for p in pairs)]
    stored = latest_stored(session, today)
    return {
        "benchmarks": used,
        "pairs": pairs,
        "n_models": matrix.n_models,
        "min_pairs": MIN_PAIRS,
        "method": f"Pearson r on the logit scale over the {matrix.n_models} models of the live frontier panel as "
        f"of {today.isoformat()} with a benchmark reported by at least {MATRIX_MIN_MODELS} models, with a 95 % "
        "Fisher-z interval; exactly `phasewatch fits matrix --method pairwise`",
        "joint": None if stored is None else _joint(stored, findings),
    }


def _joint(stored: Any, findings: list[str]) -> dict[str, Any]:
    """The stored joint matrix as the page shows it (`phasewatch fits matrix --method joint`)."""
    m, d = stored.matrix, stored.matrix.diagnostics
    gate = (
        f"converged: max r_hat {d.max_r_hat:.4f}, min ESS bulk/tail {d.min_ess_bulk:.0f}/{d.min_ess_tail:.0f}, "
        f"{_n(d.divergences, 'divergence')}"
        if d.converged
        else "NOT converged: " + "; ".join(d.problems)
    )
    cells = sorted(m.cells, key=lambda c: c.r.mean)
    findings.append(
        f"Joint coupling matrix #{stored.id} (`fit-matrix`, live panel as of {stored.as_of}, "
        f"{_n(len(m.benchmarks), 'benchmark')}, {_n(m.n_models, 'model')}, {m.missing_share:.0%} of cells missing "
        f"and integrated out; {'converged' if d.converged else 'NOT converged'}): correlations from "
        f"{cells[0].r.mean:+.2f} [{cells[0].r.low:+.2f}, {cells[0].r.high:+.2f}] ({cells[0].x} × {cells[0].y}) to "
        f"{cells[-1].r.mean:+.2f} [{cells[-1].r.low:+.2f}, {cells[-1].r.high:+.2f}] ({cells[-1].x} × {cells[-1].y})"
        + ("." if not stored.staleness.stale else f"; {stored.staleness.sentence()}.")
    )
    return {
        "id": stored.id,
        "panel": stored.panel,
        "as_of": stored.as_of.isoformat(),
        "created_at": stored.created_at.isoformat(timespec="seconds"),
        "converged": d.converged,
        "gate": gate,
        "stale": stored.staleness.stale,
        "staleness": stored.staleness.sentence(),
        "benchmarks": list(m.benchmarks),
        "n_models": m.n_models,
        "missing_share": m.missing_share,
        "patterns": m.patterns,
        "n_benchmark": {b.key: b.n for b in m.marginals},
        "pairs": [
            {
                "x": c.x,
                "y": c.y,
                "n": c.n,
                "r": c.r.mean,
                "low": c.r.low,
                "high": c.r.high,
                "p_positive": c.p_positive,
                "pairwise_r": None if c.pairwise is None else c.pairwise.mean,
                "pairwise_low": None if c.pairwise is None else c.pairwise.low,
                "pairwise_high": None if c.pairwise is None else c.pairwise.high,
            }
            for c in m.cells
        ],
        "method": "joint model: the logit scores of every model as one multivariate normal (LKJ prior on the "
        "correlations), missing cells integrated out; posterior mean and 95 % HDI; exactly "
        "`phasewatch fits matrix --method joint` (pairwise columns: Pearson r on the same models, Fisher-z)",
    }


def _steering(session: Session, findings: list[str]) -> list[dict[str, Any]]:
    from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

    results: list[tuple[SteeringResult, SteeringJob, str | None]] = session.execute(  # type: ignore[assignment]
        select(SteeringResult, SteeringJob, Model.name)
        .join(SteeringJob, SteeringResult.job_id == SteeringJob.id)
        .outerjoin(Model, Model.id == SteeringResult.model_id)
        .order_by(SteeringResult.id)
    ).all()
    findings.append(f"Steering: {_n(len(results), 'stored evaluation')}.")
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


def _iso(day: Any) -> str | None:
    return day.isoformat() if day else None


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
            [name, lab, kind, key, value, setting, by, _iso(on), url]
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
