"""``phasewatch scores``: bulk import of observations."""

from __future__ import annotations

from pathlib import Path

import typer

from phasewatch.cli.common import JSON_OPTION, new_app, print_json, registry_session

app = new_app("Import score observations from CSV or JSON.")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A .csv or .json file in the export format (see `phasewatch export`)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Import observations; a file with any bad row imports nothing and names the row."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.io import import_rows, read_rows

    rows = read_rows(file)
    with registry_session() as session:
        result = import_rows(session, rows, today=system_clock().today())
    data = {"rows": result.rows, "new_observations": result.new_observations, "new_models": result.new_models,
            "already_present": result.already_present}  # fmt: skip
    if json_:
        print_json(data)
    else:
        print(f"imported {file.name}: {result.new_observations} new observations, {result.new_models} new models, "
              f"{result.already_present} already present")  # fmt: skip
