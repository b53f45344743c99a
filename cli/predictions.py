"""``phasewatch predictions`` and ``phasewatch saturation``: parse, one call to
:mod:`phasewatch.services.grading`, render."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    console,
    emit,
    fmt,
    new_app,
    new_file,
    output_format,
    plural,
    print_json,
    registry_engine,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from phasewatch.registry.predictions import GradeRow

app = new_app("Registered, timestamped predictions: list, grade, verify, head, add, score.")

AS_OF_OPTION = typer.Option(
    None,
    "--as-of",
    callback=checked("KEY"),
    help="Grade on the data the registry held on this date (YYYY-MM-DD; default today).",
)
PANEL_OPTION = typer.Option(
    [],
    "--panel",
    callback=checked("PANEL"),
    help="Panels whose observations count (repeatable, first wins; default: growing-pains-34, "
    "post-cutoff-2026-04, sourced-2026-11). Logged releases always count.",
)


def _as_of(text: str | None) -> dt.date:
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.dates import parse_past_date
    from phasewatch.registry.errors import InvalidInputError

    today = system_clock().today()
    if text is None:
        return today
    day, precision = parse_past_date(text, what="--as-of", today=today)
    if precision != "day":
        raise InvalidInputError(f"--as-of {text!r} is not a full date", "write it as YYYY-MM-DD")
    return day


def _panels(panel: list[str]) -> tuple[str, ...]:
    from phasewatch.registry.predictions import DEFAULT_PANELS

    return tuple(panel) or DEFAULT_PANELS


def _row_dict(row: GradeRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "revision": row.revision,
        "title": row.title,
        "registered_at": row.registered_at,
        "deadline": row.deadline,
        "probability": row.probability,
        "state": row.state,
        "note": row.note,
        "benchmarks": row.benchmarks,
        "reason": row.reason,
        "retrodiction": row.retrodiction,
        "window_from": row.window_from,
        "evidence": row.grade.evidence,
        "passing": row.grade.passing,
        "failing": row.grade.failing,
        "evaluated_on": row.grade.evaluated_on,
    }


def _key(row: GradeRow) -> str:
    return f"{row.key}@{row.revision}" if row.revision > 1 else row.key


@app.command("list")
def list_(
    as_of: str | None = AS_OF_OPTION,
    panel: list[str] = PANEL_OPTION,
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """The current predictions with deadlines, status now, and their benchmarks' saturation."""
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        listing = grading.list_predictions(engine, _as_of(as_of), _panels(panel))
    states = listing.saturation
    emit(
        chosen,
        f"{plural(len(listing.rows), 'prediction')} as of {listing.as_of.isoformat()}",
        ("key", "prediction", "registered", "deadline", "status", "why", "benchmarks"),
        [
            (
                _key(r),
                r.title,
                r.registered_at,
                r.deadline or "next releases",
                f"{r.state} ({r.reason})",
                r.note,
                ", ".join(f"{b} ({states.get(b, 'no data')})" for b in r.benchmarks),
            )
            for r in listing.rows
        ],
        data=[{**_row_dict(r), "benchmark_saturation": {b: states.get(b) for b in r.benchmarks}} for r in listing.rows],
    )


@app.command()
def show(
    key: str = typer.Argument(..., callback=checked("PREDICTION_KEY"), help="Prediction key, e.g. gp-1."),
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """A prediction's revisions (with hashes), criterion in words and JSON, and stored gradings."""
    import json

    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        record = grading.show(engine, key)
    if chosen == "json":
        print_json(
            {"revisions": [asdict(r) for r in record.revisions], "gradings": [asdict(g) for g in record.gradings]}
        )
        return
    latest = record.latest
    rows = [
        ("statement", latest.statement),
        ("criterion", latest.description),
        ("registered", latest.registered_at),
        ("deadline", latest.deadline),
        ("probability", latest.probability),
        ("source", latest.source),
        ("revisions", len(record.revisions)),
        ("content hash", latest.content_hash),
    ]
    if chosen == "csv":
        emit("csv", None, ("", ""), [*rows, ("criterion json", json.dumps(latest.criterion, sort_keys=True))])
        return
    table(f"{record.key}: {latest.title}", ("", ""), rows)
    console().print(json.dumps(latest.criterion, indent=2), markup=False, highlight=False)
    if record.gradings:
        table(
            f"{plural(len(record.gradings), 'stored grading')} (stored when the state changes)",
            ("as of", "state", "reason", "observations sealed", "graded at"),
            [(g.as_of, g.state, g.reason, g.observations, g.graded_at) for g in record.gradings],
        )


@app.command("grade")
def grade_(
    as_of: str | None = AS_OF_OPTION,
    panel: list[str] = PANEL_OPTION,
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """Grade every prediction on the data held as of a date, with rule, window and evidence; state changes are sealed.

    Refuses (exit 3) when the prediction or grading log does not verify."""
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        result = grading.grade(engine, _as_of(as_of), _panels(panel))
    day = result.as_of.isoformat()
    if chosen == "json":
        print_json(
            {
                "as_of": day,
                "panels": list(result.panels),
                "predictions": [_row_dict(r) for r in result.rows],
            }
        )
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            ("key", "revision", "state", "reason", "note", "evaluated_on", "deadline", "stored", "evidence"),
            [
                (r.key, r.revision, r.state, r.reason, r.note, r.grade.evaluated_on, r.deadline, r.stored, _lines(r))
                for r in result.rows
            ],
        )
        return
    console().print(
        f"graded {plural(len(result.rows), 'prediction')} as of {day} on {', '.join(result.panels)} "
        f"(+ logged releases); {plural(result.stored, 'state change')} sealed",
        markup=False,
        soft_wrap=True,
    )
    for r in result.rows:
        console().print(
            f"\n[bold]{r.key}@{r.revision}[/bold] {r.title}: [bold]{r.state}[/bold] ({r.reason}) — {r.note} "
            f"(data as of {r.grade.evaluated_on})",
            soft_wrap=True,
        )
        for line in _explained(r):
            console().print(f"  {line}", markup=False, soft_wrap=True)


def _explained(row: GradeRow) -> Iterator[str]:
    evidence = row.grade.evidence
    yield f"rule: {evidence.get('rule', '')}"
    yield f"window (from {row.window_from}): {evidence.get('window', '')}"
    if row.criterion is not None:
        yield from row.criterion.explain(evidence)


def _lines(row: GradeRow) -> str:
    return " | ".join(line for line in _explained(row) if line.startswith(("pass:", "fail:")))


@app.command()
def verify(
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        callback=checked("KEY"),
        help="A head published earlier (`predictions head`): truncation, rewrites and forged appends since are caught.",
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="A checkpoint file written by `predictions head`: also names the first row altered or removed since.",
    ),
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """Recompute both logs (predictions, sealed gradings) and name the first altered row; exit 3 if broken."""
    from phasewatch.registry.errors import IntegrityError
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        check = grading.verify(engine, expect_head, checkpoint)
    if chosen == "json":
        print_json(asdict(check))
    elif chosen == "csv":
        emit(
            "csv",
            None,
            ("ok", "prediction_rows", "sealed_gradings", "head", "first_altered", "problems"),
            [(check.ok, check.rows, check.gradings, check.head, check.first_altered, check.problems)],
        )
    elif check.ok:
        against = " and matches the published head" if expect_head or checkpoint else ""
        print(
            f"chain intact{against}: {plural(check.rows, 'prediction row')}, "
            f"{plural(check.gradings, 'sealed grading')}, head {check.head}"
        )
    if not check.ok:
        raise IntegrityError(
            f"prediction log broken, first at {check.first_altered}: {'; '.join(check.problems)}",
            "restore the altered rows from a backup",
        )


@app.command()
def head(
    out: Path | None = typer.Option(
        None,
        "--out",
        callback=new_file,
        help="Where to write the dated checkpoint file (default phasewatch-checkpoint-DATE.json here).",
    ),
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """Print the head hash to publish elsewhere and write a dated checkpoint file (refuses a broken log, exit 3)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        point = grading.head(engine, system_clock().today(), out)
    if chosen != "table":
        emit(
            chosen,
            None,
            ("head", "date", "checkpoint"),
            [(point.head, point.date, str(point.path))],
            data={"head": point.head, "date": point.date, "checkpoint": str(point.path)},
        )
        return
    print(
        f"head {point.head} ({point.date}: {plural(point.predictions, 'prediction row')}, "
        f"{plural(point.gradings, 'sealed grading')}); checkpoint written to {point.path}"
    )


@app.command()
def add(
    file: Path = typer.Argument(..., help="JSON file: one prediction object or a list (see docs/predictions.md)."),
    revise: bool = typer.Option(False, "--revise", help="Register a new revision of an existing key."),
    retrodiction: bool = typer.Option(
        False, "--retrodiction", help="Register a claim already resolvable today; it is graded but never scored."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Register predictions in the criterion language, timestamped today; refused if already resolvable (exit 2)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.services import grading

    raw = grading.read_predictions(file)
    with registry_engine() as engine:
        added = grading.register(engine, raw, system_clock().today(), revise=revise, retrodiction=retrodiction)
    if json_:
        print_json({"registered": list(added)})
    else:
        print(f"registered {', '.join(added)}")


@app.command()
def score(
    as_of: str | None = AS_OF_OPTION,
    panel: list[str] = PANEL_OPTION,
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """Brier and log scores against a 0.5 baseline, and a reliability table, over resolved non-retrodictions."""
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        scores = grading.score(engine, _as_of(as_of), _panels(panel))
    columns = ("probability bin", "count", "mean probability", "observed frequency", "95 % interval")
    bins = [b for b in scores.bins if b.count]
    if chosen == "json":
        print_json(asdict(scores))
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            ("low", "high", "count", "mean_probability", "observed_frequency", "frequency_low", "frequency_high"),
            [
                (b.low, b.high, b.count, b.mean_probability, b.observed_frequency, b.frequency_low, b.frequency_high)
                for b in bins
            ],
        )
        return
    left = ", ".join(f"{n} {state}" for state, n in sorted(scores.left_out.items()))
    if not scores.resolved:
        print("no resolved prediction carries a probability yet" + (f" (left out: {left})" if left else ""))
        return
    print(
        f"{plural(scores.resolved, 'resolved prediction')}: Brier {scores.brier:.4f} (0 best; baseline 0.5 forecast "
        f"{scores.baseline_brier:.4f}, skill {scores.brier_skill:+.3f}), mean log score {scores.log_score:.4f} "
        f"(0 best; baseline {scores.baseline_log_score:.4f})" + (f"; left out: {left}" if left else "")
    )
    if scores.note:
        print(scores.note)
    table(
        "reliability",
        columns,
        [
            (
                f"[{b.low:.1f}, {b.high:.1f})",
                b.count,
                b.mean_probability,
                b.observed_frequency,
                f"{b.frequency_low:.2f}–{b.frequency_high:.2f}",
            )
            for b in bins
        ],
    )


def saturation(
    as_of: str | None = AS_OF_OPTION,
    panel: list[str] = PANEL_OPTION,
    json_: bool = JSON_OPTION,
    format_: str | None = FORMAT_OPTION,
) -> None:
    """Top-5 spread per benchmark (same weights once) and its history as known at each quarter end, σ, rotation advice."""
    from phasewatch.services import grading

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        report = grading.saturation(engine, _as_of(as_of), _panels(panel))
    if chosen == "json":
        print_json(
            {
                "as_of": report.as_of.isoformat(),
                "benchmarks": [asdict(b) for b in report.benchmarks],
                "pairs": [asdict(p) for p in report.pairs],
            }
        )
        return
    if chosen == "csv":
        emit(
            "csv",
            None,
            ("benchmark", "spread", "models", "state", "history"),
            [
                (b.benchmark, b.spread, b.n, b.state, [[h.date, h.spread, h.n] for h in b.history])
                for b in report.benchmarks
            ],
        )
        return
    table(
        f"top-5 spread per benchmark as of {report.as_of.isoformat()} (pp)",
        ("benchmark", "spread", "models", "state", "quarter ends (spread)"),
        [
            (b.benchmark, b.spread, b.n, b.state, "  ".join(f"{h.date[:7]}: {fmt(h.spread) or '-'}" for h in b.history))
            for b in report.benchmarks
        ],
    )
    table(
        "saturation ratio σ = spread(old) / spread(new)",
        ("old axis", "new axis", "σ", "advice"),
        [(p.old, p.new, None if p.sigma is None else round(p.sigma, 3), p.advice) for p in report.pairs],
    )
