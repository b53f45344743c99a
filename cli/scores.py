"""``phasewatch scores``: add one score with its provenance, or import many."""

from __future__ import annotations

from pathlib import Path

import typer

from phasewatch.cli.common import JSON_OPTION, checked, finite, new_app, print_json, registry_engine
from phasewatch.registry.enums import ReportedBy

app = new_app("Add one score with its provenance, or import observations from CSV or JSON.")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A .csv or .json file in the export format (see `phasewatch export`)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Import observations; a file with any bad row imports nothing and names the row."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.catalog import import_scores

    with registry_engine() as engine:
        result = import_scores(engine, system_clock(), file)
    data = {
        "rows": result.rows,
        "new_observations": result.new_observations,
        "new_models": result.new_models,
        "already_present": result.already_present,
    }
    if json_:
        print_json(data)
    else:
        print(
            f"imported {file.name}: {result.new_observations} new observations, {result.new_models} new models, "
            f"{result.already_present} already present"
        )


@app.command()
def add(
    model: str = typer.Argument(..., callback=checked("NAME"), help="A registered model (name or alias)."),
    score: str = typer.Argument(..., callback=checked("NAME"), help="BENCHMARK=VALUE in percent, e.g. hle=40.5."),
    source: str | None = typer.Option(None, "--source", callback=checked("URL"), help="URL the figure comes from."),
    reported_by: ReportedBy = typer.Option(ReportedBy.LAB, "--reported-by", help="lab, third_party or paper."),
    setting: str | None = typer.Option(
        None, "--setting", callback=checked("TEXT"), help="How it was measured, e.g. 'text-only, no tools'."
    ),
    stderr: float | None = typer.Option(None, "--stderr", callback=finite, help="Standard error in points."),
    allow_small_scores: bool = typer.Option(
        False, "--allow-small-scores", help="Accept a value in (0, 1] as a true percentage."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Add one score to a registered model, with its own source, reporter and setting."""
    from dataclasses import asdict, replace

    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.releases import parse_score
    from phasewatch.services.releases import add_one_score

    parsed = replace(parse_score(score), source_url=source, reported_by=reported_by, setting=setting, stderr=stderr)
    with registry_engine() as engine:
        result = add_one_score(engine, system_clock(), model, parsed, allow_small=allow_small_scores)
    if json_:
        print_json(asdict(result))
        return
    verb = "added" if result.new else "already held"
    print(
        f"{verb}: {result.model} {result.benchmark} {result.value:g} ({result.reported_by}"
        f"{', ' + result.setting if result.setting else ''}){' from ' + result.source_url if result.source_url else ''}"
    )
