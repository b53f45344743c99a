"""``phasewatch phase``: the base-scale alignment tax (method: docs/phase.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    console,
    emit,
    finite,
    fmt,
    new_app,
    output_format,
    plural,
    print_json,
    registry_engine,
    status,
    table,
)
from phasewatch.cli.layout import prose_table

app = new_app("Base-scale phase analysis: reasoning vs truthfulness across model families.")

PANEL = typer.Option(
    "base-families-2026-11",
    "--panel",
    callback=checked("PANEL"),
    help="Panel to read (the paper's: lying-63, lying-nc-14, lying-pythia-8).",
)
RESAMPLES = typer.Option(10_000, "--resamples", min=0, help="Bootstrap resamples.")
SEED = typer.Option(42, "--seed", help="Bootstrap seed.")


def _nc(e: Any) -> str:
    if e is None:
        return "(fewer than 4 models)"
    if e.median_billions is None:
        return f"none: {e.note}"
    point = f"{e.point_billions:.2f}B on all points; " if e.point_billions is not None else ""
    return (
        f"{point}bootstrap median {e.median_billions:.2f}B, 95 % [{e.ci95_billions[0]:.2f}B, {e.ci95_billions[1]:.2f}B], "
        f"{e.valid_resamples} of {plural(e.resamples, 'resample')} valid" + (f" ({e.note})" if e.note else "")
    )


def _r(c: Any) -> str:
    return "" if c is None else f"{c.r:+.3f} (p = {c.p_value:.2g}, n = {c.n}, {c.method})"


@app.command()
def families(panel: str = PANEL, format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Each family's r(HellaSwag, TruthfulQA), phases of its consecutive sizes, and whether γ12 changes sign."""
    from phasewatch.services.phase import families as families_in

    output_format(format_, json_)
    with registry_engine() as engine:
        rows = families_in(engine, panel)
    emit(
        format_,
        f"{plural(len(rows), 'family', 'families')} in {panel}",
        ("family", "n", "params (B)", "r(HS, TQA), permutation p", "phases (pairs)", "sign change", "N_c (quadratic)"),
        [
            (
                r.family,
                r.n,
                f"{r.params_range_b[0]:g}-{r.params_range_b[1]:g}",
                "" if r.correlation is None else f"{r.correlation.r:+.3f} (p {r.correlation.p_value:.2g})",
                ", ".join(f"{k} {v}" for k, v in r.phases.items()),
                r.sign_change,
                f"{r.nc_point_billions:.2f}B" if r.nc_point_billions else "",
            )
            for r in rows
        ],
        json_=json_,
        data=[asdict(r) for r in rows],
    )


@app.command()
def family(
    name: str = typer.Argument(..., callback=checked("FAMILY"), help="Family name, e.g. Pythia-deduped, OPT, BLOOM."),
    panel: str = PANEL,
    resamples: int = typer.Option(2000, "--resamples", min=0, help="Bootstrap resamples."),
    seed: int = SEED,
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """One family: γ12 between consecutive sizes with phases, r overall and per phase, N_c by both methods
    (--format csv: the family's models, one per line)."""
    from phasewatch.services.phase import family as family_of

    chosen = output_format(format_, json_)
    with (
        registry_engine() as engine,
        status(f"bootstrapping N_c ({plural(resamples, 'resample')} per method)", quiet=chosen != "table"),
    ):
        detail = family_of(engine, name, panel, resamples=resamples, seed=seed)
    if chosen == "json":
        print_json(asdict(detail))
        return
    if chosen == "csv":
        columns = list(detail.points[0]) if detail.points else ["model"]
        emit("csv", None, columns, [[p[c] for c in columns] for p in detail.points])
        return
    table(
        f"{detail.family} ({detail.panel})",
        ("model", "params (B)", "HellaSwag", "TruthfulQA", "d_model", "HS / (d/512)", "TQA / (d/512)"),
        [
            (
                p["model"],
                p["params_b"],
                p["hellaswag"],
                p["truthfulqa_mc2"],
                p["d_model"],
                fmt(p["hellaswag_width_normalised"] and round(p["hellaswag_width_normalised"], 2)),
                fmt(p["truthfulqa_mc2_width_normalised"] and round(p["truthfulqa_mc2_width_normalised"], 2)),
            )
            for p in detail.points
        ],
    )
    table(
        "local coupling γ12 = ΔTQA / ΔHS (tax < -0.1 < transition < +0.1 < bonus)",
        ("from", "to", "γ12", "phase"),
        [(c.smaller, c.larger, f"{c.gamma:+.3f}", c.phase) for c in detail.couplings],
    )
    rows = [("r over the family", _r(detail.overall))] + [
        (f"r within {p.phase}", _r(p.correlation) or f"(fewer than 3 models: {', '.join(p.models)})")
        for p in detail.by_phase
    ]
    rows += [("N_c, quadratic vertex", _nc(detail.nc_quadratic)), ("N_c, γ12 zero crossing", _nc(detail.nc_gamma))]
    prose_table(None, ("", ""), rows)
    for note in detail.notes:
        console().print(f"note: {note}", markup=False)
    console().print(f"caveat: {detail.width_caveat}", markup=False)


@app.command()
def nc(
    families: list[str] = typer.Option(
        ["Pythia-deduped", "Llama-1", "Llama-2"],
        "--families",
        callback=checked("FAMILY"),
        help="Families to pool (repeatable).",
    ),
    panel: str = PANEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    legacy_rng: bool = typer.Option(
        False, "--legacy-rng", help="Replay the paper script's np.random.seed(seed) stream."
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """The critical size N_c from pooled families: quadratic vertex and γ12 zero crossing, with bootstrap intervals
    (stored, so that `phasewatch report` shows this result without rerunning it)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.phase import critical_size

    chosen = output_format(format_, json_)
    with (
        registry_engine() as engine,
        status(f"bootstrapping N_c ({plural(resamples, 'resample')} per method)", quiet=chosen != "table"),
    ):
        found = critical_size(
            engine, system_clock(), families, panel, resamples=resamples, seed=seed, legacy_rng=legacy_rng
        )
    quadratic, gamma, n = found.quadratic, found.gamma, found.points
    data = {"families": families, "panel": panel, "points": n, "quadratic": asdict(quadratic), "gamma": asdict(gamma)}
    if chosen == "table":
        prose_table(
            f"N_c from {', '.join(families)} ({panel}, {plural(n, 'model')})",
            ("method", "estimate"),
            [("quadratic vertex of TQA(log10 N)", _nc(quadratic)), ("zero crossing of γ12(log10 N)", _nc(gamma))],
        )
        return
    emit(
        chosen,
        None,
        (
            "method",
            "point_billions",
            "median_billions",
            "low_billions",
            "high_billions",
            "valid_resamples",
            "resamples",
        ),
        [
            (
                e.method,
                e.point_billions,
                e.median_billions,
                *(e.ci95_billions or (None, None)),
                e.valid_resamples,
                e.resamples,
            )
            for e in (quadratic, gamma)
        ],
        data=data,
    )


@app.command()
def reproduce(
    resamples: int = RESAMPLES, seed: int = SEED, format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION
) -> None:
    """The paper's Pythia correlation, N_c and Llama-2 prediction from its own points, beside the same analyses on
    sourced data (both N_c bootstraps are stored for `phasewatch report`, as `phase nc` stores them)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.phase import reproduce as run

    chosen = output_format(format_, json_)
    with (
        registry_engine() as engine,
        status(f"bootstrapping N_c ({plural(resamples, 'resample')} per estimate)", quiet=chosen != "table"),
    ):
        result = run(engine, system_clock(), resamples=resamples, seed=seed)
    if chosen == "json":
        print_json(asdict(result))
        return
    p, s = result.paper, result.sourced
    title = "Lying Is Just a Phase: reproduced, then checked"
    columns = ("" if chosen == "table" else "analysis", p.label, s.label)
    rows = [
        ("Pythia r(HellaSwag, TruthfulQA)", _r(p.pythia_r), _r(s.pythia_r)),
        ("  points", p.pythia_points, s.pythia_points),
        ("N_c, quadratic vertex", _nc(p.nc_quadratic), _nc(s.nc_quadratic)),
        ("N_c, γ12 zero crossing", _nc(p.nc_gamma), _nc(s.nc_gamma)),
        ("  points", p.nc_points, s.nc_points),
        (
            "Llama-2 TruthfulQA predicted from Pythia + Llama-1 (MAPE)",
            f"{p.cross_family.mape_percent:.2f} %",
            f"{s.cross_family.mape_percent:.2f} %",
        ),
        ("  fit", p.cross_family_points, s.cross_family_points),
    ]
    if chosen == "csv":
        emit("csv", title, columns, rows)
        return
    prose_table(title, columns, rows)
    console().print(
        "\nWhich leaderboard entry the paper's Pythia values are (the paper mixes deduplicated and non-deduplicated rows):"
    )
    for line in result.pythia_matches:
        console().print(f"  {line}", markup=False)


@app.command()
def classify(
    params_b: float = typer.Option(..., "--params-b", callback=finite, help="Parameters, billions."),
    hellaswag: float = typer.Option(..., "--hellaswag", callback=finite, help="HellaSwag (10-shot acc_norm), percent."),
    truthfulqa: float = typer.Option(..., "--truthfulqa", callback=finite, help="TruthfulQA MC2, percent."),
    d_model: int | None = typer.Option(None, "--d-model", help="Hidden size, for width-normalised scores."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Classify a base model: the isocline TQA > √((a/b)·HS) (calibrated as the paper does) and its size against N_c."""
    from phasewatch.services.phase import classify as run

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        result = run(engine, params_b, hellaswag, truthfulqa, d_model)
    if chosen == "json":
        print_json(asdict(result))
        return
    rows = [
        (
            "isocline",
            f"{result.isocline_phase}: TruthfulQA {truthfulqa:g} vs boundary {result.boundary_truthfulness:.2f}",
        ),
        ("calibration", result.isocline.calibration),
    ]
    rows += [("size", line) for line in result.size_vs_nc]
    if result.width_normalised:
        rows.append(("width-normalised", ", ".join(f"{k} {v:.2f}" for k, v in result.width_normalised.items())))
    title = f"{params_b:g}B, HellaSwag {hellaswag:g}, TruthfulQA {truthfulqa:g}"
    if chosen == "csv":
        emit("csv", title, ("", ""), rows)
    else:
        prose_table(title, ("", ""), rows)
    if result.width_caveat and chosen == "table":
        console().print(f"caveat: {result.width_caveat}", markup=False)
