"""``phasewatch db``: schema migrations (the only way the schema changes)."""

from __future__ import annotations

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, checked, emit, new_app, output_format, registry_engine

app = new_app("Create, upgrade and inspect the database schema.")


@app.command()
def upgrade(
    revision: str = typer.Argument("head", callback=checked("KEY"), help="Target revision (default: the newest)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema forward to REVISION (default: head)."""
    from phasewatch.services.database import upgrade as run_upgrade

    chosen = output_format(format_, json_)
    with registry_engine(require_current=False) as engine:
        moved = run_upgrade(engine, revision)
    _moved(chosen, moved.before, moved.after)


def _moved(chosen: str, before: str | None, after: str | None) -> None:
    if chosen == "table":
        print(f"schema: {before or '(empty)'} -> {after or '(empty)'}")
    else:
        emit(chosen, None, ("before", "after"), [(before, after)], data={"before": before, "after": after})


@app.command()
def downgrade(
    revision: str = typer.Argument(..., callback=checked("KEY"), help="Target revision; 'base' removes every table."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask: drop what the downgrade removes."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema back to REVISION (data in removed tables and columns is lost).

    Says what it will drop and asks first; --yes skips the question (needed when not
    run from a terminal)."""
    import sys

    from phasewatch.registry.errors import InvalidInputError
    from phasewatch.services.database import downgrade as run_downgrade

    def confirm(dropped: tuple[str, ...]) -> None:
        if yes:
            return
        what = _dropping(dropped)
        if not sys.stdin.isatty():
            raise InvalidInputError(
                f"`db downgrade {revision}` would drop {what}, with their data; not confirmed",
                "add --yes to confirm (or run it in a terminal to be asked)",
            )
        if not typer.confirm(f"This drops {what}, with their data. Continue?", default=False, err=True):
            raise InvalidInputError(f"downgrade to {revision} not confirmed: nothing dropped", "add --yes to confirm")

    chosen = output_format(format_, json_)
    with registry_engine(require_current=False) as engine:
        moved = run_downgrade(engine, revision, confirm)
    _moved(chosen, moved.before, moved.after)


def _dropping(dropped: tuple[str, ...]) -> str:
    """``tables a, b and columns t.c`` (a dropped table's own columns are not listed)."""
    from phasewatch.cli.common import plural

    tables = [d for d in dropped if "." not in d and " " not in d]
    columns = [d for d in dropped if d not in tables and d.split(".")[0].split(" ")[0] not in tables]
    parts = []
    if tables:
        parts.append(f"{plural(len(tables), 'table')} ({', '.join(tables)})")
    if columns:
        parts.append(f"{plural(len(columns), 'column')} ({', '.join(columns)})")
    return " and ".join(parts)


@app.command()
def current(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Show the database's schema revision and the one this phasewatch needs."""
    from phasewatch.services.database import schema_status

    output_format(format_, json_)
    with registry_engine(require_current=False) as engine:
        schema = schema_status(engine)
    now, head = schema.current, schema.head
    data = {"database": schema.database, "current": now, "head": head, "up_to_date": schema.up_to_date}
    status = "up to date" if now == head else "run `phasewatch db upgrade`" if now else "empty: run `phasewatch init`"
    emit(
        format_,
        None,
        ("database", "current", "head", "status"),
        [(data["database"], now or "(empty)", head, status)],
        json_=json_,
        data=data,
    )
