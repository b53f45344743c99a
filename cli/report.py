"""``phasewatch report``: the interactive dashboard (one folder, opens from disk)."""

from __future__ import annotations

from pathlib import Path

import typer

from phasewatch.cli.common import JSON_OPTION, new_folder, print_json, registry_engine, status


def report(
    out: Path = typer.Option(
        Path("report"), "--out", callback=new_folder, help="Folder for the dashboard (created if missing)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Write the interactive dashboard of the registry's stored results (run `phase nc` or `phase reproduce`
    first for N_c): a folder that opens from disk, no server or network."""
    from phasewatch.dashboard.build import write_dashboard
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.report import report_data

    with registry_engine() as engine, status("writing the dashboard", quiet=json_):
        data = report_data(engine, system_clock().today())
        path = write_dashboard(data, out)
    if json_:
        print_json({"path": str(path), "findings": data.findings})
        return
    print("key findings:")
    for line in data.findings:
        print(f"  - {line}")
    print(f"report: {path.resolve()} (open it in a browser; it needs no server and no network)")
