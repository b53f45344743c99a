"""``phasewatch db``: schema migrations (the only way the schema changes)."""

from __future__ import annotations

import typer

from phasewatch.cli.common import JSON_OPTION, new_app, print_json, table

app = new_app("Create, upgrade and inspect the database schema.")


def _engine():  # noqa: ANN202
    from phasewatch.registry.db import open_registry

    return open_registry(require_current=False)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema forward to REVISION (default: head)."""
    from phasewatch.registry.db import upgrade as run_upgrade

    before, after = run_upgrade(_engine(), revision)
    if json_:
        print_json({"before": before, "after": after})
    else:
        print(f"schema: {before or '(empty)'} -> {after}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision; 'base' removes every table."),
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema back to REVISION (data in removed tables is lost)."""
    from phasewatch.registry.db import downgrade as run_downgrade

    before, after = run_downgrade(_engine(), revision)
    if json_:
        print_json({"before": before, "after": after})
    else:
        print(f"schema: {before or '(empty)'} -> {after or '(empty)'}")


@app.command()
def current(json_: bool = JSON_OPTION) -> None:
    """Show the database's schema revision and the one this phasewatch needs."""
    from phasewatch.registry.db import current_revision, head_revision, redact

    engine = _engine()
    now, head = current_revision(engine), head_revision()
    data = {
        "database": redact(engine.url.render_as_string(hide_password=False)),
        "current": now,
        "head": head,
        "up_to_date": now == head,
    }
    if json_:
        print_json(data)
        return
    status = "up to date" if now == head else "run `phasewatch db upgrade`" if now else "empty: run `phasewatch init`"
    table(None, ("database", "current", "head", "status"), [(data["database"], now or "(empty)", head, status)])
