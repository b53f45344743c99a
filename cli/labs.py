"""``phasewatch labs``: the labs and their aliases."""

from __future__ import annotations

import typer

from phasewatch.cli.common import JSON_OPTION, new_app, print_json, registry_session, table

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
        [(lab.name, ", ".join(lab.aliases), lab.models, lab.open_weight_models, lab.first_release, lab.last_release)
         for lab in labs],
    )  # fmt: skip


@app.command()
def add(
    name: str = typer.Argument(..., help="The lab's display name."),
    alias: list[str] = typer.Option([], "--alias", help="Another name for the lab (repeatable)."),
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
        print(f"{'added' if created else 'updated'} lab {result['lab']}" + (f" (aliases: {', '.join(alias)})" if alias else ""))
