"""``phasewatch releases``: log a new model release."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from phasewatch.cli.common import FORMAT_OPTION, JSON_OPTION, new_app, print_json, registry_engine

if TYPE_CHECKING:
    from phasewatch.registry.fits import Verdict
    from phasewatch.services.releases import LoggedRelease
from phasewatch.cli.common import checked, finite
from phasewatch.registry.enums import ModelKind, ReportedBy

app = new_app("Log new model releases.")


@app.command()
def add(
    name: str = typer.Argument(..., callback=checked("NAME"), help="The model's name as its lab writes it."),
    lab: str = typer.Option(..., "--lab", callback=checked("NAME"), help="The releasing lab (any alias)."),
    date: str = typer.Option(
        ...,
        "--date",
        callback=checked("KEY"),
        help="Release date: YYYY-MM-DD (or YYYY-MM / YYYY if that is all that is known).",
    ),
    score: list[str] = typer.Option(
        [],
        "--score",
        callback=checked("NAME"),
        help="BENCHMARK=VALUE in percent, e.g. swe_bench_verified=80.2 (repeatable).",
    ),
    open_weight: bool = typer.Option(False, "--open-weight", help="The weights are downloadable."),
    hf_repo: str | None = typer.Option(
        None, "--hf-repo", callback=checked("HF_REPO"), help="Hugging Face repo id ORG/NAME (open-weight releases)."
    ),
    hf_revision: str | None = typer.Option(
        None, "--hf-revision", callback=checked("REVISION"), help="Hugging Face commit or tag."
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        callback=checked("URL"),
        help="URL every score comes from (unless --score-source says otherwise).",
    ),
    reported_by: ReportedBy = typer.Option(
        ReportedBy.LAB, "--reported-by", help="Who reported the scores: lab, third_party or paper."
    ),
    date_source: str | None = typer.Option(
        None, "--date-source", callback=checked("URL"), help="URL the release date comes from."
    ),
    score_source: list[str] = typer.Option(
        [], "--score-source", callback=checked("URL"), help="BENCHMARK=URL: this score's own source (repeatable)."
    ),
    score_reported_by: list[str] = typer.Option(
        [], "--score-reported-by", callback=checked("NAME"), help="BENCHMARK=lab|third_party|paper (repeatable)."
    ),
    score_setting: list[str] = typer.Option(
        [],
        "--score-setting",
        callback=checked("TEXT"),
        help="BENCHMARK=TEXT: how it was measured, e.g. hle='text-only' (repeatable).",
    ),
    score_stderr: list[str] = typer.Option(
        [], "--score-stderr", callback=checked("NAME"), help="BENCHMARK=NUMBER: standard error in points (repeatable)."
    ),
    params_total_b: float | None = typer.Option(
        None, "--params-total-b", callback=finite, help="Total parameters, billions."
    ),
    params_active_b: float | None = typer.Option(
        None, "--params-active-b", callback=finite, help="Active parameters (MoE), billions."
    ),
    variant_of: str | None = typer.Option(
        None, "--variant-of", callback=checked("NAME"), help="Same weights as this model at another compute tier."
    ),
    same_weights_as: str | None = typer.Option(
        None,
        "--same-weights-as",
        callback=checked("NAME"),
        help="The same weights as MODEL (a compute tier or renamed release): counted once.",
    ),
    family: str | None = typer.Option(None, "--family", callback=checked("FAMILY"), help="Model family."),
    tier: str | None = typer.Option(
        None,
        "--tier",
        callback=checked("TIER"),
        help="The lab's product tier (Opus, Sonnet, Haiku, Pro, Flash, mini): labs show reads each tier apart.",
    ),
    kind: ModelKind = typer.Option(ModelKind.FRONTIER, "--kind", help="frontier or base.", case_sensitive=False),
    allow_small_scores: bool = typer.Option(
        False, "--allow-small-scores", help="Accept a score in (0, 1] as a true percentage, not a fraction."
    ),
    distinct: bool = typer.Option(
        False, "--distinct", help="Log it although it looks like a registered model (it is a different one)."
    ),
    refit: bool = typer.Option(
        False, "--refit", help="Refit the live panel afterwards when the latest fit is stale (seconds to minutes)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Log a release with its scores (all validated before anything is written)."""
    from phasewatch.cli.common import status
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.releases import ReleaseRequest, scores_with_provenance
    from phasewatch.services.releases import log_release

    scores = scores_with_provenance(
        score, sources=score_source, reporters=score_reported_by, settings=score_setting, stderrs=score_stderr
    )
    request = ReleaseRequest(
        name=name,
        lab=lab,
        date=date,
        scores=scores,
        open_weight=open_weight,
        hf_repo=hf_repo,
        hf_revision=hf_revision,
        source_url=source,
        reported_by=reported_by,
        date_source=date_source,
        params_total_b=params_total_b,
        params_active_b=params_active_b,
        variant_of=variant_of,
        same_weights_as=same_weights_as,
        family=family,
        tier=tier,
        kind=kind,
        allow_small_scores=allow_small_scores,
        distinct=distinct,
    )
    with registry_engine() as engine:
        logged = log_release(
            engine,
            system_clock(),
            request,
            refit=refit,
            while_refitting=lambda: status("refitting the live panel", quiet=json_),
        )
    if json_:
        print_json(logged.as_dict())
        return
    _print_logged(logged)


def _print_logged(logged: LoggedRelease) -> None:
    result, stale, refitted = logged.release, logged.staleness, logged.refit
    shown = ", ".join(f"{k} {v:g}" for k, v in result.scores.items()) or "no scores"
    weights = f", open weights ({result.hf_repo})" if result.hf_repo else ", open weights" if result.open_weight else ""
    tier = f", same weights as {result.same_weights_as}" if result.same_weights_as else ""
    print(f"logged {result.model} ({result.lab}, {result.release_date}{weights}{tier}): {shown}")
    if result.steering_job is not None:
        if result.steering_job_new:
            print(
                f"queued steering job #{result.steering_job} for {result.hf_repo} (run it with `phasewatch worker --once`)"
            )
        else:
            print(
                f"steering job #{result.steering_job} for {result.hf_repo} at this revision already exists: not queued again"
            )
    _print_verdict(logged.verdict)
    for m in logged.moved:
        change = f"{m.before} -> {m.after}" if m.before != m.after else m.after
        print(f"prediction {m.key} ({m.title}): {change}: {m.note}")
    if not logged.moved:
        print("no registered prediction moved")
    if stale is None:
        print("no accepted fit yet: run `phasewatch fit --panel frontier`")
    elif refitted is None:
        print(stale.sentence() + ("" if not stale.stale else " (or pass --refit)"))
    if refitted is not None:
        print(
            f"refitted the live panel: fit #{refitted.id} on {refitted.n_models} models"
            f"{'' if refitted.converged else ' (NOT converged: ' + '; '.join(refitted.problems) + ')'}"
        )


@app.command("list")
def list_(
    since: str | None = typer.Option(
        None, "--since", callback=checked("KEY"), help="Released on or after (YYYY[-MM[-DD]])."
    ),
    lab: str | None = typer.Option(None, "--lab", callback=checked("NAME"), help="Only this lab (any alias)."),
    open_weight: bool | None = typer.Option(
        None, "--open-weight/--closed-weight", help="Only open-weight (or only closed) releases.", show_default=False
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """List frontier releases, newest first, with their SWE-bench Verified and GPQA Diamond scores."""
    from phasewatch.cli.common import emit, output_format, plural
    from phasewatch.services.releases import list_releases

    chosen = output_format(format_, json_)  # a bad --format is refused before the database is opened
    with registry_engine() as engine:
        rows = list_releases(engine, since=since, lab=lab, open_weight=open_weight)
    emit(
        chosen,
        plural(len(rows), "release"),
        ("model", "lab", "released", "open", "hugging face", "swe_bench_verified", "gpqa_diamond", "obs"),
        [
            (
                r.name,
                r.lab,
                r.release_date,
                r.open_weight,
                r.hf_repo,
                r.scores.get("swe_bench_verified"),
                r.scores.get("gpqa_diamond"),
                r.observations,
            )
            for r in rows
        ],
        data=list(rows) if chosen == "json" else None,
    )


@app.command()
def correct(
    name: str = typer.Argument(..., callback=checked("NAME"), help="A registered model (name or alias)."),
    reason: str = typer.Option(..., "--reason", callback=checked("TEXT"), help="What was wrong (kept in the history)."),
    date: str | None = typer.Option(
        None, "--date", callback=checked("KEY"), help="The corrected release date (YYYY, YYYY-MM or YYYY-MM-DD)."
    ),
    date_source: str | None = typer.Option(
        None, "--date-source", callback=checked("URL"), help="URL of the corrected date."
    ),
    open_weight: bool | None = typer.Option(
        None, "--open-weight/--closed-weight", help="Correct the open-weight status.", show_default=False
    ),
    hf_repo: str | None = typer.Option(
        None, "--hf-repo", callback=checked("HF_REPO"), help="The corrected Hugging Face repo ORG/NAME."
    ),
    hf_revision: str | None = typer.Option(
        None, "--hf-revision", callback=checked("REVISION"), help="The corrected Hugging Face revision."
    ),
    params_total_b: float | None = typer.Option(
        None, "--params-total-b", callback=finite, help="Corrected total parameters, billions."
    ),
    params_active_b: float | None = typer.Option(
        None, "--params-active-b", callback=finite, help="Corrected active parameters, billions."
    ),
    tier: str | None = typer.Option(
        None,
        "--tier",
        callback=checked("TIER"),
        help="The corrected product tier (Opus, Sonnet, Haiku, Pro, Flash, mini): labs show reads each tier apart.",
    ),
    score: list[str] = typer.Option(
        [], "--score", callback=checked("NAME"), help="BENCHMARK=VALUE: a mistyped score's right value (repeatable)."
    ),
    reported_by: ReportedBy | None = typer.Option(
        None, "--reported-by", help="Which reporter's score to correct when it holds several."
    ),
    source: str | None = typer.Option(None, "--source", callback=checked("URL"), help="URL backing the correction."),
    allow_small_scores: bool = typer.Option(
        False, "--allow-small-scores", help="Accept a score in (0, 1] as a true percentage."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Correct a release; old values are kept (see `phasewatch models history`)."""
    from dataclasses import asdict, replace

    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.releases import Correction, parse_score
    from phasewatch.services.releases import correct_release

    scores = tuple(replace(parse_score(s), reported_by=reported_by) for s in score)
    correction = Correction(
        date=date,
        date_source=date_source,
        open_weight=open_weight,
        hf_repo=hf_repo,
        hf_revision=hf_revision,
        params_total_b=params_total_b,
        params_active_b=params_active_b,
        tier=tier,
        scores=scores,
        reason=reason,
        source_url=source,
        allow_small_scores=allow_small_scores,
    )
    with registry_engine() as engine:
        changes = correct_release(engine, system_clock(), name, correction)
    if json_:
        print_json([asdict(c) for c in changes])
        return
    for c in changes:
        print(f"corrected {name}: {c.field} {c.old} -> {c.new}")
    print(f"the old values are kept: `phasewatch models history {name!r}`")


def _print_verdict(verdict: Verdict | None) -> None:
    if verdict is None:
        print("no verdict: it needs an accepted fit (`phasewatch fit`) and both of its benchmarks' scores")
        return
    c = verdict.check
    where = "INSIDE" if c.inside else "OUTSIDE"
    lab_note = "" if c.lab_known else " (a lab the fit has not seen: effects drawn from the hierarchy)"
    print(
        f"h-field {c.h.mean:+.1f} pp (95 % HDI [{c.h.low:+.1f}, {c.h.high:+.1f}]) against fit #{verdict.fit_id} "
        f"({verdict.fit_panels})"
    )
    print(
        f"{where} the 95 % predictive interval [{c.predicted.low:.1f}, {c.predicted.high:.1f}] for {verdict.y_benchmark} "
        f"of a release by {c.lab} at {verdict.x_benchmark} {c.x:g}{lab_note}"
    )


@app.command()
def check(
    name: str = typer.Argument(..., callback=checked("NAME"), help="A registered model (name or alias)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Check a registered release against the latest accepted fit (h-field, inside or outside its
    predictive interval) and store that verdict (once per release and fit)."""
    from phasewatch.services.releases import check_release

    with registry_engine() as engine:
        verdict = check_release(engine, name)
    if json_:
        print_json(verdict.as_dict() if verdict else None)
        return
    _print_verdict(verdict)
