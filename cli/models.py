"""``phasewatch models``: list and inspect models with their observations."""

from __future__ import annotations

import typer

from phasewatch.cli.common import (
    JSON_OPTION,
    checked,
    console,
    fmt,
    new_app,
    print_json,
    registry_session,
    table,
)
from phasewatch.registry.enums import ModelKind

app = new_app("List models and show each one's observations with their sources.")

DEFAULT_COLUMNS = ("swe_bench_verified", "gpqa_diamond")


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
    json_: bool = JSON_OPTION,
) -> None:
    """List models; with --panel, the panel's values for each benchmark."""
    from phasewatch.registry.queries import as_dict, list_models

    with registry_session() as session:
        rows = list_models(session, lab=lab, panel=panel, open_weight=open_weight, since=since, until=until, kind=kind)
    if json_:
        print_json(as_dict(rows))
        return
    present = sorted({k for r in rows for k in r.scores})
    columns = present if panel else [k for k in DEFAULT_COLUMNS if k in present]
    table(
        f"{len(rows)} models" + (f" in panel {panel}" if panel else ""),
        ("model", "lab", "released", "open", *columns, "obs"),
        [
            (r.name, r.lab, r.release_date, r.open_weight, *(r.scores.get(c) for c in columns), r.observations)
            for r in rows
        ],
    )


@app.command()
def show(
    name: str = typer.Argument(..., callback=checked("NAME"), help="Model name or alias."), json_: bool = JSON_OPTION
) -> None:
    """Show a model, every observation with its source, and where sources disagree."""
    from phasewatch.registry.queries import as_dict, show_model

    with registry_session() as session:
        detail = show_model(session, name)
    if json_:
        print_json(as_dict(detail))
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
    table(
        f"{len(detail.observations)} observations",
        ("benchmark", "value", "±", "reported by", "setting", "source", "panels"),
        [
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
        ],
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
    from phasewatch.registry.releases import add_alias

    with registry_session() as session:
        model = add_alias(session, name, alias)
    print(f"{alias!r} is now another name of {model}")


@app.command()
def history(
    name: str = typer.Argument(..., callback=checked("NAME"), help="Model name or alias."), json_: bool = JSON_OPTION
) -> None:
    """Every correction of a model (`releases correct`), with the old and new values."""
    from phasewatch.registry.queries import as_dict
    from phasewatch.registry.releases import model_history

    with registry_session() as session:
        entries = model_history(session, name)
    if json_:
        print_json(as_dict(entries))
        return
    if not entries:
        print(f"{name}: no corrections recorded")
        return
    table(
        f"{len(entries)} corrections of {name}",
        ("on", "field", "old", "new", "reason", "source"),
        [(e.edited_on, e.field, e.old, e.new, e.reason, e.source_url) for e in entries],
    )


def _rate(rate: dict | None) -> str:
    """k/n (value) [95 % interval], or nothing."""
    if not rate:
        return ""
    return f"{rate['k']}/{rate['n']} ({rate['value']:.0%}) [{rate['low']:.0%}, {rate['high']:.0%}]"
