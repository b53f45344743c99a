"""``phasewatch doctor``: is this installation ready? The database and its revision, the caches,
the optional steering dependencies and the compute device, one line each."""

from __future__ import annotations

from dataclasses import asdict

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, emit, output_format


def doctor(format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Check the installation: database and revision, caches, optional steering dependencies, device."""
    from phasewatch.services.doctor import check_installation

    output_format(format_, json_)  # a bad --format fails before any check runs
    checks = check_installation()
    emit(
        format_,
        "phasewatch doctor",
        ("check", "status", "detail"),
        [(c.check, c.status, c.detail) for c in checks],
        json_=json_,
        data=[asdict(c) for c in checks],
    )
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)
