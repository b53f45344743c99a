"""``phasewatch watch`` and ``phasewatch labs hub``: new open-weight releases found on the Hub."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    emit,
    finite,
    new_app,
    output_format,
    plural,
    print_json,
    registry_engine,
    table,
)

if TYPE_CHECKING:
    from phasewatch.services.watch import Poll

hub_app = new_app("The Hugging Face Hub organisations each lab publishes under (for `phasewatch watch`).")


@hub_app.command("set")
def hub_set(
    lab: str = typer.Argument(..., callback=checked("NAME"), help="Lab name or alias."),
    orgs: list[str] = typer.Argument(
        None, callback=checked("HUB_ORG"), help="Hub organisations, e.g. Qwen; none removes them."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Set a lab's Hub organisations (replacing those it had)."""
    from phasewatch.services.watch import set_orgs

    with registry_engine() as engine:
        result = set_orgs(engine, lab, list(orgs or []))
    if json_:
        print_json(asdict(result))
    else:
        print(f"{result.lab}: {', '.join(result.orgs) or '(no Hub organisations)'}")


@hub_app.command("list")
def hub_list(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Each lab with its Hub organisations."""
    from phasewatch.services.watch import list_orgs

    output_format(format_, json_)
    with registry_engine() as engine:
        rows = list_orgs(engine)
    emit(
        format_,
        f"{plural(len(rows), 'lab')} with Hub organisations",
        ("lab", "organisations"),
        [(r.lab, ", ".join(r.orgs)) for r in rows],
        json_=json_,
        data=[asdict(r) for r in rows],
    )


def watch(
    org: list[str] = typer.Option(
        None, "--org", callback=checked("HUB_ORG"), help="Poll only this organisation (repeatable)."
    ),
    every: float | None = typer.Option(
        None, "--every", callback=finite, min=1.0, help="Keep polling, every this many minutes."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Poll the Hub (HF_ENDPOINT) for new repositories of the labs' organisations; register each
    open-weight release (revision, parameters, licence) and queue its steering evaluation."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.watch import poll

    clock = system_clock()
    with registry_engine() as engine:
        while True:
            _show_poll(poll(engine, clock, list(org) if org else None), json_)
            if every is None:
                return
            clock.sleep(every * 60)


def _show_poll(result: Poll, json_: bool) -> None:
    found = result.found
    if json_:
        print_json([asdict(f) for f in found])
    else:
        registered = [f for f in found if f.status == "registered"]
        print(
            f"{result.endpoint}: {plural(len(found), 'new repository', 'new repositories')}, "
            f"{len(registered)} registered and queued",
            flush=True,
        )
        if found:
            table(
                "new on the Hub",
                ("repo", "lab", "status", "model", "revision", "params (B)", "licence", "job"),
                [
                    (
                        f.repo,
                        f.lab,
                        f.reason or f.status,
                        f.model,
                        (f.revision or "")[:12],
                        f"{f.params_b:.3g}" if f.params_b else None,
                        f.license,
                        f.job_id,
                    )
                    for f in found
                ],
            )
