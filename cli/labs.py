"""``phasewatch labs``: the labs and their aliases."""

from __future__ import annotations

import typer

from phasewatch.cli.common import JSON_OPTION, checked, new_app, print_json, registry_session, table

app = new_app("List and register labs.")


@app.command("list")
def list_(json_: bool = JSON_OPTION) -> None:
    """List labs with their aliases, model counts and release span."""
    from phasewatch.registry.queries import as_dict, list_labs

    with registry_session() as session:
        labs = list_labs(session)
    if json_:
        print_json(as_dict(labs))
        return
    table(
        f"{len(labs)} labs",
        ("lab", "aliases", "models", "open-weight", "first release", "last release"),
        [
            (lab.name, ", ".join(lab.aliases), lab.models, lab.open_weight_models, lab.first_release, lab.last_release)
            for lab in labs
        ],
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
    from phasewatch.registry.catalog import Catalog

    with registry_session() as session:
        lab, created = Catalog(session).add_lab(name, alias)
        result = {"lab": lab.name, "created": created, "aliases": sorted({*alias} - {lab.name})}
    if json_:
        print_json(result)
    else:
        print(
            f"{'added' if created else 'updated'} lab {result['lab']}"
            + (f" (aliases: {', '.join(alias)})" if alias else "")
        )


@app.command()
def show(
    lab: str = typer.Argument(..., callback=checked("NAME"), help="Lab name or alias."),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: the latest accepted fit)."),
    json_: bool = JSON_OPTION,
) -> None:
    """A lab's coupling slope, mean h, h trajectory with classified shifts, and what to measure next."""
    from dataclasses import asdict

    from phasewatch.cli.common import console
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.philosophy import lab_philosophy

    with registry_session() as session:
        view = lab_philosophy(session, lab, fit_id, as_of=system_clock().today())
    if json_:
        print_json(asdict(view))
        return
    s, h = view.slope, view.mean_h
    table(
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
        "h trajectory (release order)",
        ("release", "date", "x", "h (pp)", "in fit"),
        [
            (p.name, p.date, p.x, f"{p.h:+.1f}", "yes" if p.in_fit else "no (placed against the fit)")
            for p in view.trajectory
        ],
    )
    if view.shifts:
        table(
            f"shifts: P(no shift / persistent / transient), mean and 95 % interval over the noise scale "
            f"({view.noise_pp:.1f} pp); a shift is decided by the release after it",
            (
                "from",
                "to",
                "Δh (pp), 95 % HDI",
                "P(no shift)",
                "P(persistent)",
                "P(transient)",
                "reading",
                "decided by",
            ),
            [
                (
                    x.before,
                    x.after,
                    f"{x.delta_h:+.1f} [{x.delta_h_hdi.low:+.1f}, {x.delta_h_hdi.high:+.1f}]",
                    *(
                        (_p(x.p_none), _p(x.p_persistent), _p(x.p_transient))
                        if not x.inference_compute
                        else ("-", "-", "-")
                    ),
                    x.kind,
                    "(same weights)" if x.inference_compute else x.decided_by or "(next release)",
                )
                for x in view.shifts
            ],
        )
    console().print()


def _p(interval: object) -> str:
    v = vars(interval)
    return f"{v['mean']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"


@app.command()
def compare(
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: the latest accepted fit)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Rank labs by coupling slope, with 95 % HDIs."""
    from dataclasses import asdict

    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.philosophy import compare_labs

    with registry_session() as session:
        used, ranks = compare_labs(session, fit_id, as_of=system_clock().today())
    if json_:
        print_json({"fit_id": used, "labs": [asdict(r) for r in ranks]})
        return
    table(
        f"labs by coupling slope (fit #{used}); rank over posterior draws, 95 % interval",
        ("rank", "lab", "n", "slope, 95 % HDI", "rank interval", "P(steepest)", "OLS slope", "mean h (pp)"),
        [
            (
                r.rank
                if r.ranked
                else "- (not in the fit: hierarchy)"
                if r.n_releases == 0
                else f"- ({r.n_releases} release{'s' if r.n_releases != 1 else ''}: not ranked)",
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
