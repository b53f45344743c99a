"""``phasewatch models``: list and inspect models with their observations."""

from __future__ import annotations

import sys

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    console,
    emit,
    fmt,
    new_app,
    output_format,
    plural,
    print_json,
    registry_engine,
    table,
)
from phasewatch.registry.enums import ModelKind

app = new_app("List models and show each one's observations with their sources.")

WIDE_SHOW = 120  # below this, `models show` drops the source and panel columns (names stay whole)

DEFAULT_COLUMNS = ("swe_bench_verified", "gpqa_diamond")


DEFAULT_LIMIT = 50  # rows per page of `models list` unless --limit or --all says otherwise


@app.command("list")
def list_(
    lab: str | None = typer.Option(None, "--lab", callback=checked("NAME"), help="Only this lab (any alias)."),
    panel: str | None = typer.Option(
        None, "--panel", callback=checked("PANEL"), help="Only this panel's models, with its values."
    ),
    open_weight: bool | None = typer.Option(
        None, "--open-weight/--closed-weight", help="Only open-weight (or only closed) models.", show_default=False
    ),
    since: str | None = typer.Option(
        None, "--since", callback=checked("KEY"), help="Released on or after (YYYY[-MM[-DD]])."
    ),
    until: str | None = typer.Option(
        None, "--until", callback=checked("KEY"), help="Released on or before (YYYY[-MM[-DD]])."
    ),
    kind: ModelKind | None = typer.Option(None, "--kind", help="frontier or base.", case_sensitive=False),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", help="Models per page; 0 for every model."),
    offset: int = typer.Option(0, "--offset", help="Skip this many models (the next page: --offset 50)."),
    all_: bool = typer.Option(False, "--all", help="Every matching model (same as --limit 0)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """List models, oldest release first, a page at a time; with --panel, the panel's values for each benchmark."""
    from phasewatch.services.catalog import ModelFilter, list_models

    chosen = output_format(format_, json_)
    where = ModelFilter(lab, panel, open_weight, since, until, kind, None if all_ or limit == 0 else limit, offset)
    with registry_engine() as engine:
        page = list_models(engine, where)
    rows = page.rows
    present = sorted({k for r in rows for k in r.scores})
    columns = present if panel else [k for k in DEFAULT_COLUMNS if k in present]
    title = plural(page.total, "model") + (f" in panel {panel}" if panel else "")
    if rows and len(rows) < page.total:
        title += f", {page.offset + 1}-{page.offset + len(rows)} shown"
    if chosen == "csv":
        columns = present  # every benchmark, one column each: CSV is for full values
    emit(
        chosen,
        title,
        ("model", "lab", "released", "open", *columns, "obs"),
        [
            (r.name, r.lab, r.release_date, r.open_weight, *(r.scores.get(c) for c in columns), r.observations)
            for r in rows
        ],
        data=rows,
    )
    _paging_hint(page.remaining, page.offset + len(rows), page.total, len(rows))


def _paging_hint(remaining: int, next_offset: int, total: int, shown: int) -> None:
    """On stderr (stdout holds only the data, in every format): what the page left out and how to see it."""
    if remaining:
        sys.stderr.write(
            f"{plural(remaining, 'more model')} after these {shown}: --offset {next_offset} for the next page, "
            f"--all for all {total}\n"
        )
    elif shown == 0 and total:
        sys.stderr.write(f"no model at --offset {next_offset}: {plural(total, 'model')} match\n")


@app.command()
def show(
    name: str = typer.Argument(..., callback=checked("NAME"), help="Model name or alias."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Show a model, every observation with its source, and where sources disagree
    (--format csv: its observations, one per line)."""
    from phasewatch.services.catalog import show_model

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        detail = show_model(engine, name)
    if chosen == "json":
        print_json(detail)
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            (
                "model",
                "benchmark",
                "value",
                "stderr",
                "reported_by",
                "setting",
                "source_url",
                "retrieved_on",
                "note",
                "panels",
                "retracted_on",
            ),
            [
                (
                    detail.name,
                    o.benchmark,
                    o.value,
                    o.stderr,
                    o.reported_by,
                    o.setting,
                    o.source_url,
                    o.retrieved_on,
                    o.note,
                    "|".join(o.panels),
                    o.retracted_on,
                )
                for o in detail.observations
            ],
        )
        return
    facts = [
        ("lab", detail.lab),
        ("kind", detail.kind + (f" ({detail.family})" if detail.family else "")),
        ("released", detail.release_date and f"{detail.release_date} ({detail.release_date_precision} precision)"),
        ("date source", detail.release_date_source),
        ("open weights", detail.open_weight),
        (
            "hugging face",
            detail.hf_repo and f"{detail.hf_repo}" + (f" @ {detail.hf_revision}" if detail.hf_revision else ""),
        ),
        (
            "parameters (B)",
            detail.params_total_b
            and f"{detail.params_total_b:g}"
            + (f" total, {detail.params_active_b:g} active" if detail.params_active_b else ""),
        ),
        ("d_model / layers / heads", detail.d_model and f"{detail.d_model} / {detail.n_layers} / {detail.n_heads}"),
        ("variant of", detail.variant_of),
        ("variants", ", ".join(detail.variants)),
        ("also known as", ", ".join(detail.aliases)),
        ("notes", detail.notes),
    ]
    console().print(f"[bold]{detail.name}[/bold]")
    table(None, ("", ""), [(k, v) for k, v in facts if v not in (None, "")])
    if detail.conflicts:
        table(
            "sources disagree",
            ("benchmark", "values"),
            [(k, "  vs  ".join(fmt(v) for v in values)) for k, values in detail.conflicts.items()],
        )
    if detail.steering:
        table(
            "steering evaluations",
            ("job", "repo @ revision", "status", "layer", "probe accuracy (test)", "verdict"),
            [
                (
                    j["job"],
                    f"{j['hf_repo']} @ {j['revision']}",
                    j["status"] + (f": {j['error']}" if j.get("error") else ""),
                    j.get("layer"),
                    _rate(j.get("probe_accuracy")),
                    j.get("verdict"),
                )
                for j in detail.steering
            ],
        )
    wide = console().width >= WIDE_SHOW
    rows = [
        (
            o.benchmark,
            o.value if not o.retracted_on else f"{o.value:g} (retracted {o.retracted_on})",
            o.stderr,
            o.reported_by,
            o.setting or o.note,
            o.source_url,
            ", ".join(o.panels),
        )
        for o in detail.observations
    ]
    table(
        plural(len(detail.observations), "observation")
        + ("" if wide else f" (sources and panels: --format csv, or a terminal {WIDE_SHOW} columns wide)"),
        ("benchmark", "value", "±", "reported by", "setting", "source", "panels")[: None if wide else 5],
        [row if wide else row[:5] for row in rows],
    )


alias_app = new_app("Other names of a model (the same weights, counted once).")
app.add_typer(alias_app, name="alias")


@alias_app.command("add")
def alias_add(
    name: str = typer.Argument(..., callback=checked("NAME"), help="The registered model (name or alias)."),
    alias: str = typer.Argument(
        ..., callback=checked("NAME"), help="Another name of the same weights, e.g. 'DeepSeek-V4-Pro (preview)'."
    ),
) -> None:
    """Record ALIAS as another name of MODEL: one model, one row in every panel."""
    from phasewatch.services.catalog import add_alias

    with registry_engine() as engine:
        model = add_alias(engine, name, alias)
    print(f"{alias!r} is now another name of {model}")


@app.command()
def history(
    name: str = typer.Argument(..., callback=checked("NAME"), help="Model name or alias."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Every correction of a model (`releases correct`), with the old and new values."""
    from phasewatch.services.catalog import model_history

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        entries = model_history(engine, name)
    if chosen == "table" and not entries:
        print(f"{name}: no corrections recorded")
        return
    emit(
        chosen,
        f"{plural(len(entries), 'correction')} of {name}",
        ("on", "field", "old", "new", "reason", "source"),
        [(e.edited_on, e.field, e.old, e.new, e.reason, e.source_url) for e in entries],
        data=entries,
    )


def _rate(rate: dict | None) -> str:
    """k/n (value) [95 % interval], or nothing."""
    if not rate:
        return ""
    return f"{rate['k']}/{rate['n']} ({rate['value']:.0%}) [{rate['low']:.0%}, {rate['high']:.0%}]"
