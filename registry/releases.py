"""Logging a new model release with its scores."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from phasewatch.registry.catalog import Catalog, check_hf_repo, check_reported_by, check_score
from phasewatch.registry.dates import format_partial_date, parse_past_date
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.schema import ModelKind, ReportedBy


@dataclass(frozen=True)
class ScoreInput:
    benchmark: str
    value: float


@dataclass(frozen=True)
class ReleaseRequest:
    """What the user says about a release; validated by :func:`add_release`."""

    name: str
    lab: str
    date: str
    scores: tuple[ScoreInput, ...] = ()
    open_weight: bool = False
    hf_repo: str | None = None
    hf_revision: str | None = None
    source_url: str | None = None
    reported_by: str = ReportedBy.LAB.value
    params_total_b: float | None = None
    params_active_b: float | None = None
    variant_of: str | None = None
    family: str | None = None
    kind: str = ModelKind.FRONTIER.value


@dataclass(frozen=True)
class ReleaseResult:
    model: str
    lab: str
    release_date: str
    open_weight: bool
    hf_repo: str | None
    scores: dict[str, float] = field(default_factory=dict)
    steering_job: int | None = None


def parse_score(text: str) -> ScoreInput:
    """``swe_bench_verified=80.2`` → ScoreInput."""
    key, sep, number = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInputError(f"malformed score {text!r}", "write it as BENCHMARK=VALUE, e.g. swe_bench_verified=80.2")
    try:
        value = float(number)
    except ValueError:
        raise InvalidInputError(f"score {text!r} is not a number", "write it as BENCHMARK=VALUE, e.g. gpqa_diamond=91.3") from None
    return ScoreInput(key.strip(), value)


def add_release(session: Session, request: ReleaseRequest, *, today: dt.date) -> ReleaseResult:
    """Create the model and its observations, or raise without writing anything.

    Everything is validated before the first write; the model's name is kept
    unique by the database, so concurrent writers end with one model.
    """
    catalog = Catalog(session)
    lab = catalog.lab(request.lab)
    day, precision = parse_past_date(request.date, what="release date", today=today)
    reported_by = check_reported_by(request.reported_by)
    try:
        kind = ModelKind(request.kind)
    except ValueError:
        raise InvalidInputError(f"unknown model kind {request.kind!r}", "use frontier or base") from None
    hf_repo = check_hf_repo(request.hf_repo) if request.hf_repo else None
    if hf_repo and not request.open_weight:
        raise InvalidInputError("--hf-repo is given but the release is not marked open-weight", "add --open-weight")
    seen: set[str] = set()
    checked: list[tuple[object, float]] = []
    for score in request.scores:
        benchmark = catalog.benchmark(score.benchmark)
        if benchmark.key in seen:
            raise InvalidInputError(f"benchmark {benchmark.key} is given twice", "pass each --score once")
        seen.add(benchmark.key)
        checked.append((benchmark, check_score(score.value, benchmark=benchmark.key)))
    variant_of = catalog.model(request.variant_of) if request.variant_of else None

    model = catalog.add_model(
        request.name,
        lab,
        kind=kind,
        release_date=day,
        release_date_precision=precision,
        release_date_source=request.source_url,
        open_weight=request.open_weight,
        hf_repo=hf_repo,
        hf_revision=request.hf_revision,
        params_total_b=request.params_total_b,
        params_active_b=request.params_active_b,
        variant_of=variant_of,
        family=request.family,
    )
    for benchmark, value in checked:
        catalog.add_observation(
            model, benchmark, value, reported_by=reported_by, source_url=request.source_url, retrieved_on=today
        )
    job_id = None
    if request.open_weight and hf_repo:  # open weights on the hub: queue a steering evaluation
        from phasewatch.registry.jobs import enqueue

        job, _ = enqueue(session, hf_repo, request.hf_revision, model=model)
        job_id = job.id
    session.flush()
    return ReleaseResult(
        model=model.name,
        lab=lab.name,
        release_date=format_partial_date(day, precision),
        open_weight=request.open_weight,
        hf_repo=hf_repo,
        scores={b.key: v for b, v in checked},
        steering_job=job_id,
    )
