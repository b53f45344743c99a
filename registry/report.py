"""The static HTML report of the whole registry: one self-contained page, every
number computed from the registry when the page is written."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.registry.coverage import list_coverage
from phasewatch.registry.errors import PhasewatchError
from phasewatch.registry.schema import Model, SteeringJob, SteeringResult

SECTIONS = (
    ("findings", "Key findings"),
    ("frontier", "Frontier coupling"),
    ("hfield", "h-field"),
    ("labs", "Labs"),
    ("predictions", "Predictions"),
    ("saturation", "Saturation"),
    ("phase", "Base-scale phase"),
    ("steering", "Steering"),
    ("provenance", "Provenance"),
)


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    findings: list[str]


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]], sortable: bool = False) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    cls = ' class="sortable"' if sortable else ""
    return f'<div class="scroll"><table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _interval(v: dict[str, float], digits: int = 2) -> str:
    return f"{v['mean']:+.{digits}f} [{v['low']:+.{digits}f}, {v['high']:+.{digits}f}]"


def build_report(session: Session, out_dir: Path, today: dt.date) -> ReportSummary:
    from phasewatch.models import figures

    findings: list[str] = []
    parts: dict[str, str] = {}
    parts["frontier"], parts["hfield"], parts["labs"] = _coupling_sections(session, findings, figures)
    parts["predictions"] = _predictions_section(session, findings, today)
    parts["saturation"] = _saturation_section(session, today, figures)
    parts["phase"] = _phase_section(session, findings, figures)
    parts["steering"] = _steering_section(session, findings, figures)
    parts["provenance"] = _provenance_section(session)
    parts["findings"] = "<ul>" + "".join(f"<li>{_e(f)}</li>" for f in findings) + "</ul>"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(_page(parts, today), encoding="utf-8")
    return ReportSummary(path, findings)


def _coupling_sections(session: Session, findings: list[str], figures: Any) -> tuple[str, str, str]:
    from phasewatch.models.coupling import Posterior, clip_to_scale
    from phasewatch.models.intervals import eti
    from phasewatch.registry.fits import latest_accepted_fit, panel_data
    from phasewatch.registry.hfield import hfield_rows

    fit = latest_accepted_fit(session)
    if fit is None:
        note = "<p>No accepted coupling fit yet: run <code>phasewatch fit</code>.</p>"
        return note, note, note
    summary, ols = fit.summary, fit.ols
    posterior = Posterior.from_bytes(fit.posterior)
    fitted = panel_data(session, tuple(fit.panels.split(",")), fit.x_benchmark, fit.y_benchmark)
    points = [{"name": n, "lab": lab, "x": float(x), "y": float(y)} for n, lab, x, y in zip(fitted.names, fitted.labs, fitted.x, fitted.y)]
    try:
        post = panel_data(session, ("post-cutoff-2026-04",), fit.x_benchmark, fit.y_benchmark)
        points += [{"name": n, "lab": lab, "x": float(x), "y": float(y), "post_cutoff": True}
                   for n, lab, x, y in zip(post.names, post.labs, post.x, post.y)]  # fmt: skip
    except PhasewatchError:  # no such panel, or too few models in it: no post-cutoff marks
        pass
    xs = [10 + i * 4 for i in range(21)]
    intervals = [clip_to_scale(eti(posterior.predictive(x, None, seed=fit.seed)[0])) for x in xs]
    band = {"x": xs, "low": [i.low for i in intervals], "high": [i.high for i in intervals],
            "mean": [float(posterior.trend(x).mean()) for x in xs]}  # fmt: skip
    frontier = (
        f"<p>Fit #{fit.id} on {_e(fit.panels)} ({fit.n_models} models; {'converged' if fit.converged else 'NOT converged'}). "
        f"OLS: {fit.y_benchmark} = {ols['slope']:.3f}·{fit.x_benchmark} + {ols['intercept']:.1f}, r = {ols['r']:+.3f}; "
        f"the paper's band ±{ols['paper_band']:.1f} pp is 1.96 × RMS residual. Posterior slope {_interval(summary['population_slope'], 3)}.</p>"
        + figures.frontier_scatter(points, band, "SWE-bench Verified (%)", "GPQA Diamond (%)")
    )  # fmt: skip
    _, post_rows = hfield_rows(session, panel="post-cutoff-2026-04") if any(p.get("post_cutoff") for p in points) else (0, [])
    rows = [[m["name"], m["lab"], m["date"], m["x"], m["y"], round(m["h"]["mean"], 1), round(m["h"]["low"], 1),
             round(m["h"]["high"], 1), "fit"] for m in summary["models"]]  # fmt: skip
    rows += [[r.name, r.lab, r.date, r.x, r.y, round(r.h.mean, 1), round(r.h.low, 1), round(r.h.high, 1), "out of sample"]
             for r in post_rows]  # fmt: skip
    hfield = "<p>Click a column to sort.</p>" + _table(["model", "lab", "date", "x", "y", "h", "h 2.5 %", "h 97.5 %", "in"], rows, sortable=True)
    labs = summary["labs"]
    series: dict[str, list[tuple[str, float]]] = {}
    for m in sorted(summary["models"], key=lambda m: m["date"] or "9999"):
        if m["date"]:
            series.setdefault(m["lab"], []).append((m["date"], m["h"]["mean"]))
    lab_section = (
        figures.slope_forest(labs, summary["population_slope"])
        + figures.trajectories({k: v for k, v in series.items() if len(v) >= 2})
        + _table(["lab", "releases", "slope (95 % HDI)", "OLS slope", "mean h (95 % HDI)"],
                 [[lab["lab"], lab["n_models"], _interval(lab["slope"], 3),
                   "" if lab["ols_slope"] is None else f"{lab['ols_slope']:.3f}", _interval(lab["mean_h"], 1)] for lab in labs])
    )  # fmt: skip
    by_lab = {lab["lab"]: lab for lab in labs}
    findings.append(f"Frontier coupling (fit #{fit.id}, {fit.panels}): OLS slope {ols['slope']:.3f}, "
                    f"intercept {ols['intercept']:.1f}, r = {ols['r']:+.3f}; the paper's constant band is 1.96 × RMS "
                    f"residual = ±{ols['paper_band']:.2f} pp, the t-based prediction interval wider.")  # fmt: skip
    if "Google" in by_lab and "DeepSeek" in by_lab:
        findings.append("Per-lab slopes, partially pooled (beside the per-lab OLS slope, the paper's method): " + "; ".join(
            f"{name} {_interval(by_lab[name]['slope'])} (OLS {by_lab[name]['ols_slope']:.2f})"
            for name in ("Google", "DeepSeek") if by_lab[name]["ols_slope"] is not None))  # fmt: skip
    for check in list_coverage(session)[-3:]:
        findings.append(f"Coverage, {check.method} on {check.panels}: {check.inside}/{check.n} inside the 95 % interval (nominal 95 %).")
    return frontier, hfield, lab_section


def _predictions_section(session: Session, findings: list[str], today: dt.date) -> str:
    from phasewatch.registry.predictions import grade_predictions, verify_chain

    rows = grade_predictions(session, today)
    check = verify_chain(session)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    chain = f"hash chain intact ({check.rows} rows, head {check.head_hash})" if check.ok else "HASH CHAIN BROKEN: " + "; ".join(check.problems)
    findings.append(f"Predictions as of {today.isoformat()}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f"; {chain[:40]}…")
    return f"<p>{_e(chain)}</p>" + _table(
        ["key", "prediction", "registered", "deadline", "status", "why"],
        [[r.key, r.title, r.registered_at, r.deadline or "next releases", r.state, r.note] for r in rows],
    )


def _saturation_section(session: Session, today: dt.date, figures: Any) -> str:
    from phasewatch.models.saturation import saturation_report
    from phasewatch.registry.predictions import DEFAULT_PANELS, snapshot

    releases = snapshot(session, DEFAULT_PANELS, today)
    keys = sorted({k for r in releases for k in r.scores})
    benchmarks, pairs = saturation_report(releases, keys, today)
    history = {b.benchmark: [(h.date, h.spread) for h in b.history] for b in benchmarks}
    return figures.spread_history(history) + _table(
        ["old axis", "new axis", "σ", "advice"],
        [[p.old, p.new, "" if p.sigma is None else f"{p.sigma:.3f}", p.advice] for p in pairs],
    )


def _phase_section(session: Session, findings: list[str], figures: Any) -> str:
    from phasewatch.models.phase import nc_quadratic_bootstrap
    from phasewatch.registry.phase import SOURCED, family_points, pooled_points

    families = family_points(session)
    sourced = nc_quadratic_bootstrap(pooled_points(session, ["Pythia-deduped", "Llama-1", "Llama-2"], SOURCED), 1000, 42)
    paper = nc_quadratic_bootstrap(pooled_points(session, ["Pythia", "Llama-1", "Llama-2"], "lying-nc-14"), 10_000, 42, legacy_rng=True)
    findings.append(f"Critical size N_c (quadratic vertex): the paper's 14 points give {paper.median_billions:.2f}B "
                    f"[{paper.ci95_billions[0]:.2f}, {paper.ci95_billions[1]:.2f}] (its script, replayed); sourced "
                    f"deduplicated Pythia + Llama give {sourced.median_billions:.2f}B "
                    f"[{sourced.ci95_billions[0]:.2f}, {sourced.ci95_billions[1]:.2f}].")  # fmt: skip
    data = {name: [(p.params, p.reasoning, p.truthfulness) for p in fp.points] for name, fp in families.items() if len(fp.points) >= 3}
    return (f"<p>TruthfulQA MC2 against size for each family of {SOURCED} with at least three models; the shaded band is "
            f"the 95 % bootstrap interval of N_c from deduplicated Pythia + Llama-1 + Llama-2.</p>"
            + figures.phase_map(data, sourced.ci95_billions))  # fmt: skip


def _steering_section(session: Session, findings: list[str], figures: Any) -> str:
    results = session.execute(
        select(SteeringResult, SteeringJob, Model.name).join(SteeringJob, SteeringResult.job_id == SteeringJob.id)
        .outerjoin(Model, Model.id == SteeringResult.model_id).order_by(SteeringResult.id)
    ).all()  # fmt: skip
    findings.append(f"Steering: {len(results)} stored evaluation(s).")
    if not results:
        return "<p>No steering evaluation stored yet: log an open-weight release with <code>--hf-repo</code> and run <code>phasewatch worker</code>.</p>"
    out = []
    for result, job, model in results:
        report = result.report
        title = f"{model or job.hf_repo}: layer {report['layer']} of {report['layers']}, probe accuracy {report['held_out_probe_accuracy']:.2f}"
        out.append(figures.steering_sweep(report["sweep"], title))
        if report.get("mc_baseline"):
            b, s = report["mc_baseline"], report["mc_steered"]
            out.append(_table(["TruthfulQA", "MC1", "MC2"], [["unsteered", f"{b['mc1']:.3f}", f"{b['mc2']:.3f}"],
                                                            ["steered", f"{s['mc1']:.3f}", f"{s['mc2']:.3f}"]]))  # fmt: skip
    return "".join(out)


def _provenance_section(session: Session) -> str:
    from phasewatch.registry.queries import list_panels

    return "<p>Every observation carries its source URL; see registry/data/PROVENANCE.md.</p>" + _table(
        ["panel", "models", "observations", "source", "licence"],
        [[p.name, p.models, p.observations, p.source, p.licence] for p in list_panels(session)],
    )


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;line-height:1.45}
header{background:#1f2d3d;color:#fff;padding:12px 16px}header h1{margin:0;font-size:1.3em}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;padding:8px 16px;background:#eef2f6;position:sticky;top:0}
nav a{color:#1f4e79;text-decoration:none;font-size:.9em}
main{max-width:1100px;margin:0 auto;padding:0 16px 40px}section{margin-top:28px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px}svg{max-width:100%;height:auto}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f6f8fa}
table.sortable th{cursor:pointer}
"""

SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
    rows.sort(function(a, b){
      var x = a.cells[col].textContent, y = b.cells[col].textContent, nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""

ERROR_TRAP = """
window.__errors = 0;
window.addEventListener('error', function(){ window.__errors++; document.documentElement.setAttribute('data-errors', window.__errors); });
var __ce = console.error; console.error = function(){ window.__errors++; document.documentElement.setAttribute('data-errors', window.__errors); __ce.apply(console, arguments); };
document.documentElement.setAttribute('data-errors', '0');
"""


def _page(parts: dict[str, str], today: dt.date) -> str:
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in SECTIONS)
    body = "".join(f'<section id="{key}"><h2>{_e(title)}</h2>{parts[key]}</section>' for key, title in SECTIONS)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>phasewatch report {today.isoformat()}</title><script>{ERROR_TRAP}</script><style>{STYLE}</style></head>"
        f"<body><header><h1>phasewatch: capability coupling, predictions, phases, steering</h1>"
        f"<div>generated {today.isoformat()} from the registry</div></header><nav>{nav}</nav><main>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )
