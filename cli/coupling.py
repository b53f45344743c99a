"""Coupling commands: ``fit``, ``fits``, ``hfield``, ``predict``, ``coverage``."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    article,
    checked,
    console,
    emit,
    finite,
    new_app,
    output_format,
    plural,
    print_csv,
    print_json,
    table,
)
from phasewatch.registry.enums import CoverageMethod, Link, Pooling, Sampler

if TYPE_CHECKING:
    from sqlalchemy import Engine

fits_app = new_app("List and inspect stored coupling fits.")

FITS_LIST_WIDE = 150  # every column of `fits list` whole; narrower terminals get the ones that decide what to run

PANEL_OPTION = typer.Option(
    ["growing-pains-34"], "--panel", callback=checked("PANEL"), help="Panel(s) to fit (repeatable; their union)."
)
FIT_PANEL_OPTION = typer.Option(
    ["frontier"],
    "--panel",
    callback=checked("PANEL"),
    help="The live panel frontier (default; frontier@YYYY-MM-DD as known then) or frozen panels "
    "(repeatable; their union); growing-pains-34 reproduces the paper.",
)


def _registry() -> AbstractContextManager[Engine]:
    """The configured registry's engine for one service call, disposed after it."""
    from phasewatch.cli.common import registry_engine

    return registry_engine()


def _interval(value: Any, digits: int = 2) -> str:
    """An :class:`Interval` as "mean [low, high]"."""
    return f"{value.mean:+.{digits}f} [{value.low:+.{digits}f}, {value.high:+.{digits}f}]"


def fit(
    panel: list[str] = FIT_PANEL_OPTION,
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
    server: bool | None = typer.Option(
        None,
        "--server/--no-server",
        help="Sample in the local fit server (started on demand; keeps compiled models) or in this process. "
        "Default: the server, unless PHASEWATCH_FIT_SERVER=off.",
        show_default=False,
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Fit the Bayesian coupling model (PyMC + nutpie) and store it; only the default
    model (bounded, hierarchical) gives verdicts, the others are for `fits compare`.

    Exit code 4 when no fit passed the convergence gate (nothing is used for verdicts)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from phasewatch.models.coupling import LINKS, POOLINGS, SAMPLERS, ModelSpec, SamplerSettings
    from phasewatch.registry.errors import InvalidInputError
    from phasewatch.services.fitting import FitRequest
    from phasewatch.services.fitting import fit as fit_service

    if sampler not in SAMPLERS:
        raise InvalidInputError(f"unknown sampler {sampler!r}", f"use one of {', '.join(SAMPLERS)}")
    if link not in LINKS or pooling not in POOLINGS:
        raise InvalidInputError(
            f"unknown model --link {link} --pooling {pooling}",
            f"use --link {'|'.join(LINKS)} and --pooling {'|'.join(POOLINGS)}",
        )
    request = FitRequest(
        panels=tuple(panel),
        x=x,
        y=y,
        settings=SamplerSettings(
            draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, target_accept=target_accept
        ),
        spec=ModelSpec(link, pooling),
        accept_unconverged=accept_unconverged,
    )
    with (
        _registry() as engine,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console() if not json_ else None,
            transient=True,
            disable=json_,
        ) as bar,
    ):
        task = bar.add_task("reading the panel", total=(draws + tune) * chains)

        def on_retry(first: Any, settings: Any) -> None:
            if json_:
                return
            bar.stop()
            _print_fit(first)
            console().print(
                f"fit #{first.id} missed the convergence gate; retrying once with stronger settings: "
                f"--draws {settings.draws} --tune {settings.tune} --target-accept {settings.target_accept}",
                style="bold yellow",
                markup=False,
            )
            bar.reset(task, description="reading the panel", total=(settings.draws + settings.tune) * chains)
            bar.start()

        attempts = fit_service(
            engine,
            request,
            retry=retry,
            use_server=server,
            note=lambda text: print(text, file=sys.stderr),
            on_retry=on_retry,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            stage=lambda text: bar.update(task, description=text),
        )
    result = attempts.final
    if json_:
        print_json(vars(result))
    else:
        _print_fit(result)
    error = attempts.unconverged_error()
    if error is not None:
        raise error


def _print_fit(result: Any) -> None:
    """Render a fit: a just-stored :class:`FitResult` or a read-back :class:`StoredFit`."""
    from phasewatch.registry.fits import StoredFit, typed_result

    fit = result if isinstance(result, StoredFit) else typed_result(result)
    s, ols, d = fit.summary, fit.ols, fit.diagnostics
    status = "converged" if fit.converged else "DID NOT CONVERGE: " + "; ".join(fit.problems)
    via = getattr(result, "via", None)
    console().print(
        f"fit #{fit.id}: {fit.y} on {fit.x}, panel(s) {','.join(fit.panels)}, {fit.n_models} models "
        f"({fit.elapsed_s:.1f} s{', ' + via if via else ''}): {status}",
        markup=False,
    )
    console().print(
        f"model: {fit.spec.label}"
        + (
            ""
            if fit.is_default_model
            else " (not the default model: stored for `fits compare`, never used for verdicts)"
        ),
        markup=False,
    )
    if not fit.accepted:
        console().print("this fit is NOT used for verdicts (pass --accept-unconverged to insist)", style="bold red")
    table(
        "diagnostics",
        ("max r_hat", "min bulk ESS", "min tail ESS", "divergences", "chains x draws"),
        [
            (
                f"{d.max_r_hat:.4f}",
                f"{d.min_ess_bulk:.0f}",
                f"{d.min_ess_tail:.0f}",
                d.divergences,
                f"{d.chains} x {d.draws}",
            )
        ],
    )
    low, high = ols.prediction_interval(ols.x_mean)
    table(
        "population trend",
        ("quantity", "estimate", "what it is"),
        [
            ("OLS slope", f"{ols.slope:.4f} [{ols.slope_ci95[0]:.3f}, {ols.slope_ci95[1]:.3f}]", "t-based 95 % CI"),
            (
                "OLS intercept",
                f"{ols.intercept:.2f} [{ols.intercept_ci95[0]:.1f}, {ols.intercept_ci95[1]:.1f}]",
                "t-based 95 % CI",
            ),
            ("OLS r", f"{ols.r:+.4f} (p = {ols.p_value:.1e})", "Pearson correlation"),
            ("paper's band", f"±{ols.paper_band:.2f} pp", "1.96 x RMS residual (ignores parameter uncertainty)"),
            (
                "t-based PI half-width",
                f"±{(high - low) / 2:.2f} pp at mean x",
                "95 % prediction interval for a new release",
            ),
            ("posterior slope", _interval(s.population_slope, 3), f"{fit.spec.label}, {fit.scale}, 95 % HDI"),
            ("posterior intercept", _interval(s.population_intercept, 1), f"at x = 0, {fit.scale}, 95 % HDI"),
            ("posterior r", _interval(s.r, 3), "posterior-predictive Pearson r, 95 % HDI"),
            ("residual sd", _interval(s.noise_sd, 2), f"Student-t scale, {fit.scale}"),
        ],
    )
    table(
        f"per-lab coupling (slope dy/dx, {fit.scale}; mean h in pp)",
        ("lab", "n", "slope, 95 % HDI", "OLS slope (paper's method)", "mean h (pp), 95 % HDI"),
        [
            (
                lab.lab,
                lab.n_models,
                _interval(lab.slope, 3),
                f"{lab.ols_slope:.3f}" if lab.ols_slope is not None else "",
                _interval(lab.mean_h, 1),
            )
            for lab in s.labs
        ],
    )


def _staleness(stale: Any) -> dict[str, Any]:
    return {
        "frozen_panel": stale.frozen,
        "releases_since": len(stale.unseen),
        "unseen": stale.unseen,
        "command": stale.command if stale.stale else None,
    }


@fits_app.command("list")
def fits_list(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """List stored fits, newest first, with their diagnostics and how many releases
    arrived since each that its panel would now hold (and the command that takes them in)."""
    from phasewatch.services.fits import list_fits

    with _registry() as engine:
        listings = list_fits(engine)
    data = [
        {k: v for k, v in f.fit.as_dict().items() if k != "summary"} | {"staleness": _staleness(f.staleness)}
        for f in listings
    ]
    columns: tuple[str, ...] = (
        "id",
        "created",
        "panels",
        "model",
        "y ~ x",
        "n",
        "max r_hat",
        "divergences",
        "used for verdicts",
        "releases since",
        "to take them in",
    )
    rows: list[tuple[Any, ...]] = [
        (
            f.fit.id,
            f.fit.created_at,
            ",".join(f.fit.panels),
            f.fit.spec.label,
            f"{f.fit.y} ~ {f.fit.x}",
            f.fit.n_models,
            f"{f.fit.diagnostics.max_r_hat:.4f}",
            f.fit.diagnostics.divergences,
            f.fit.accepted,
            len(f.staleness.unseen),
            f.staleness.command if f.staleness.stale else "current",
        )
        for f in listings
    ]
    title = plural(len(listings), "fit")
    if output_format(format_, json_) == "table" and console().width < FITS_LIST_WIDE:
        # a narrow terminal keeps whole values: the day, not the time; model and benchmarks via `fits show`
        title += f" (model and benchmarks: `fits show ID`, --format csv, or a terminal {FITS_LIST_WIDE} columns wide)"
        keep = [0, 1, 2, 5, 6, 7, 8, 9, 10]
        columns = tuple(columns[i] for i in keep)
        rows = [tuple(str(r[i])[:10] if i == 1 else r[i] for i in keep) for r in rows]
    emit(format_, title, columns, rows, json_=json_, data=data)


@fits_app.command("show")
def fits_show(
    fit_id: int | None = typer.Argument(None, help="Fit id (default: the latest accepted fit)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Show a fit: spec, data hash, versions, diagnostics, trend, per-lab slopes and staleness."""
    from phasewatch.services.fits import show_fit

    with _registry() as engine:
        shown = show_fit(engine, fit_id)
    fit = shown.fit
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json(fit.as_dict() | {"staleness": _staleness(shown.staleness)})
        return
    if chosen == "csv":
        s = fit.summary
        rows = [
            (name, interval.mean, interval.low, interval.high)
            for name, interval in (
                ("population slope", s.population_slope),
                ("population intercept", s.population_intercept),
                ("r", s.r),
                ("residual sd", s.noise_sd),
                ("nu", s.nu),
                ("lab intercept sd", s.lab_intercept_sd),
                ("lab slope sd", s.lab_slope_sd),
            )
        ]
        rows += [(f"slope: {lab.lab}", lab.slope.mean, lab.slope.low, lab.slope.high) for lab in s.labs]
        rows += [(f"mean h: {lab.lab}", lab.mean_h.mean, lab.mean_h.low, lab.mean_h.high) for lab in s.labs]
        print_csv(("quantity", "mean", "low", "high"), rows)
        return
    _print_fit(fit)
    table(
        "provenance",
        ("", ""),
        [
            ("data hash", fit.data_hash),
            ("seed", fit.seed),
            (
                "spec",
                f"{fit.spec.method}; sampler {fit.settings.sampler}, {fit.settings.chains} chains x "
                f"({fit.settings.tune} tune + {fit.settings.draws} draws), target accept {fit.settings.target_accept}",
            ),
            ("versions", ", ".join(f"{k} {v}" for k, v in fit.versions.items())),
        ],
    )
    console().print(shown.staleness.sentence(), markup=False)


def hfield(
    lab: str | None = typer.Option(None, "--lab", callback=checked("NAME"), help="Only this lab."),
    panel: str | None = typer.Option(
        None, "--panel", callback=checked("PANEL"), help="Models of this panel (may be outside the fit)."
    ),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: latest accepted)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Every release's h-field (y minus the population trend) with its 95 % HDI: the fit's
    models and every release with both scores as of today (marked out of fit)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.fits import hfield as hfield_of

    with _registry() as engine:
        result = hfield_of(engine, system_clock(), lab=lab, panel=panel, fit_id=fit_id)
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json({"fit_id": result.fit_id, "models": [vars(r) | {"h": vars(r.h)} for r in result.rows]})
    elif chosen == "csv":
        print_csv(
            ("model", "lab", "date", "x", "y", "h", "h_low", "h_high", "in_fit"),
            [(r.name, r.lab, r.date, r.x, r.y, r.h.mean, r.h.low, r.h.high, r.in_fit) for r in result.rows],
        )
    else:
        table(
            f"h-field against fit #{result.fit_id} ({plural(len(result.rows), 'model')}; + = y-rich)",
            ("model", "lab", "date", "x", "y", "h (pp), 95 % HDI", "in fit"),
            [(r.name, r.lab, r.date, r.x, r.y, _interval(r.h, 1), r.in_fit) for r in result.rows],
        )


def predict(
    lab: str = typer.Option(
        ..., "--lab", callback=checked("NAME"), help="The lab (an unknown lab is predicted as a new lab)."
    ),
    x_score: float = typer.Option(
        ..., "--x-score", callback=finite, help="The release's x score (SWE-bench Verified by default)."
    ),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: latest accepted)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """95 % predictive interval of y for a hypothetical release (no refit, no PyMC)."""
    from phasewatch.services.fits import predict as predict_y

    with _registry() as engine:
        p = predict_y(engine, lab, x_score, fit_id)
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json(vars(p) | {"predicted": vars(p.predicted)})
    elif chosen == "csv":
        print_csv(
            ("fit_id", "lab", "lab_known", "x_benchmark", "x", "y_benchmark", "mean", "low", "high", "prob"),
            [
                (
                    p.fit_id,
                    p.lab,
                    p.lab_known,
                    p.x_benchmark,
                    p.x,
                    p.y_benchmark,
                    p.predicted.mean,
                    p.predicted.low,
                    p.predicted.high,
                    p.predicted.prob,
                )
            ],
        )
    else:
        who = p.lab if p.lab_known else f"{p.lab} (a lab the fit has not seen: effects drawn from the hierarchy)"
        print(
            f"fit #{p.fit_id}: {article(who)} {who} release at x = {p.x:g} is predicted at "
            f"{p.predicted.mean:.1f}, 95 % interval [{p.predicted.low:.1f}, {p.predicted.high:.1f}]"
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
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Check the 95 % predictive intervals out of sample and store the coverage."""
    from rich.progress import Progress

    from phasewatch.models.coupling import SamplerSettings
    from phasewatch.services.coverage import run_coverage

    chosen = output_format(format_, json_)
    with _registry() as engine, Progress(console=console(), transient=True, disable=chosen != "table") as bar:
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
    columns = ("model", "lab", "x", "y", "predicted_low", "predicted_high", "inside")
    rows = [(c.name, c.lab, c.x, c.y, c.predicted.low, c.predicted.high, c.inside) for c in report.details]
    if chosen != "table":
        emit(chosen, None, columns, rows, data=report.as_dict())
        return
    low, high = report.share_interval
    console().print(
        f"{report.method} on {report.panels}: {report.inside}/{report.n} inside the 95 % interval "
        f"({report.share:.1%}, 95 % binomial CI [{low:.1%}, {high:.1%}]; nominal {report.nominal:.0%})",
        markup=False,
    )
    w = report.worst_refit
    console().print(
        f"{plural(int(w['refits']), 'refit')}, worst: max r_hat {w['max_r_hat']:.3f}, "
        f"min bulk ESS {w['min_ess_bulk']:.0f}, {plural(int(w['divergences']), 'divergence')} in all",
        markup=False,
    )
    table(
        None,
        ("model", "lab", "x", "y", "95 % predictive interval", "inside"),
        [
            (c.name, c.lab, c.x, c.y, f"[{c.predicted.low:.1f}, {c.predicted.high:.1f}]", c.inside)
            for c in report.details
        ],
    )


@fits_app.command("compare")
def fits_compare(
    panel: list[str] = PANEL_OPTION,
    x: str = typer.Option("swe_bench_verified", "--x", callback=checked("KEY"), help="Benchmark on the x axis."),
    y: str = typer.Option("gpqa_diamond", "--y", callback=checked("KEY"), help="Benchmark on the y axis."),
    seed: int = typer.Option(1, "--seed", help="Sampler seed for fits not yet stored."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Compare linear vs bounded and pooled vs hierarchical vs unpooled models by
    PSIS-LOO (exact refits for Pareto k > 0.7), with stacking weights and LOO-PIT coverage."""
    from dataclasses import asdict

    from rich.progress import Progress

    from phasewatch.services.fits import compare_models

    chosen = output_format(format_, json_)
    with _registry() as engine, Progress(console=console(), transient=True, disable=chosen != "table") as bar:
        task = bar.add_task("comparing models", total=None)
        result = compare_models(engine, tuple(panel), x, y, seed, stage=lambda text: bar.update(task, description=text))
    if chosen == "json":
        print_json({**asdict(result), "verdict": result.verdict})
        return
    if chosen == "csv":
        print_csv(
            (
                "rank",
                "model",
                "method",
                "fit_id",
                "converged",
                "elpd",
                "se",
                "elpd_diff",
                "diff_se",
                "p_loo",
                "weight",
                "high_k",
                "refitted",
            ),
            [
                (
                    r.rank,
                    r.model,
                    r.method,
                    r.fit_id,
                    r.converged,
                    r.elpd,
                    r.se,
                    r.elpd_diff,
                    r.diff_se,
                    r.p_loo,
                    r.weight,
                    r.high_k,
                    r.refitted,
                )
                for r in result.rows
            ],
        )
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


class MatrixMethod(StrEnum):
    BOTH = "both"
    JOINT = "joint"
    PAIRWISE = "pairwise"


def _r(value: Any) -> str:
    return "—" if value is None else f"{value.mean:+.2f} [{value.low:+.2f}, {value.high:+.2f}]"


def _joint_json(stored: Any) -> dict[str, Any]:
    return {
        "id": stored.id,
        "panel": stored.panel,
        "as_of": stored.as_of.isoformat(),
        "created_at": stored.created_at.isoformat(timespec="seconds"),
        "elapsed_s": stored.elapsed_s,
        "min_models": stored.min_models,
        "data_hash": stored.data_hash,
        "converged": stored.converged,
        "staleness": {
            "stale": stored.staleness.stale,
            "live_as_of": stored.staleness.live_as_of.isoformat(),
            "new_models": stored.staleness.new_models,
            "changed_cells": stored.staleness.changed_cells,
            "new_benchmarks": stored.staleness.new_benchmarks,
            "sentence": stored.staleness.sentence(),
        },
        **stored.matrix.to_dict(),
    }


def _pairwise_json(matrix: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {"benchmarks": matrix.benchmarks, "n_models": matrix.n_models, "cells": [asdict(c) for c in matrix.cells]}


def _joint_header(stored: Any) -> None:
    m = stored.matrix
    d = m.diagnostics
    gate = (
        f"converged (max r_hat {d.max_r_hat:.4f}, min ESS bulk/tail {d.min_ess_bulk:.0f}/{d.min_ess_tail:.0f}, "
        f"{plural(d.divergences, 'divergence')})"
        if d.converged
        else "NOT converged: " + "; ".join(d.problems)
    )
    lines = (
        f"joint matrix #{stored.id}: live panel {stored.panel} as of {stored.as_of}, fitted "
        f"{stored.created_at:%Y-%m-%d %H:%M} UTC in {stored.elapsed_s:.1f} s; {plural(m.n_models, 'model')}, "
        f"{plural(len(m.benchmarks), 'benchmark')}, {m.missing_share:.0%} of cells missing (integrated out, "
        f"{plural(m.patterns, 'pattern')})",
        f"convergence: {gate}",
        f"staleness: {stored.staleness.sentence()}",
    )
    for line in lines:
        console().print(line, markup=False, style=None if d.converged or "NOT" not in line else "bold red")


def _print_joint(stored: Any, format_: str | None, json_: bool) -> None:
    chosen = output_format(format_, json_)
    m = stored.matrix
    if chosen == "json":
        print_json(_joint_json(stored))
        return
    if chosen == "csv":
        print_csv(
            ("x", "y", "n", "r", "r_low", "r_high", "p_positive", "pairwise_r", "pairwise_low", "pairwise_high"),
            [
                (
                    c.x,
                    c.y,
                    c.n,
                    c.r.mean,
                    c.r.low,
                    c.r.high,
                    c.p_positive,
                    *((None, None, None) if c.pairwise is None else (c.pairwise.mean, c.pairwise.low, c.pairwise.high)),
                )
                for c in m.cells
            ],
        )
        return
    _joint_header(stored)
    n = {b.key: b.n for b in m.marginals}

    def show(x: str, y: str) -> str:
        if x == y:
            return f"n={n[x]}"
        c = m.cell(x, y)
        return f"{_r(c.r)} n={c.n}"

    table(
        "joint coupling matrix: posterior mean correlation on the logit scale, 95 % HDI, models with both "
        "(diagonal: models with the benchmark)",
        ("", *m.benchmarks),
        [(y, *(show(x, y) for x in m.benchmarks)) for y in m.benchmarks],
    )


def _print_pairwise(matrix: Any, format_: str | None, json_: bool) -> None:
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json(_pairwise_json(matrix))
        return
    if chosen == "csv":
        print_csv(
            ("x", "y", "n", "r", "r_low", "r_high"),
            [
                (c.x, c.y, c.n, *((None, None, None) if c.r is None else (c.r.mean, c.r.low, c.r.high)))
                for c in matrix.cells
            ],
        )
        return

    def show(x: str, y: str) -> str:
        if x == y:
            return "—"
        c = matrix.cell(x, y)
        return f"n={c.n}" if c.r is None else f"{c.r.mean:+.2f} [{c.r.low:+.2f}, {c.r.high:+.2f}] n={c.n}"

    table(
        "pairwise coupling matrix: Pearson r on the logit scale, 95 % Fisher-z interval, models with both (live "
        "panel as of today; cells with n < 5 left empty)",
        ("", *matrix.benchmarks),
        [(y, *(show(x, y) for x in matrix.benchmarks)) for y in matrix.benchmarks],
    )


def _print_both(stored: Any, pairwise: Any, format_: str | None, json_: bool) -> None:
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json({"joint": None if stored is None else _joint_json(stored), "pairwise": _pairwise_json(pairwise)})
        return
    keys = list(pairwise.benchmarks) + [
        k for k in (stored.matrix.benchmarks if stored else ()) if k not in pairwise.benchmarks
    ]
    rows = []
    for i, x in enumerate(keys):
        for y in keys[i + 1 :]:
            joint = None
            if stored is not None and {x, y} <= set(stored.matrix.benchmarks):
                joint = stored.matrix.cell(x, y)
            pair = pairwise.cell(x, y) if {x, y} <= set(pairwise.benchmarks) else None
            if joint is None and (pair is None or pair.r is None):
                continue
            rows.append((x, y, joint, pair))
    if chosen == "csv":
        print_csv(
            (
                "x",
                "y",
                "joint_n",
                "joint_r",
                "joint_low",
                "joint_high",
                "p_positive",
                "pairwise_n",
                "pairwise_r",
                "pairwise_low",
                "pairwise_high",
            ),
            [
                (
                    x,
                    y,
                    *((None,) * 5 if j is None else (j.n, j.r.mean, j.r.low, j.r.high, j.p_positive)),
                    *(
                        (None,) * 4
                        if p is None
                        else (p.n, *((None,) * 3 if p.r is None else (p.r.mean, p.r.low, p.r.high)))
                    ),
                )
                for x, y, j, p in rows
            ],
        )
        return
    if stored is None:
        console().print(
            "no joint matrix stored: `phasewatch fit-matrix` fits one (missing cells integrated out); "
            "the pairwise-complete matrix only:",
            markup=False,
        )
    else:
        _joint_header(stored)
    table(
        "coupling matrix, joint beside pairwise: correlation of the logit scores (joint: posterior mean, 95 % HDI, "
        "P(r > 0); pairwise: Pearson r, 95 % Fisher-z, live panel as of today; n: models with both, "
        "joint/pairwise where they differ)",
        ("x", "y", "joint r [95 % HDI]", "P(r > 0)", "pairwise r [95 %]", "n"),
        [
            (
                x,
                y,
                _r(j.r if j else None),
                "—" if j is None else f"{j.p_positive:.3f}",
                _r(p.r if p else None),
                _both_n(j, p),
            )
            for x, y, j, p in rows
        ],
    )


def _both_n(joint: Any, pair: Any) -> str:
    """Models with both benchmarks: one number when the stored joint fit and today's pairwise
    agree, "joint/pairwise" when the live panel has moved since the fit."""
    counts = [c.n for c in (joint, pair) if c is not None]
    return str(counts[0]) if len(set(counts)) == 1 else "/".join(str(n) for n in counts)


@fits_app.command("matrix")
def fits_matrix(
    method: MatrixMethod = typer.Option(
        MatrixMethod.BOTH,
        "--method",
        help="both (the stored joint matrix beside the pairwise one), joint (the stored joint matrix) "
        "or pairwise (pairwise-complete Pearson r, computed now).",
    ),
    min_models: int = typer.Option(
        10, "--min-models", min=5, help="Pairwise: only benchmarks reported by at least this many models."
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """The coupling matrix of the frontier benchmarks: the stored joint model (`fit-matrix`:
    every correlation from all models, missing cells integrated out) beside the
    pairwise-complete correlations, each with a 95 % interval and its number of models."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.errors import NotFoundError
    from phasewatch.services.coupling_matrix import stored_matrix
    from phasewatch.services.fits import coupling_matrix

    clock = system_clock()
    with _registry() as engine:
        stored = stored_matrix(engine, clock) if method != MatrixMethod.PAIRWISE else None
        pairwise = coupling_matrix(engine, clock, min_models) if method != MatrixMethod.JOINT else None
    if method == MatrixMethod.JOINT:
        if stored is None:
            raise NotFoundError("no joint coupling matrix is stored", "fit one with `phasewatch fit-matrix`")
        _print_joint(stored, format_, json_)
    elif method == MatrixMethod.PAIRWISE:
        _print_pairwise(pairwise, format_, json_)
    else:
        _print_both(stored, pairwise, format_, json_)


def fit_matrix(
    panel: str = typer.Option(
        "frontier",
        "--panel",
        callback=checked("PANEL"),
        help="The live panel: frontier (as of today) or frontier@YYYY-MM-DD (as known then).",
    ),
    min_models: int = typer.Option(
        10, "--min-models", min=5, help="Only benchmarks reported by at least this many models."
    ),
    seed: int = typer.Option(1, "--seed", help="Sampler seed."),
    draws: int = typer.Option(1000, "--draws", min=100, help="Draws per chain after tuning."),
    tune: int = typer.Option(1000, "--tune", min=100, help="Tuning draws per chain."),
    chains: int = typer.Option(4, "--chains", min=2, help="Chains (at least 2, for r_hat)."),
    target_accept: float = typer.Option(
        0.95, "--target-accept", callback=finite, min=0.5, max=0.999, help="NUTS target acceptance rate."
    ),
    retry: bool = typer.Option(
        True, "--retry/--no-retry", help="If the fit misses its convergence gate, refit once with stronger settings."
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Fit the joint coupling matrix of the live frontier panel's benchmarks (a multivariate
    normal of the logit scores with an LKJ prior; PyMC + nutpie) and store it for
    `fits matrix`, the report and the dashboard.

    Exit code 4 when the fit (and its one retry) missed the convergence gate (it is stored, shown as such)."""
    from phasewatch.models.coupling import SamplerSettings
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.coupling_matrix import fit_matrix as fit_matrix_service

    settings = SamplerSettings(draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept)
    table_out = output_format(format_, json_) == "table"

    def on_retry(first: Any, stronger: Any) -> None:
        if table_out:
            console().print(
                f"joint matrix #{first.id} missed the convergence gate ({'; '.join(first.matrix.diagnostics.problems)}); "
                f"retrying once with --draws {stronger.draws} --tune {stronger.tune} --target-accept "
                f"{stronger.target_accept}",
                style="bold yellow",
                markup=False,
            )

    with _registry() as engine:
        attempts = fit_matrix_service(
            engine,
            system_clock(),
            panel=panel,
            min_models=min_models,
            settings=settings,
            retry=retry,
            on_retry=on_retry,
        )
    _print_joint(attempts.final, format_, json_)
    error = attempts.unconverged_error()
    if error is not None:
        raise error


fit_server_app = new_app("The local fit server: keeps compiled models so refits take seconds.")


@fit_server_app.command("status")
def fit_server_status(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Is the fit server running: its pid, compiled models, fits served and idle time (exit 0 either way)."""
    from phasewatch.services.fit_server import FitServerClient

    client = FitServerClient(start=False)
    state = client.status()
    if state is None:
        state = {"running": False, "socket": str(client.socket_path)}
        if output_format(format_, json_) == "table":
            print(f"no fit server running ({client.socket_path}); the next `phasewatch fit` starts one")
            return
    else:
        state = {"running": True, **{k: v for k, v in state.items() if k != "ok"}}
    columns = ("running", "pid", "socket", "uptime_s", "idle_s", "idle_timeout_s", "fits", "models")
    row = tuple("; ".join(state.get(c, [])) if c == "models" else state.get(c, "") for c in columns)
    emit(format_, "fit server", columns, [row], json_=json_, data=state)


@fit_server_app.command("stop")
def fit_server_stop() -> None:
    """Stop the fit server (a no-op if none is running)."""
    from phasewatch.services.fit_server import FitServerClient

    client = FitServerClient(start=False)
    print("fit server stopped" if client.stop() else f"no fit server running ({client.socket_path})")
