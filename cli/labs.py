"""``phasewatch labs``: the labs and their aliases."""

from __future__ import annotations

import math
from typing import Any

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    emit,
    new_app,
    output_format,
    plural,
    print_json,
    registry_engine,
    table,
)
from phasewatch.cli.layout import prose_table

app = new_app("List and register labs.")


@app.command("list")
def list_(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """List labs with their aliases, model counts and release span."""
    from phasewatch.registry.queries import as_dict
    from phasewatch.services.labs import list_labs

    output_format(format_, json_)
    with registry_engine() as engine:
        labs = list_labs(engine)
    emit(
        format_,
        plural(len(labs), "lab"),
        ("lab", "aliases", "models", "open-weight", "first release", "last release"),
        [
            (lab.name, ", ".join(lab.aliases), lab.models, lab.open_weight_models, lab.first_release, lab.last_release)
            for lab in labs
        ],
        json_=json_,
        data=as_dict(labs),
    )


@app.command()
def add(
    name: str = typer.Argument(..., callback=checked("NAME"), help="The lab's display name."),
    alias: list[str] = typer.Option(
        [], "--alias", callback=checked("NAME"), help="Another name for the lab (repeatable)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Register a new lab (or add aliases to an existing one)."""
    from dataclasses import asdict

    from phasewatch.services.labs import add_lab

    with registry_engine() as engine:
        added = add_lab(engine, name, alias)
    if json_:
        print_json(asdict(added))
    else:
        print(
            f"{'added' if added.created else 'updated'} lab {added.lab}"
            + (f" (aliases: {', '.join(alias)})" if alias else "")
        )


@app.command()
def show(
    lab: str = typer.Argument(..., callback=checked("NAME"), help="Lab name or alias."),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: the latest accepted fit)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """A lab's coupling slope, mean h, h trajectory with classified shifts, and what to measure next
    (--format csv: the h trajectory, one release per line)."""
    from dataclasses import asdict

    from phasewatch.cli.common import console
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.labs import show_lab

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        view = show_lab(engine, system_clock(), lab, fit_id)
    if chosen == "json":
        print_json(_finite(asdict(view)))
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            ("lab", "release", "date", "x", "h_pp", "in_fit", "tier"),
            [(view.lab, p.name, p.date, p.x, p.h, p.in_fit, view.tiers.get(p.name)) for p in view.trajectory],
        )
        return
    s, h = view.slope, view.mean_h
    prose_table(
        f"{view.lab} (fit #{view.fit_id}, {view.fit_panels})",
        ("", ""),
        [
            ("releases (in fit / all with both scores)", f"{view.n_in_fit} / {view.n_releases}"),
            ("coupling slope", f"{s.mean:.3f}, 95 % HDI [{s.low:.3f}, {s.high:.3f}] (from the {view.slope_source})"),
            (
                "OLS slope (paper's method)",
                f"{view.ols_slope:.3f}" if view.ols_slope is not None else "(fewer than 3 releases)",
            ),
            ("mean h", f"{h.mean:+.1f} pp, 95 % HDI [{h.low:+.1f}, {h.high:+.1f}]"),
            ("direction", view.direction),
            ("confidence", view.confidence),
            ("next measurement", view.next_measurement),
        ],
    )
    table(
        "h trajectory (release order; not in the fit: placed against it)",
        ("release", "tier", "date", "x", "h (pp)", "in fit"),
        [
            (p.name, view.tiers.get(p.name) or "-", p.date, p.x, f"{p.h:+.1f}", "yes" if p.in_fit else "no")
            for p in view.trajectory
        ],
    )
    if view.shifts:
        prose_table(
            f"shifts: P(no shift / persistent / transient), mean [95 % interval] over the noise scale "
            f"({view.noise_pp:.1f} pp); each tier is read against its own previous release and decided "
            "by its next one; a change of tier is different weights, not read",
            ("shift", "Δh (pp), 95 % HDI", "P(reading)", "reading; decided by"),
            [
                (
                    f"{x.before} → {x.after}",
                    f"{x.delta_h:+.1f} [{x.delta_h_hdi.low:+.1f}, {x.delta_h_hdi.high:+.1f}]",
                    "-"
                    if x.p_none is None or x.p_persistent is None or x.p_transient is None
                    else f"none {_p(x.p_none)}\npersistent {_p(x.p_persistent)}\ntransient {_p(x.p_transient)}",
                    f"{x.kind}; " + _decided(x),
                )
                for x in view.shifts
            ],
        )
    if len(view.measurements) > 1:
        table(
            "candidate measurements by expected information (bits) about the lab's open questions",
            ("measurement", "question", "bits", "now → expected"),
            [
                (
                    m.what,
                    m.question,
                    f"{m.bits:.2f}",
                    f"{m.before:.2f} → {m.after:.2f}" + (" (95 % width)" if m.question == "slope" else " bits"),
                )
                for m in view.measurements
            ],
        )
    console().print()


def _finite(data: Any) -> Any:
    """JSON has no NaN: a value not defined (e.g. P(steepest) of a lab outside the fit) is null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def _decided(x: Any) -> str:
    if x.inference_compute:
        return "same weights"
    if x.tier_change is not None:
        return "a change of weights, not of the lab's level"
    return f"decided by {x.decided_by or 'the next release of the tier'}"


def _p(interval: object) -> str:
    v = vars(interval)
    return f"{v['mean']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"


@app.command()
def compare(
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: the latest accepted fit)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Rank labs by coupling slope, with 95 % HDIs."""
    from dataclasses import asdict

    from phasewatch.cli.common import console
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.philosophy import MIN_RELEASES_TO_RANK
    from phasewatch.services.labs import compare_labs

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        comparison = compare_labs(engine, system_clock(), fit_id)
    used, ranks = comparison.fit_id, comparison.labs
    if chosen == "json":
        print_json(_finite({"fit_id": used, "labs": [asdict(r) for r in ranks]}))
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            (
                "fit_id",
                "rank",
                "ranked",
                "lab",
                "n_releases",
                "slope_mean",
                "slope_low",
                "slope_high",
                "rank_low",
                "rank_high",
                "p_steepest",
                "ols_slope",
                "mean_h_mean",
                "mean_h_low",
                "mean_h_high",
            ),
            [
                (
                    used,
                    r.rank,
                    r.ranked,
                    r.lab,
                    r.n_releases,
                    r.slope.mean,
                    r.slope.low,
                    r.slope.high,
                    r.rank_low,
                    r.rank_high,
                    _finite(r.p_steepest),
                    r.ols_slope,
                    r.mean_h.mean,
                    r.mean_h.low,
                    r.mean_h.high,
                )
                for r in ranks
            ],
        )
        return
    table(
        f"labs by coupling slope (fit #{used}); rank over posterior draws, 95 % interval",
        ("rank", "lab", "n", "slope, 95 % HDI", "rank 95 %", "P(steepest)", "OLS slope", "mean h (pp)"),
        [
            (
                r.rank if r.ranked else "-",
                r.lab,
                r.n_releases,
                f"{r.slope.mean:.3f} [{r.slope.low:.3f}, {r.slope.high:.3f}]",
                f"{r.rank_low}-{r.rank_high}" if r.n_releases else "",
                f"{r.p_steepest:.2f}" if r.n_releases else "",
                f"{r.ols_slope:.3f}" if r.ols_slope is not None else "",
                f"{r.mean_h.mean:+.1f}",
            )
            for r in ranks
        ],
    )
    unranked = [r for r in ranks if not r.ranked]
    if unranked:
        console().print(
            f"-: not ranked, fewer than {plural(MIN_RELEASES_TO_RANK, 'release')} in the fit (n); "
            "a lab with n = 0 is not in the fit, its slope is the hierarchy's.",
            markup=False,
        )
