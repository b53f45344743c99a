"""``phasewatch report``: the interactive dashboard (one folder, opens from disk)."""

from __future__ import annotations

from pathlib import Path

import typer

from phasewatch.cli.common import JSON_OPTION, new_folder, print_json, registry_session, status


def report(
    out: Path = typer.Option(
        Path("report"), "--out", callback=new_folder, help="Folder for the dashboard (created if missing)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Write the interactive dashboard of the registry: a folder that opens from disk, no server or network."""
    from phasewatch.dashboard.build import build_dashboard
    from phasewatch.registry.clock import system_clock

    with registry_session() as session, status("writing the dashboard", quiet=json_):
        summary = build_dashboard(session, out, today=system_clock().today())
    if json_:
        print_json({"path": str(summary.path), "findings": summary.findings})
        return
    print("key findings:")
    for line in summary.findings:
        print(f"  - {line}")
    print(f"report: {summary.path.resolve()} (open it in a browser; it needs no server and no network)")
