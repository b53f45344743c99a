"""``phasewatch report``: the static HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from phasewatch.cli.common import JSON_OPTION, print_json, registry_session, status


def report(
    out: Path = typer.Option(Path("report"), "--out", help="Folder for index.html (created if missing)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Write one self-contained HTML report of the registry (plots, tables, predictions, provenance)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.report import build_report

    with registry_session() as session, status("writing the report", quiet=json_):
        summary = build_report(session, out, today=system_clock().today())
    if json_:
        print_json({"path": str(summary.path), "findings": summary.findings})
        return
    print("key findings:")
    for line in summary.findings:
        print(f"  - {line}")
    print(f"report: {summary.path.resolve()} (open it in a browser; it needs no network)")
