"""``phasewatch releases``: log a new model release."""

from __future__ import annotations

import datetime as dt

import typer

from phasewatch.cli.common import JSON_OPTION, new_app, print_json, registry_session

app = new_app("Log new model releases.")


@app.command()
def add(
    name: str = typer.Argument(..., help="The model's name as its lab writes it."),
    lab: str = typer.Option(..., "--lab", help="The releasing lab (any alias)."),
    date: str = typer.Option(..., "--date", help="Release date: YYYY-MM-DD (or YYYY-MM / YYYY if that is all that is known)."),
    score: list[str] = typer.Option([], "--score", help="BENCHMARK=VALUE in percent, e.g. swe_bench_verified=80.2 (repeatable)."),
    open_weight: bool = typer.Option(False, "--open-weight", help="The weights are downloadable."),
    hf_repo: str | None = typer.Option(None, "--hf-repo", help="Hugging Face repo id ORG/NAME (open-weight releases)."),
    hf_revision: str | None = typer.Option(None, "--hf-revision", help="Hugging Face commit or tag."),
    source: str | None = typer.Option(None, "--source", help="URL the scores (and date) come from."),
    reported_by: str = typer.Option("lab", "--reported-by", help="lab, third_party or paper."),
    params_total_b: float | None = typer.Option(None, "--params-total-b", help="Total parameters, billions."),
    params_active_b: float | None = typer.Option(None, "--params-active-b", help="Active parameters (MoE), billions."),
    variant_of: str | None = typer.Option(None, "--variant-of", help="Same weights as this model at another compute tier."),
    family: str | None = typer.Option(None, "--family", help="Model family."),
    kind: str = typer.Option("frontier", "--kind", help="frontier or base."),
    json_: bool = JSON_OPTION,
) -> None:
    """Log a release with its scores (all validated before anything is written)."""
    from dataclasses import asdict

    from phasewatch.registry.releases import ReleaseRequest, add_release, parse_score

    request = ReleaseRequest(
        name=name, lab=lab, date=date, scores=tuple(parse_score(s) for s in score), open_weight=open_weight,
        hf_repo=hf_repo, hf_revision=hf_revision, source_url=source, reported_by=reported_by,
        params_total_b=params_total_b, params_active_b=params_active_b, variant_of=variant_of, family=family, kind=kind,
    )  # fmt: skip
    from phasewatch.registry.fits import verdict_for_release
    from phasewatch.registry.predictions import grade_predictions, movements

    from phasewatch.registry.clock import system_clock

    today = system_clock().today()
    with registry_session() as session:
        before = grade_predictions(session, today)
        result = add_release(session, request, today=today)
        verdict = verdict_for_release(session, result.model)
        moved = movements(before, grade_predictions(session, today, store=True))
    if json_:
        print_json({**asdict(result), "verdict": verdict.as_dict() if verdict else None,
                    "predictions_moved": [asdict(m) for m in moved]})  # fmt: skip
        return
    scores = ", ".join(f"{k} {v:g}" for k, v in result.scores.items()) or "no scores"
    weights = f", open weights ({result.hf_repo})" if result.hf_repo else ", open weights" if result.open_weight else ""
    print(f"logged {result.model} ({result.lab}, {result.release_date}{weights}): {scores}")
    if result.steering_job is not None:
        print(f"queued steering job #{result.steering_job} for {result.hf_repo} (run it with `phasewatch worker --once`)")
    _print_verdict(verdict)
    for m in moved:
        change = f"{m.before} -> {m.after}" if m.before != m.after else m.after
        print(f"prediction {m.key} ({m.title}): {change}: {m.note}")
    if not moved:
        print("no registered prediction moved")


def _print_verdict(verdict) -> None:  # noqa: ANN001 (registry.fits.Verdict)
    if verdict is None:
        print("no verdict: it needs an accepted fit (`phasewatch fit`) and both of its benchmarks' scores")
        return
    c = verdict.check
    where = "INSIDE" if c.inside else "OUTSIDE"
    lab_note = "" if c.lab_known else " (a lab the fit has not seen: effects drawn from the hierarchy)"
    print(f"h-field {c.h.mean:+.1f} pp (95 % HDI [{c.h.low:+.1f}, {c.h.high:+.1f}]) against fit #{verdict.fit_id} "
          f"({verdict.fit_panels})")
    print(f"{where} the 95 % predictive interval [{c.predicted.low:.1f}, {c.predicted.high:.1f}] for {verdict.y_benchmark} "
          f"of a release by {c.lab} at {verdict.x_benchmark} {c.x:g}{lab_note}")


@app.command()
def check(name: str = typer.Argument(..., help="A registered model (name or alias)."), json_: bool = JSON_OPTION) -> None:
    """Give a registered release its h-field and inside/outside verdict against the latest accepted fit."""
    from phasewatch.registry.fits import verdict_for_release

    with registry_session() as session:
        verdict = verdict_for_release(session, name)
    if json_:
        print_json(verdict.as_dict() if verdict else None)
        return
    _print_verdict(verdict)
