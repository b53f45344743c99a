"""``phasewatch db``: schema migrations (the only way the schema changes)."""

from __future__ import annotations

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, emit, new_app, output_format

app = new_app("Create, upgrade and inspect the database schema.")


def _engine():
    from phasewatch.registry.db import open_registry

    return open_registry(require_current=False)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
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
    revision: str = typer.Argument(..., help="Target revision; 'base' removes every table."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Migrate the schema back to REVISION (data in removed tables is lost)."""
    from phasewatch.registry.db import downgrade as run_downgrade

    chosen = output_format(format_, json_)
    before, after = run_downgrade(_engine(), revision)
    _moved(chosen, before, after)


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
