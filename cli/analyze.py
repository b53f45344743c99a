"""``phasewatch analyze``: two typed scores and a lab against the stored fit (what the dashboard's
Analyze form computes in the browser, from the same draws)."""

from __future__ import annotations

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, checked, emit, finite, registry_engine


def analyze(
    lab: str = typer.Option(
        ...,
        "--lab",
        callback=checked("NAME"),
        help="The releasing lab (any alias; an unknown lab is analysed as a new one).",
    ),
    x: float = typer.Option(..., "--x", callback=finite, help="The fit's x score (SWE-bench Verified, %)."),
    y: float = typer.Option(..., "--y", callback=finite, help="The fit's y score (GPQA Diamond, %)."),
    fit_id: int | None = typer.Option(None, "--fit", help="Fit id (default: the latest accepted fit)."),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """A hypothetical release's h-field (95 % HDI) and whether y lies in its lab's 95 % predictive interval."""
    from phasewatch.services.analysis import analyze as analyze_release

    with registry_engine() as engine:
        result = analyze_release(engine, lab, x, y, fit_id)
    c = result.check
    near = min(abs(y - c.predicted.low), abs(y - c.predicted.high))
    data = {
        "fit_id": result.fit_id,
        "lab": c.lab,
        "lab_known": c.lab_known,
        "x": x,
        "y": y,
        "h": {"mean": c.h.mean, "low": c.h.low, "high": c.h.high},
        "predicted": {"mean": c.predicted.mean, "low": c.predicted.low, "high": c.predicted.high},
        "inside": result.inside,
        "distance_to_nearer_edge": near,
    }
    rows = [
        ("h-field (pp)", f"{c.h.mean:+.1f}, 95 % HDI [{c.h.low:+.1f}, {c.h.high:+.1f}]"),
        (
            f"predicted {result.y_benchmark}",
            f"{c.predicted.mean:.1f}, 95 % [{c.predicted.low:.1f}, {c.predicted.high:.1f}]"
            + ("" if c.lab_known else f" ({c.lab} is not in the fit: effects drawn from the hierarchy)"),
        ),
        ("verdict", f"{'inside' if result.inside else 'OUTSIDE'} the interval, {near:.1f} pp from its nearer edge"),
    ]
    emit(
        format_,
        f"{c.lab} at {result.x_benchmark} {x:g}, {result.y_benchmark} {y:g} (fit #{result.fit_id})",
        ("", ""),
        rows,
        json_=json_,
        data=data,
    )
