"""``phasewatch panels``: the named, frozen selections of observations, and the live ``frontier`` panel."""

from __future__ import annotations

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    console,
    emit,
    fmt,
    new_app,
    output_format,
    plural,
    print_json,
    registry_engine,
    table,
)

app = new_app("List and inspect panels: frozen selections of observations, and the live `frontier` panel.")

AS_OF_OPTION = typer.Option(
    None,
    "--as-of",
    callback=checked("KEY"),
    help="The live panel as known on this date (YYYY-MM-DD; default: everything held).",
)
PREFER_OPTION = typer.Option(
    None,
    "--prefer",
    callback=checked("NAME"),
    help="Reporter precedence, e.g. third_party,lab,paper (default lab,third_party,paper).",
)


@app.command("list")
def list_(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """List panels with their size and licence."""
    from phasewatch.services.panels import list_panels

    output_format(format_, json_)
    with registry_engine() as engine:
        panels = list_panels(engine)
    emit(
        format_,
        f"{plural(len(panels), 'panel')} (and the live panel `frontier`: `phasewatch panels show frontier`)",
        ("panel", "models", "observations", "benchmarks", "frozen", "licence"),
        [(p.name, p.models, p.observations, ", ".join(p.benchmarks), p.frozen, p.licence) for p in panels],
        json_=json_,
        data=panels,
    )


def _as_of(text: str | None):
    from phasewatch.registry.dates import parse_partial_date
    from phasewatch.registry.errors import InvalidInputError

    if text is None:
        return None
    day, precision = parse_partial_date(text, what="--as-of")
    if precision != "day":
        raise InvalidInputError(f"--as-of {text!r} is not a full date", "write it as YYYY-MM-DD")
    return day


@app.command()
def show(
    name: str = typer.Argument(..., callback=checked("PANEL"), help="Panel name, or `frontier` for the live panel."),
    as_of: str | None = AS_OF_OPTION,
    prefer: str | None = PREFER_OPTION,
    benchmark: list[str] = typer.Option(
        [], "--benchmark", callback=checked("KEY"), help="Live panel: only these benchmarks (repeatable)."
    ),
    excluded: bool = typer.Option(
        False, "--excluded", help="Live panel: also list every figure left out, with the rule."
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Show a panel; for `frontier`, every value that enters and why it was chosen
    (--format csv: one value per line, with the figures left out when --excluded)."""
    from phasewatch.services.panels import is_live

    chosen = output_format(format_, json_)
    if is_live(name):
        _show_live(name, as_of, prefer, tuple(benchmark) or None, excluded, chosen)
        return
    if as_of or prefer or benchmark or excluded:
        from phasewatch.registry.errors import InvalidInputError

        raise InvalidInputError(
            "--as-of, --prefer, --benchmark and --excluded apply to the live panel only", "use `panels show frontier`"
        )
    from phasewatch.services.panels import show_panel

    with registry_engine() as engine:
        panel = show_panel(engine, name)
    emit(
        chosen,
        panel.name,
        ("", ""),
        [
            ("description", panel.description),
            ("source", panel.source),
            ("licence", panel.licence),
            ("frozen", panel.frozen),
            ("models", panel.models),
            ("observations", panel.observations),
            ("per benchmark", ", ".join(f"{k} {v}" for k, v in panel.benchmarks.items())),
            ("subsets (models)", ", ".join(f"{k} {fmt(v)}" for k, v in panel.subsets.items())),
        ],
        data=panel,
    )


def _show_live(
    name: str, as_of: str | None, prefer: str | None, benchmarks: tuple[str, ...] | None, excluded: bool, chosen: str
) -> None:
    from phasewatch.services.panels import live_panel

    day = _as_of(as_of) if as_of else None
    with registry_engine() as engine:
        selection = live_panel(engine, name, as_of=day, prefer=prefer, benchmarks=benchmarks)
    if chosen == "json":
        print_json(selection)
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            ("model", "lab", "released", "benchmark", "value", "reported_by", "setting", "entered", "reason", "source"),
            [
                (
                    c.model,
                    c.lab,
                    c.release_date,
                    c.benchmark,
                    c.value,
                    c.reported_by,
                    c.setting,
                    True,
                    c.reason,
                    c.source_url,
                )
                for c in selection.chosen
            ]
            + [
                (e.model, None, None, e.benchmark, e.value, e.reported_by, e.setting, False, e.reason, None)
                for e in (selection.excluded if excluded else [])
            ],
        )
        return
    when = f"as of {selection.as_of}" if selection.as_of else "with everything the registry holds"
    console().print(
        f"live panel frontier {when}: {plural(selection.models, 'model')}, {plural(len(selection.chosen), 'value')} "
        f"(precedence {' > '.join(selection.precedence)}; {plural(len(selection.excluded), 'figure')} left out"
        f"{'' if excluded else ', list them with --excluded'})",
        markup=False,
    )
    wide = console().width >= WIDE
    if not wide:
        console().print(
            f"(lab, release date, setting and source: --format csv, or a terminal {WIDE} columns wide)", markup=False
        )
    table(
        None,
        ("model", "lab", "released", "benchmark", "value", "reported by", "setting", "why this value", "source")
        if wide
        else ("model", "benchmark", "value", "reported by", "why this value"),
        [
            (c.model, c.lab, c.release_date, c.benchmark, c.value, c.reported_by, c.setting, c.reason, c.source_url)
            if wide
            else (c.model, c.benchmark, c.value, c.reported_by, c.reason)
            for c in selection.chosen
        ],
    )
    if excluded:
        table(
            "left out",
            ("model", "benchmark", "value", "reported by", "setting", "why")
            if wide
            else ("model", "benchmark", "value", "reported by", "why"),
            [
                (e.model, e.benchmark, e.value, e.reported_by, e.setting, e.reason)
                if wide
                else (e.model, e.benchmark, e.value, e.reported_by, e.reason)
                for e in selection.excluded
            ],
        )


WIDE = 150  # the live panel's nine columns need this many; narrower terminals get the five that matter


@app.command()
def freeze(
    name: str = typer.Argument(..., callback=checked("PANEL"), help="Name of the new frozen panel."),
    from_: str = typer.Option(
        "frontier", "--from", callback=checked("PANEL"), help="The live panel to snapshot (only `frontier`)."
    ),
    as_of: str | None = AS_OF_OPTION,
    prefer: str | None = PREFER_OPTION,
    description: str | None = typer.Option(
        None, "--description", callback=checked("TEXT"), help="What the snapshot is for."
    ),
) -> None:
    """Freeze the live panel (as of a date) into a named panel that never changes."""
    from phasewatch.services.panels import freeze as freeze_live

    day = _as_of(as_of) if as_of else None
    with registry_engine() as engine:
        frozen = freeze_live(engine, name, source=from_, as_of=day, prefer=prefer, description=description)
    print(
        f"froze {frozen.panel}: {plural(frozen.models, 'model')}, {plural(frozen.observations, 'observation')} "
        f"(fit it with `phasewatch fit --panel {frozen.panel}`)"
    )
