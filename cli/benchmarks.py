"""``phasewatch benchmarks``: the benchmark vocabulary."""

from __future__ import annotations

from phasewatch.cli.common import JSON_OPTION, new_app, print_json, registry_session, table

app = new_app("List the benchmarks scores can be recorded for.")


@app.command("list")
def list_(json_: bool = JSON_OPTION) -> None:
    """List benchmark keys with their category, version and observation count."""
    from phasewatch.registry.queries import as_dict, list_benchmarks

    with registry_session() as session:
        rows = list_benchmarks(session)
    if json_:
        print_json(as_dict(rows))
        return
    table(f"{len(rows)} benchmarks", ("key", "name", "category", "version", "observations"),
          [(b.key, b.name, b.category, b.version, b.observations) for b in rows])  # fmt: skip
