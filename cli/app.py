"""The ``phasewatch`` application: noun groups with verb commands.

Heavy libraries (pymc, arviz, torch, transformers, pandas) are imported only
inside the commands that need them, so ``--help`` and registry queries start fast.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import typer
from typer.main import get_command_name
from typer.models import CommandInfo

from phasewatch.cli import (
    analyze,
    benchmarks,
    coupling,
    db,
    docs,
    doctor,
    labs,
    models,
    panels,
    phase,
    predictions,
    releases,
    report,
    scores,
    server,
    steer,
    watch,
)
from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    emit,
    new_app,
    new_file,
    output_format,
    plural,
    print_json,
    registry_engine,
)
from phasewatch.registry.enums import ExportFormat

app = new_app(
    "phasewatch: a registry of AI model releases and benchmark scores with provenance, "
    "for testing how capabilities couple as models scale.",
    completion=True,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        from phasewatch.migrations import HEAD_REVISION

        typer.echo(f"phasewatch {version('phasewatch')} (schema {HEAD_REVISION})")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


app.add_typer(db.app, name="db")
app.add_typer(labs.app, name="labs")
app.add_typer(models.app, name="models")
app.add_typer(releases.app, name="releases")
app.add_typer(scores.app, name="scores")
app.add_typer(panels.app, name="panels")
app.add_typer(benchmarks.app, name="benchmarks")
app.add_typer(coupling.fits_app, name="fits")
app.add_typer(coupling.fit_server_app, name="fit-server")
app.add_typer(server.app, name="server")
app.command()(coupling.fit)
app.command("fit-matrix")(coupling.fit_matrix)
app.command()(coupling.hfield)
app.command()(coupling.predict)
app.command()(coupling.coverage)
app.add_typer(predictions.app, name="predictions")
app.command()(predictions.saturation)
app.add_typer(phase.app, name="phase")
app.add_typer(steer.app, name="steer")
app.command()(steer.worker)
app.command()(watch.watch)
labs.app.add_typer(watch.hub_app, name="hub")
app.command()(report.report)
app.command()(docs.docs)
app.command()(analyze.analyze)
app.command()(doctor.doctor)


@app.command()
def init(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Create or upgrade the database and load the bundled, sourced data (safe to repeat)."""
    from phasewatch.services.database import initialise

    chosen = output_format(format_, json_)
    with registry_engine(require_current=False) as engine:
        result = initialise(engine)
    if chosen == "json":
        print_json(vars(result))
        return
    rows = [(k.replace("_", " "), v) for k, v in result.added.items()]
    if chosen == "csv":
        emit("csv", None, ("added", "rows"), rows)
        return
    print(f"database: {result.database}")
    print(f"schema: {result.revision_before or '(empty)'} -> {result.revision_after}")
    if not any(result.added.values()):
        print("bundled data already loaded: nothing added")
        return
    emit("table", f"added {plural(sum(result.added.values()), 'row')}", ("added", "rows"), rows)


@app.command()
def export(
    panel: str | None = typer.Option(
        None, "--panel", callback=checked("PANEL"), help="Only this panel's observations."
    ),
    format_: ExportFormat = typer.Option(ExportFormat.CSV, "--format", help="csv or json.", case_sensitive=False),
    out: Path | None = typer.Option(
        None, "--out", callback=new_file, help="Write to this file instead of standard output."
    ),
) -> None:
    """Export observations with their models' metadata (re-importable with `scores import`)."""
    from phasewatch.services.catalog import export_observations

    with registry_engine() as engine:
        text = export_observations(engine, format_, panel)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def main() -> None:
    tune_collector()
    for_arguments(sys.argv[1:])()


def for_arguments(argv: Sequence[str]) -> typer.Typer:
    """The application with only the group or command that ``argv`` names first.

    Building Click's command tree inspects every command's signature (~0.1 s for all of
    them; docs/PERFORMANCE.md, "...after a leaner start-up"); a command needs only its own group. Anything
    else (``--help``, ``--version``, shell completion, a name that is not a command) gets
    the whole tree, so help and "no such command" read as before.
    """
    if not argv or argv[0].startswith("-") or os.environ.get("_PHASEWATCH_COMPLETE"):
        return app
    name = argv[0]
    groups = [g for g in app.registered_groups if g.name == name]
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    if not groups and not commands:
        return app
    lean = copy.copy(app)
    lean.registered_groups, lean.registered_commands = groups, commands
    return lean


def _command_name(info: CommandInfo) -> str:
    if info.name:
        return info.name
    return get_command_name(info.callback.__name__) if info.callback else ""


def tune_collector() -> None:
    """A command is short-lived and allocates mostly acyclic objects (imports, rows): collect
    cycles less often (gen-0 threshold 50,000, not 700) and skip the final collection at exit.
    Saves ~0.2 s of a ~1 s registry query (docs/PERFORMANCE.md, "Start-up and exit")."""
    import atexit
    import gc

    gc.set_threshold(50_000, 10, 10)
    atexit.register(gc.freeze)  # registered first, so it runs last: nothing is left to collect


if __name__ == "__main__":
    main()
