"""``phasewatch db``: schema migrations (the only way the schema changes)."""

from __future__ import annotations

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, checked, emit, new_app, output_format

app = new_app("Create, upgrade and inspect the database schema.")


def _engine():
    from phasewatch.registry.db import open_registry

    return open_registry(require_current=False)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", callback=checked("KEY"), help="Target revision (default: the newest)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema forward to REVISION (default: head)."""
    from phasewatch.registry.db import upgrade as run_upgrade

    chosen = output_format(format_, json_)
    before, after = run_upgrade(_engine(), revision)
    _moved(chosen, before, after)


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

    from phasewatch.registry.db import downgrade as run_downgrade
    from phasewatch.registry.db import downgrade_plan
    from phasewatch.registry.errors import InvalidInputError

    chosen = output_format(format_, json_)
    engine = _engine()
    dropped = downgrade_plan(engine, revision)
    if dropped and not yes:
        what = _dropping(dropped)
        if not sys.stdin.isatty():
            raise InvalidInputError(
                f"`db downgrade {revision}` would drop {what}, with their data; not confirmed",
                "add --yes to confirm (or run it in a terminal to be asked)",
            )
        if not typer.confirm(f"This drops {what}, with their data. Continue?", default=False, err=True):
            raise InvalidInputError(f"downgrade to {revision} not confirmed: nothing dropped", "add --yes to confirm")
    before, after = run_downgrade(engine, revision)
    _moved(chosen, before, after)


def _dropping(dropped: list[str]) -> str:
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
    from phasewatch.registry.db import current_revision, head_revision, redact

    output_format(format_, json_)
    engine = _engine()
    now, head = current_revision(engine), head_revision()
    data = {
        "database": redact(engine.url.render_as_string(hide_password=False)),
        "current": now,
        "head": head,
        "up_to_date": now == head,
    }
    status = "up to date" if now == head else "run `phasewatch db upgrade`" if now else "empty: run `phasewatch init`"
    emit(
        format_,
        None,
        ("database", "current", "head", "status"),
        [(data["database"], now or "(empty)", head, status)],
        json_=json_,
        data=data,
    )
