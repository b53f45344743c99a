"""``phasewatch panels``: the named, frozen selections of observations."""

from __future__ import annotations

import typer

from phasewatch.cli.common import JSON_OPTION, fmt, new_app, print_json, registry_session, table

app = new_app("List and inspect panels (frozen selections of observations).")


@app.command("list")
def list_(json_: bool = JSON_OPTION) -> None:
    """List panels with their size and licence."""
    from phasewatch.registry.queries import as_dict, list_panels

    with registry_session() as session:
        panels = list_panels(session)
    if json_:
        print_json(as_dict(panels))
        return
    table(
        f"{len(panels)} panels",
        ("panel", "models", "observations", "benchmarks", "frozen", "licence"),
        [(p.name, p.models, p.observations, ", ".join(p.benchmarks), p.frozen, p.licence) for p in panels],
    )


@app.command()
def show(name: str = typer.Argument(..., help="Panel name."), json_: bool = JSON_OPTION) -> None:
    """Show a panel's description, source, licence and coverage."""
    from phasewatch.registry.queries import as_dict, show_panel

    with registry_session() as session:
        panel = show_panel(session, name)
    if json_:
        print_json(as_dict(panel))
        return
    table(
        panel.name,
        ("", ""),
        [("description", panel.description), ("source", panel.source), ("licence", panel.licence),
         ("frozen", panel.frozen), ("models", panel.models), ("observations", panel.observations),
         ("per benchmark", ", ".join(f"{k} {v}" for k, v in panel.benchmarks.items())),
         ("subsets (models)", ", ".join(f"{k} {fmt(v)}" for k, v in panel.subsets.items()))],
    )  # fmt: skip
