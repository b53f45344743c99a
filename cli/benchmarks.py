"""``phasewatch benchmarks``: the benchmark vocabulary."""

from __future__ import annotations

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    emit,
    new_app,
    output_format,
    plural,
    registry_engine,
)

app = new_app("List and add the benchmarks scores can be recorded for.")


@app.command("list")
def list_(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """List benchmark keys with their category, version and observation count."""
    from phasewatch.services.catalog import list_benchmarks

    output_format(format_, json_)
    with registry_engine() as engine:
        rows = list_benchmarks(engine)
    emit(
        format_,
        plural(len(rows), "benchmark"),
        ("key", "name", "category", "version", "standard setting", "observations"),
        [(b.key, b.name, b.category, b.version, b.standard_setting, b.observations) for b in rows],
        json_=json_,
        data=rows,
    )


@app.command()
def add(
    key: str = typer.Argument(..., callback=checked("KEY"), help="Lower-case key, e.g. swe_bench_pro."),
    name: str = typer.Option(..., "--name", callback=checked("TITLE"), help="Display name."),
    category: str = typer.Option(
        ..., "--category", callback=checked("KEY"), help="coding, reasoning, math, agentic_coding, …"
    ),
    standard_setting: str = typer.Option(
        ..., "--standard-setting", callback=checked("TEXT"), help="The setting whose figures the live panel accepts."
    ),
    version: str | None = typer.Option(
        None, "--version", callback=checked("TITLE"), help="Task set / protocol version."
    ),
    nonstandard: list[str] = typer.Option(
        [],
        "--nonstandard",
        callback=checked("TEXT"),
        help="A setting phrase that marks a figure as not standard (repeatable).",
    ),
    url: str | None = typer.Option(None, "--url", callback=checked("URL"), help="Where the benchmark is defined."),
    description: str | None = typer.Option(None, "--description", callback=checked("TEXT"), help="One line about it."),
) -> None:
    """Register a benchmark with its standard setting written down."""
    from phasewatch.services.catalog import BenchmarkSpec, add_benchmark

    spec = BenchmarkSpec(key, name, category, standard_setting, version, url, description, tuple(nonstandard))
    with registry_engine() as engine:
        benchmark = add_benchmark(engine, spec)
    print(f"added benchmark {benchmark} ({name}; standard setting: {standard_setting})")
