"""``phasewatch predictions`` and ``phasewatch saturation``."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from phasewatch.cli.common import (
    JSON_OPTION,
    checked,
    console,
    fmt,
    new_app,
    new_file,
    print_json,
    registry_session,
    table,
)

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


def _saturation_states(session: Any, panels: tuple[str, ...], as_of: dt.date) -> dict[str, str]:
    from phasewatch.models.saturation import PAIRS, ROTATE_BELOW, pair_ratio
    from phasewatch.registry.predictions import snapshot

    releases = snapshot(session, panels, as_of)
    keys = sorted({k for r in releases for k in r.scores})
    saturating = set()
    for old, new in PAIRS:
        if old in keys and new in keys:
            ratio = pair_ratio(releases, old, new, ())
            if ratio.sigma is not None and ratio.sigma < ROTATE_BELOW:
                saturating.add(old)
    return {k: "saturating (rotate away)" if k in saturating else "active" for k in keys}


def _row_dict(row: Any) -> dict[str, Any]:
    return {
        **{k: v for k, v in asdict(row).items() if k != "grade"},
        "evidence": row.grade.evidence,
        "passing": row.grade.passing,
        "failing": row.grade.failing,
        "evaluated_on": row.grade.evaluated_on,
    }


@app.command("list")
def list_(as_of: str | None = AS_OF_OPTION, panel: list[str] = PANEL_OPTION, json_: bool = JSON_OPTION) -> None:
    """The current predictions with deadlines, status now, and their benchmarks' saturation."""
    from phasewatch.registry.predictions import grade_predictions, require_intact

    day, panels = _as_of(as_of), _panels(panel)
    with registry_session() as session:
        require_intact(session)
        rows = grade_predictions(session, day, panels)
        states = _saturation_states(session, panels, day)
    if json_:
        print_json([{**_row_dict(r), "benchmark_saturation": {b: states.get(b) for b in r.benchmarks}} for r in rows])
        return
    table(
        f"{len(rows)} predictions as of {day.isoformat()}",
        ("key", "prediction", "registered", "deadline", "status", "why", "benchmarks"),
        [
            (
                f"{r.key}@{r.revision}" if r.revision > 1 else r.key,
                r.title,
                r.registered_at,
                r.deadline or "next releases",
                f"{r.state} ({r.reason})",
                r.note,
                ", ".join(f"{b} ({states.get(b, 'no data')})" for b in r.benchmarks),
            )
            for r in rows
        ],
    )


@app.command()
def show(
    key: str = typer.Argument(..., callback=checked("PREDICTION_KEY"), help="Prediction key, e.g. gp-1."),
    json_: bool = JSON_OPTION,
) -> None:
    """A prediction's revisions (with hashes), criterion and stored gradings."""
    from phasewatch.registry.predictions import gradings_of, show_prediction

    with registry_session() as session:
        revisions = show_prediction(session, key)
        gradings = gradings_of(session, key)
        data = {
            "revisions": [
                {
                    "revision": p.revision,
                    "title": p.title,
                    "statement": p.statement,
                    "criterion": p.criterion,
                    "registered_at": p.registered_at.isoformat(),
                    "deadline": p.deadline.isoformat() if p.deadline else None,
                    "probability": p.probability,
                    "source": p.source,
                    "retrodiction": p.retrodiction,
                    "content_hash": p.content_hash,
                    "prev_hash": p.prev_hash,
                }
                for p in revisions
            ],
            "gradings": [
                {
                    "as_of": g.as_of.isoformat(),
                    "state": g.state,
                    "reason": g.reason,
                    "panels": g.panels,
                    "observations": len(g.observations),
                    "content_hash": g.content_hash,
                    "graded_at": g.graded_at.isoformat(timespec="seconds"),
                }
                for g in gradings
            ],
        }
    if json_:
        print_json(data)
        return
    latest = data["revisions"][-1]
    table(
        f"{key}: {latest['title']}",
        ("", ""),
        [
            ("statement", latest["statement"]),
            ("registered", latest["registered_at"]),
            ("deadline", latest["deadline"]),
            ("probability", latest["probability"]),
            ("source", latest["source"]),
            ("revisions", len(revisions)),
            ("content hash", latest["content_hash"]),
        ],
    )
    console().print(json.dumps(latest["criterion"], indent=2), markup=False, highlight=False)
    if gradings:
        table(
            "gradings (stored when the state changes)",
            ("as of", "state", "reason", "observations sealed", "graded at"),
            [(g["as_of"], g["state"], g["reason"], g["observations"], g["graded_at"]) for g in data["gradings"]],
        )


@app.command("grade")
def grade_(as_of: str | None = AS_OF_OPTION, panel: list[str] = PANEL_OPTION, json_: bool = JSON_OPTION) -> None:
    """Grade every prediction on the data held as of a date, with rule, window and evidence; state changes are sealed.

    Refuses (exit 3) when the prediction or grading log does not verify."""
    from phasewatch.registry.predictions import grade_predictions

    day, panels = _as_of(as_of), _panels(panel)
    with registry_session() as session:
        rows = grade_predictions(session, day, panels, store=True)
    if json_:
        print_json({"as_of": day.isoformat(), "panels": list(panels), "predictions": [_row_dict(r) for r in rows]})
        return
    console().print(
        f"graded {len(rows)} predictions as of {day.isoformat()} on {', '.join(panels)} (+ logged releases)",
        markup=False,
        soft_wrap=True,
    )
    for r in rows:
        console().print(
            f"\n[bold]{r.key}@{r.revision}[/bold] {r.title}: [bold]{r.state}[/bold] ({r.reason}) — {r.note} "
            f"(data as of {r.grade.evaluated_on})",
            soft_wrap=True,
        )
        evidence = r.grade.evidence
        console().print(f"  rule: {evidence.get('rule', '')}", markup=False, soft_wrap=True)
        console().print(f"  window (from {r.window_from}): {evidence.get('window', '')}", markup=False, soft_wrap=True)
        for side in ("pass", "fail"):
            for line in _evidence_lines(evidence[side]):
                console().print(f"  {side}: {line}", markup=False, soft_wrap=True)


def _evidence_lines(node: dict[str, Any]) -> list[str]:
    for combinator in ("all", "any"):
        if combinator in node:
            return [f"{combinator}: {line}" for part in node[combinator] for line in _evidence_lines(part)]
    verdict = {True: "met", False: "not met", None: "undecided"}[node["result"]]
    if node.get("settled"):
        verdict += ", settled"
    if node["metric"] == "h_field":
        entries = node.get("entries") or [
            {"name": n, "released": d, "h": h, "status": "scored"} for n, d, h in node["releases"]
        ]
        releases = (
            ", ".join(
                f"{e['name']} ({e['released']}) " + (f"h {e['h']:+.1f}" if e["h"] is not None else e["status"])
                for e in entries
            )
            or "none yet"
        )
        line = f"h of {node['lab']}'s {node['window']} {node['over']} {node['op']} {fmt(node['threshold'])}: {releases} → {verdict}"
        if node.get("after_window"):
            line += f"; later releases: {', '.join(node['after_window'])}"
        if node.get("same_weights"):
            line += f"; not counted again: {', '.join(node['same_weights'])}"
        return [line]
    what = {
        "top_k_spread": f"top-{node.get('k')} {node.get('benchmark')} spread",
        "correlation": f"r({node.get('x')}, {node.get('y')}) over n = {node.get('n')}",
        "count": f"models with {', '.join(node.get('benchmarks', []))}",
    }[node["metric"]]
    value = "n/a" if node["value"] is None else f"{node['value']:.3g}"
    line = f"{what} = {value} {node['op']} {fmt(node['threshold'])} → {verdict}"
    if node["metric"] == "top_k_spread" and node.get("models"):
        line += " [" + "; ".join(f"{n} {v:g}" for n, v in node["models"]) + "]"
    if node.get("note"):
        line += f" ({node['note']})"
    if node.get("provenance"):
        line += " {figures: " + ", ".join(f"{n} {who}" for who, n in node["provenance"].items()) + "}"
    if node.get("excluded"):
        shown = list(node["excluded"].items())
        line += (
            f"; excluded {len(shown)}: "
            + "; ".join(f"{n} ({why})" for n, why in shown[:8])
            + (" …" if len(shown) > 8 else "")
        )
    return [line]


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
) -> None:
    """Recompute both logs (predictions, sealed gradings) and name the first altered row; exit 3 if broken."""
    from phasewatch.registry.errors import IntegrityError
    from phasewatch.registry.predictions import verify_chain

    published = _read_checkpoint(checkpoint) if checkpoint else None
    with registry_session() as session:
        check = verify_chain(session, expect_head, published)
    if json_:
        print_json(asdict(check))
    elif check.ok:
        against = " and matches the published head" if expect_head or checkpoint else ""
        print(
            f"chain intact{against}: {check.rows} prediction rows, {check.gradings} sealed gradings, head {check.head}"
        )
    if not check.ok:
        raise IntegrityError(
            f"prediction log broken, first at {check.first_altered}: {'; '.join(check.problems)}",
            "restore the altered rows from a backup",
        )


def _read_checkpoint(path: Path) -> dict[str, Any]:
    from phasewatch.registry.errors import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(
            f"no such checkpoint file: {path}", "give a file written by `phasewatch predictions head`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{path.name} is not valid JSON: {exc}", "give a file written by `phasewatch predictions head`"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "phasewatch-checkpoint/1"
        or not isinstance(data.get("head"), str)
    ):
        raise InvalidInputError(
            f"{path.name} is not a phasewatch checkpoint", "give a file written by `phasewatch predictions head`"
        )
    return data


@app.command()
def head(
    out: Path | None = typer.Option(
        None,
        "--out",
        callback=new_file,
        help="Where to write the dated checkpoint file (default phasewatch-checkpoint-DATE.json here).",
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Print the head hash to publish elsewhere and write a dated checkpoint file (refuses a broken log, exit 3)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.predictions import checkpoint_of

    today = system_clock().today()
    with registry_session() as session:
        data = checkpoint_of(session, today)
    path = out or Path(f"phasewatch-checkpoint-{today.isoformat()}.json")
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if json_:
        print_json({"head": data["head"], "date": data["date"], "checkpoint": str(path)})
        return
    print(
        f"head {data['head']} ({data['date']}: {data['predictions']['count']} prediction rows, "
        f"{data['gradings']['count']} sealed gradings); checkpoint written to {path}"
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
    from phasewatch.registry.errors import InvalidInputError
    from phasewatch.registry.predictions import add_predictions

    if not file.is_file():
        raise InvalidInputError(f"no such file: {file}", "give the path of a JSON file")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{file.name} is not valid JSON: {exc}", "fix the file") from None
    with registry_session() as session:
        added = add_predictions(session, raw, revise=revise, retrodiction=retrodiction, today=system_clock().today())
    if json_:
        print_json({"registered": added})
    else:
        print(f"registered {', '.join(added)}")


@app.command()
def score(as_of: str | None = AS_OF_OPTION, panel: list[str] = PANEL_OPTION, json_: bool = JSON_OPTION) -> None:
    """Brier and log scores against a 0.5 baseline, and a reliability table, over resolved non-retrodictions."""
    from phasewatch.registry.predictions import require_intact, score_predictions

    with registry_session() as session:
        require_intact(session)
        scores = score_predictions(session, _as_of(as_of), _panels(panel))
    if json_:
        print_json(asdict(scores))
        return
    left = ", ".join(f"{n} {state}" for state, n in sorted(scores.left_out.items()))
    if not scores.resolved:
        print("no resolved prediction carries a probability yet" + (f" (left out: {left})" if left else ""))
        return
    print(
        f"{scores.resolved} resolved: Brier {scores.brier:.4f} (0 best; baseline 0.5 forecast {scores.baseline_brier:.4f}, "
        f"skill {scores.brier_skill:+.3f}), mean log score {scores.log_score:.4f} (0 best; baseline {scores.baseline_log_score:.4f})"
        + (f"; left out: {left}" if left else "")
    )
    if scores.note:
        print(scores.note)
    table(
        "reliability",
        ("probability bin", "count", "mean probability", "observed frequency", "95 % interval"),
        [
            (
                f"[{b.low:.1f}, {b.high:.1f})",
                b.count,
                b.mean_probability,
                b.observed_frequency,
                f"{b.frequency_low:.2f}–{b.frequency_high:.2f}",
            )
            for b in scores.bins
            if b.count
        ],
    )


def saturation(as_of: str | None = AS_OF_OPTION, panel: list[str] = PANEL_OPTION, json_: bool = JSON_OPTION) -> None:
    """Top-5 spread per benchmark (same weights once) and its history as known at each quarter end, σ, rotation advice."""
    from phasewatch.models.saturation import saturation_report
    from phasewatch.registry.predictions import snapshot

    day, panels = _as_of(as_of), _panels(panel)
    with registry_session() as session:
        releases = snapshot(session, panels, day)
        keys = sorted({k for r in releases for k in r.scores})
        benchmarks, pairs = saturation_report(releases, keys, day, history_at=lambda d: snapshot(session, panels, d))
    if json_:
        print_json(
            {
                "as_of": day.isoformat(),
                "benchmarks": [asdict(b) for b in benchmarks],
                "pairs": [asdict(p) for p in pairs],
            }
        )
        return
    table(
        f"top-5 spread per benchmark as of {day.isoformat()} (pp)",
        ("benchmark", "spread", "models", "state", "quarter ends (spread)"),
        [
            (b.benchmark, b.spread, b.n, b.state, "  ".join(f"{h.date[:7]}: {fmt(h.spread) or '-'}" for h in b.history))
            for b in benchmarks
        ],
    )
    table(
        "saturation ratio σ = spread(old) / spread(new)",
        ("old axis", "new axis", "σ", "advice"),
        [(p.old, p.new, None if p.sigma is None else round(p.sigma, 3), p.advice) for p in pairs],
    )
