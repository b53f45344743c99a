"""What every command shares: opening the registry, errors, tables and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from phasewatch.registry.errors import PhasewatchError
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

_console: Console | None = None


def console() -> Console:
    """The stdout console, created on first use (rich costs start-up time that
    commands printing plain lines need not pay)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=False)
    return _console


class PhasewatchGroup(TyperGroup):
    """Renders user errors as one line on stderr with their exit code (never a traceback)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhasewatchError as exc:
            sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(exc.exit_code) from None


def new_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=PhasewatchGroup,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


@contextmanager
def registry_session() -> Iterator[Session]:
    """One transaction on the configured, current registry."""
    from phasewatch.registry.db import open_registry, transaction

    engine = open_registry()
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


def status(text: str, *, quiet: bool = False):
    """A spinner on stderr for work that takes seconds; nothing when ``quiet`` (--json)."""
    from contextlib import nullcontext

    if quiet:
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(text)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(fmt(v) for v in row))
    console().print(grid)


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return " / ".join(fmt(v) for v in value)
    return str(value)
