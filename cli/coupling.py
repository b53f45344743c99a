"""Coupling commands: ``fit``, ``fits``, ``hfield``, ``predict``, ``coverage``."""

from __future__ import annotations

from typing import Any

import typer

from phasewatch.cli.common import JSON_OPTION, checked, console, finite, new_app, print_json, registry_session, table
from phasewatch.registry.enums import CoverageMethod, Link, Pooling, Sampler

fits_app = new_app("List and inspect stored coupling fits.")

PANEL_OPTION = typer.Option(
    ["growing-pains-34"], "--panel", callback=checked("PANEL"), help="Panel(s) to fit (repeatable; their union)."
)


def _interval(value: dict[str, Any] | Any, digits: int = 2) -> str:
    v = value if isinstance(value, dict) else vars(value)
    return f"{v['mean']:+.{digits}f} [{v['low']:+.{digits}f}, {v['high']:+.{digits}f}]"


def fit(
    panel: list[str] = PANEL_OPTION,
    x: str = typer.Option("swe_bench_verified", "--x", callback=checked("KEY"), help="Benchmark on the x axis."),
    y: str = typer.Option("gpqa_diamond", "--y", callback=checked("KEY"), help="Benchmark on the y axis."),
    seed: int = typer.Option(1, "--seed", help="Sampler seed."),
    draws: int = typer.Option(2000, "--draws", min=100, help="Draws per chain after tuning."),
    tune: int = typer.Option(1000, "--tune", min=100, help="Tuning draws per chain."),
    chains: int = typer.Option(4, "--chains", min=2, help="Chains (at least 2, for r_hat)."),
    sampler: Sampler = typer.Option(
        Sampler.NUTPIE, "--sampler", help="nutpie (compiled, default) or pymc (PyMC's own NUTS)."
    ),
    target_accept: float = typer.Option(
        0.99, "--target-accept", callback=finite, min=0.5, max=0.999, help="NUTS target acceptance rate."
    ),
    accept_unconverged: bool = typer.Option(
        False, "--accept-unconverged", help="Use the fit for verdicts even if its diagnostics fail."
    ),
    link: Link = typer.Option(
        Link.LOGIT, "--link", help="logit (bounded, the default) or identity (linear in pp, the paper's)."
    ),
    pooling: Pooling = typer.Option(
        Pooling.PARTIAL, "--pooling", help="partial (hierarchical), complete (one line) or none (per lab)."
    ),
    retry: bool = typer.Option(
        True, "--retry/--no-retry", help="If the fit misses its convergence gate, refit once with stronger settings."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Fit the Bayesian coupling model (PyMC + nutpie) and store it; only the default
    model (bounded, hierarchical) gives verdicts, the others are for `fits compare`.

    Exit code 4 when no fit passed the convergence gate (nothing is used for verdicts)."""
    from phasewatch.models.coupling import LINKS, POOLINGS, SAMPLERS, ModelSpec, SamplerSettings
    from phasewatch.registry.db import open_registry
    from phasewatch.registry.errors import InvalidInputError, UnconvergedFitError

    if sampler not in SAMPLERS:
        raise InvalidInputError(f"unknown sampler {sampler!r}", f"use one of {', '.join(SAMPLERS)}")
    if link not in LINKS or pooling not in POOLINGS:
        raise InvalidInputError(
            f"unknown model --link {link} --pooling {pooling}",
            f"use --link {'|'.join(LINKS)} and --pooling {'|'.join(POOLINGS)}",
        )
    engine = open_registry()
    settings = SamplerSettings(
        draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, target_accept=target_accept
    )
    result = _run_fit_with_progress(
        engine, panel, x, y, settings, ModelSpec(link, pooling), accept_unconverged, quiet=json_
    )
    if not result.accepted and retry:
        settings = stronger(settings)
        if not json_:
            _print_fit(result)
            console().print(
                f"fit #{result.id} missed the convergence gate; retrying once with stronger settings: "
                f"--draws {settings.draws} --tune {settings.tune} --target-accept {settings.target_accept}",
                style="bold yellow",
                markup=False,
            )
        result = _run_fit_with_progress(
            engine, panel, x, y, settings, ModelSpec(link, pooling), accept_unconverged, quiet=json_
        )
    if json_:
        print_json(vars(result))
    else:
        _print_fit(result)
    if not result.accepted:
        raise UnconvergedFitError(
            f"fit #{result.id} did not pass the convergence gate ({'; '.join(result.problems)}), so no fit is used "
            "for verdicts",
            f"inspect it with `phasewatch fits show {result.id}`, then refit with more draws, e.g. "
            f"`phasewatch fit --draws {settings.draws * 2} --tune {settings.tune * 2} --target-accept 0.995`",
        )


def stronger(settings: Any) -> Any:
    """The one retry's settings: twice the draws and tuning, smaller steps."""
    from dataclasses import replace

    return replace(
        settings, draws=settings.draws * 2, tune=settings.tune * 2, target_accept=max(settings.target_accept, 0.995)
    )


def _run_fit_with_progress(
    engine: Any, panel: list[str], x: str, y: str, settings: Any, spec: Any, accept_unconverged: bool, *, quiet: bool
) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from phasewatch.registry.fits import run_fit

    draws, tune, chains = settings.draws, settings.tune, settings.chains
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console() if not quiet else None,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task("reading the panel", total=(draws + tune) * chains)
        return run_fit(
            engine,
            tuple(panel),
            x,
            y,
            settings,
            accept_unconverged=accept_unconverged,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            stage=lambda text: bar.update(task, description=text),
            spec=spec,
        )


def _print_fit(result: Any) -> None:
    s, ols = result.summary, result.ols
    status = "converged" if result.converged else "DID NOT CONVERGE: " + "; ".join(result.problems)
    console().print(
        f"fit #{result.id}: {result.y} on {result.x}, panel(s) {result.panels}, {result.n_models} models "
        f"({result.elapsed_s:.1f} s): {status}",
        markup=False,
    )
    from phasewatch.models.coupling import ModelSpec
    from phasewatch.registry.fits import METHOD

    spec = ModelSpec.from_method(result.spec.get("method", "hierarchical-studentt-v1"))
    scale = "logit scale" if spec.link == "logit" else "pp"
    console().print(
        f"model: {spec.label}"
        + (
            ""
            if result.spec.get("method") == METHOD
            else " (not the default model: stored for `fits compare`, never used for verdicts)"
        ),
        markup=False,
    )
    if not result.accepted:
        console().print("this fit is NOT used for verdicts (pass --accept-unconverged to insist)", style="bold red")
    d = result.diagnostics
    table(
        "diagnostics",
        ("max r_hat", "min bulk ESS", "min tail ESS", "divergences", "chains x draws"),
        [
            (
                f"{d['max_r_hat']:.4f}",
                f"{d['min_ess_bulk']:.0f}",
                f"{d['min_ess_tail']:.0f}",
                d["divergences"],
                f"{d['chains']} x {d['draws']}",
            )
        ],
    )
    table(
        "population trend",
        ("quantity", "estimate", "what it is"),
        [
            (
                "OLS slope",
                f"{ols['slope']:.4f} [{ols['slope_ci95'][0]:.3f}, {ols['slope_ci95'][1]:.3f}]",
                "t-based 95 % CI",
            ),
            (
                "OLS intercept",
                f"{ols['intercept']:.2f} [{ols['intercept_ci95'][0]:.1f}, {ols['intercept_ci95'][1]:.1f}]",
                "t-based 95 % CI",
            ),
            ("OLS r", f"{ols['r']:+.4f} (p = {ols['p_value']:.1e})", "Pearson correlation"),
            ("paper's band", f"±{ols['paper_band']:.2f} pp", "1.96 x RMS residual (ignores parameter uncertainty)"),
            (
                "t-based PI half-width",
                f"±{_pi_half(ols):.2f} pp at mean x",
                "95 % prediction interval for a new release",
            ),
            ("posterior slope", _interval(s["population_slope"], 3), f"{spec.label}, {scale}, 95 % HDI"),
            ("posterior intercept", _interval(s["population_intercept"], 1), f"at x = 0, {scale}, 95 % HDI"),
            ("posterior r", _interval(s["r"], 3), "posterior-predictive Pearson r, 95 % HDI"),
            ("residual sd", _interval(s["noise_sd"], 2), f"Student-t scale, {scale}"),
        ],
    )
    table(
        f"per-lab coupling (slope dy/dx, {scale}; mean h in pp)",
        ("lab", "n", "slope, 95 % HDI", "OLS slope (paper's method)", "mean h (pp), 95 % HDI"),
        [
            (
                lab["lab"],
                lab["n_models"],
                _interval(lab["slope"], 3),
                f"{lab['ols_slope']:.3f}" if lab["ols_slope"] is not None else "",
                _interval(lab["mean_h"], 1),
            )
            for lab in s["labs"]
        ],
    )


def _pi_half(ols: dict[str, Any]) -> float:
    from scipy import stats

    t = stats.t.ppf(0.975, ols["n"] - 2)
    return float(t * ols["residual_sd"] * (1 + 1 / ols["n"]) ** 0.5)


@fits_app.command("list")
def fits_list(json_: bool = JSON_OPTION) -> None:
    """List stored fits, newest first, with their diagnostics."""
    from phasewatch.registry.fits import list_fits

    with registry_session() as session:
        fits = list_fits(session)
    if json_:
        print_json([{k: v for k, v in vars(f).items() if k != "summary"} for f in fits])
        return
    table(
        f"{len(fits)} fits",
        ("id", "created", "panels", "y ~ x", "n", "max r_hat", "divergences", "used for verdicts"),
        [
            (
                f.id,
                f.created_at,
                f.panels,
                f"{f.y} ~ {f.x}",
                f.n_models,
                f"{f.diagnostics['max_r_hat']:.4f}",
                f.diagnostics["divergences"],
                f.accepted,
            )
            for f in fits
        ],
    )


@fits_app.command("show")
def fits_show(
    fit_id: int | None = typer.Argument(None, help="Fit id (default: the latest accepted fit)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show a fit: spec, data hash, versions, diagnostics, trend and per-lab slopes."""
    from phasewatch.registry.fits import show_fit

    with registry_session() as session:
        result = show_fit(session, fit_id)
    if json_:
        print_json(vars(result))
        return
    _print_fit(result)
    table(
        "provenance",
        ("", ""),
        [
            ("data hash", result.data_hash),
            ("seed", result.seed),
            ("spec", str(result.spec)),
            ("versions", ", ".join(f"{k} {v}" for k, v in result.versions.items())),
        ],
    )


def hfield(
    lab: str | None = typer.Option(None, "--lab", callback=checked("NAME"), help="Only this lab."),
    panel: str | None = typer.Option(
        None, "--panel", callback=checked("PANEL"), help="Models of this panel (may be outside the fit)."
    ),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: latest accepted)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Every release's h-field (y minus the population trend) with its 95 % HDI: the fit's
    models and every release with both scores as of today (marked out of fit)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.hfield import hfield_rows

    with registry_session() as session:
        fit_used, rows = hfield_rows(session, lab=lab, panel=panel, fit_id=fit_id, as_of=system_clock().today())
    if json_:
        print_json({"fit_id": fit_used, "models": [vars(r) | {"h": vars(r.h)} for r in rows]})
        return
    table(
        f"h-field against fit #{fit_used} ({len(rows)} models; + = y-rich)",
        ("model", "lab", "date", "x", "y", "h (pp), 95 % HDI", "in fit"),
        [(r.name, r.lab, r.date, r.x, r.y, _interval(vars(r.h), 1), r.in_fit) for r in rows],
    )


def predict(
    lab: str = typer.Option(
        ..., "--lab", callback=checked("NAME"), help="The lab (an unknown lab is predicted as a new lab)."
    ),
    x_score: float = typer.Option(
        ..., "--x-score", callback=finite, help="The release's x score (SWE-bench Verified by default)."
    ),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: latest accepted)."),
    json_: bool = JSON_OPTION,
) -> None:
    """95 % predictive interval of y for a hypothetical release (no refit, no PyMC)."""
    from phasewatch.registry.fits import predict as run_predict

    with registry_session() as session:
        prediction = run_predict(session, lab, x_score, fit_id)
    if json_:
        print_json(vars(prediction))
        return
    p = prediction.predicted
    who = (
        prediction.lab
        if prediction.lab_known
        else f"{prediction.lab} (a lab the fit has not seen: effects drawn from the hierarchy)"
    )
    print(
        f"fit #{prediction.fit_id}: a {who} release at x = {prediction.x:g} is predicted at "
        f"{p['mean']:.1f}, 95 % interval [{p['low']:.1f}, {p['high']:.1f}]"
    )


def coverage(
    method: CoverageMethod = typer.Argument(..., help="loo (leave-one-out), lfo (leave-future-out) or holdout."),
    panel: list[str] = PANEL_OPTION,
    held_out: list[str] = typer.Option(
        [], "--held-out", callback=checked("PANEL"), help="Panel(s) to predict out of sample (holdout)."
    ),
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        callback=checked("KEY"),
        help="lfo: fit on releases before this date (default: last quarter held out).",
    ),
    draws: int = typer.Option(2000, "--draws", min=100, help="Draws per chain for each refit."),
    tune: int = typer.Option(1000, "--tune", min=100, help="Tuning draws per chain for each refit."),
    target_accept: float = typer.Option(
        0.99, "--target-accept", callback=finite, min=0.5, max=0.999, help="NUTS target acceptance rate."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Check the 95 % predictive intervals out of sample and store the coverage."""
    from rich.progress import Progress

    from phasewatch.models.coupling import SamplerSettings
    from phasewatch.registry.coverage import run_coverage
    from phasewatch.registry.db import open_registry

    engine = open_registry()
    with Progress(console=console(), transient=True, disable=json_) as bar:
        task = bar.add_task(f"coverage ({method})", total=None)
        report = run_coverage(
            engine,
            method,
            tuple(panel),
            held_out=tuple(held_out),
            cutoff=cutoff,
            settings=SamplerSettings(draws=draws, tune=tune, target_accept=target_accept),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if json_:
        print_json(vars(report))
        return
    from phasewatch.models.comparison import clopper_pearson

    low, high = clopper_pearson(report.inside, report.n)
    console().print(
        f"{report.method} on {report.panels}: {report.inside}/{report.n} inside the 95 % interval "
        f"({report.share:.1%}, 95 % binomial CI [{low:.1%}, {high:.1%}]; nominal {report.nominal:.0%})",
        markup=False,
    )
    w = report.worst_refit
    console().print(
        f"{w['refits']} refit(s), worst: max r_hat {w['max_r_hat']:.3f}, min bulk ESS {w['min_ess_bulk']:.0f}, "
        f"{w['divergences']} divergences in all",
        markup=False,
    )
    table(
        None,
        ("model", "lab", "x", "y", "95 % predictive interval", "inside"),
        [
            (
                d["name"],
                d["lab"],
                d["x"],
                d["y"],
                f"[{d['predicted']['low']:.1f}, {d['predicted']['high']:.1f}]",
                d["inside"],
            )
            for d in report.details
        ],
    )


@fits_app.command("compare")
def fits_compare(
    panel: list[str] = PANEL_OPTION,
    x: str = typer.Option("swe_bench_verified", "--x", callback=checked("KEY"), help="Benchmark on the x axis."),
    y: str = typer.Option("gpqa_diamond", "--y", callback=checked("KEY"), help="Benchmark on the y axis."),
    seed: int = typer.Option(1, "--seed", help="Sampler seed for fits not yet stored."),
    json_: bool = JSON_OPTION,
) -> None:
    """Compare linear vs bounded and pooled vs hierarchical vs unpooled models by
    PSIS-LOO (exact refits for Pareto k > 0.7), with stacking weights and LOO-PIT coverage."""
    from dataclasses import asdict

    from rich.progress import Progress

    from phasewatch.models.coupling import SamplerSettings
    from phasewatch.registry.comparison import compare_fits
    from phasewatch.registry.db import open_registry

    engine = open_registry()
    with Progress(console=console(), transient=True, disable=json_) as bar:
        task = bar.add_task("comparing models", total=None)
        result = compare_fits(
            engine,
            tuple(panel),
            x,
            y,
            SamplerSettings(seed=seed),
            stage=lambda text: bar.update(task, description=text),
        )
    if json_:
        print_json({**asdict(result), "verdict": result.verdict})
        return

    def cover(row: Any) -> str:
        return "  ".join(f"{c.nominal:.0%}: {c.inside}/{c.n} [{c.low:.2f}, {c.high:.2f}]" for c in row.coverage)

    table(
        f"model comparison on {result.panels} ({result.n_models} models, {result.y} ~ {result.x}); PSIS-LOO, log score",
        (
            "rank",
            "model",
            "fit",
            "ELPD ± SE",
            "ΔELPD ± SE",
            "p_loo",
            "stacking weight",
            "k > 0.7 (refitted)",
            "LOO-PIT coverage 50/80/95 % [95 % binomial CI]",
        ),
        [
            (
                r.rank,
                r.model + ("" if r.converged else " (NOT converged)"),
                f"#{r.fit_id}",
                f"{r.elpd:.1f} ± {r.se:.1f}",
                f"{r.elpd_diff:.1f} ± {r.diff_se:.1f}",
                f"{r.p_loo:.1f}",
                f"{r.weight:.2f}",
                f"{r.high_k} ({r.refitted})",
                cover(r),
            )
            for r in result.rows
        ],
    )
    console().print(result.verdict, markup=False)


@fits_app.command("matrix")
def fits_matrix(
    min_models: int = typer.Option(
        10, "--min-models", min=5, help="Only benchmarks reported by at least this many models."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """The coupling matrix of the frontier benchmarks: pairwise-complete correlation
    (logit scale) with a 95 % interval and the number of models behind each cell."""
    from dataclasses import asdict

    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.comparison import benchmark_matrix

    with registry_session() as session:
        matrix = benchmark_matrix(session, as_of=system_clock().today(), min_models=min_models)
    if json_:
        print_json(
            {"benchmarks": matrix.benchmarks, "n_models": matrix.n_models, "cells": [asdict(c) for c in matrix.cells]}
        )
        return

    def show(x: str, y: str) -> str:
        if x == y:
            return "—"
        c = matrix.cell(x, y)
        return f"n={c.n}" if c.r is None else f"{c.r.mean:+.2f} [{c.r.low:+.2f}, {c.r.high:+.2f}] n={c.n}"

    table(
        "coupling matrix: Pearson r on the logit scale, 95 % Fisher-z interval, models with both (as of today; "
        "cells with n < 5 left empty)",
        ("", *matrix.benchmarks),
        [(y, *(show(x, y) for x in matrix.benchmarks)) for y in matrix.benchmarks],
    )
