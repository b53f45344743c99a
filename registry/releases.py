"""Logging a new model release with its scores, adding and correcting scores.

Everything is validated before the first write, so a refused release (a likely
duplicate, a score typed as a fraction, a date before its lab existed …)
leaves the registry unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from phasewatch.registry.catalog import (
    Catalog,
    check_hf_repo,
    check_reported_by,
    check_score,
)
from phasewatch.registry.dates import DatePrecision, format_partial_date, parse_past_date, period_end
from phasewatch.registry.errors import ConflictError, InvalidInputError
from phasewatch.registry.names import identity_key
from phasewatch.registry.schema import (
    Benchmark,
    Lab,
    Model,
    ModelEdit,
    ModelKind,
    ModelName,
    Observation,
    ReportedBy,
)

MAX_PARAMS_B = 100_000.0  # 100 trillion parameters: a larger "billions" figure is a raw count


@dataclass(frozen=True)
class ScoreInput:
    """One score with its own provenance (``None`` fields fall back to the release's defaults)."""

    benchmark: str
    value: float
    source_url: str | None = None
    reported_by: str | None = None
    setting: str | None = None
    stderr: float | None = None


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
    source_url: str | None = None  # default source of every score
    reported_by: str = ReportedBy.LAB.value  # default reporter of every score
    date_source: str | None = None  # where the release date comes from (kept apart from the scores')
    params_total_b: float | None = None
    params_active_b: float | None = None
    variant_of: str | None = None
    same_weights_as: str | None = None
    family: str | None = None
    tier: str | None = None  # the lab's product tier; a same-weights release inherits its base's
    kind: str = ModelKind.FRONTIER.value
    allow_small_scores: bool = False
    distinct: bool = False  # the user states it is not a duplicate of a look-alike


@dataclass(frozen=True)
class ReleaseResult:
    model: str
    lab: str
    release_date: str
    open_weight: bool
    hf_repo: str | None
    scores: dict[str, float] = field(default_factory=dict)
    steering_job: int | None = None
    steering_job_new: bool = False
    same_weights_as: str | None = None


def parse_score(text: str) -> ScoreInput:
    """``swe_bench_verified=80.2`` → ScoreInput."""
    key, sep, number = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInputError(
            f"malformed score {text!r}", "write it as BENCHMARK=VALUE, e.g. swe_bench_verified=80.2"
        )
    try:
        value = float(number)
    except ValueError:
        raise InvalidInputError(
            f"score {text!r} is not a number", "write it as BENCHMARK=VALUE, e.g. gpqa_diamond=91.3"
        ) from None
    return ScoreInput(key.strip(), value)


def parse_keyed(texts: list[str], option: str) -> dict[str, str]:
    """Repeated ``--score-source hle=URL`` options → {benchmark: text}."""
    out: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInputError(f"malformed {option} {text!r}", f"write it as {option} BENCHMARK=VALUE")
        if key.strip().lower() in out:
            raise InvalidInputError(f"{option} for {key.strip()} is given twice", f"pass one {option} per benchmark")
        out[key.strip().lower()] = value.strip()
    return out


def scores_with_provenance(
    scores: list[str],
    *,
    sources: list[str] = (),  # type: ignore[assignment]
    reporters: list[str] = (),  # type: ignore[assignment]
    settings: list[str] = (),  # type: ignore[assignment]
    stderrs: list[str] = (),  # type: ignore[assignment]
) -> tuple[ScoreInput, ...]:
    """``--score`` values joined with their per-benchmark ``--score-*`` options."""
    parsed = [parse_score(s) for s in scores]
    keyed = {
        "--score-source": parse_keyed(list(sources), "--score-source"),
        "--score-reported-by": parse_keyed(list(reporters), "--score-reported-by"),
        "--score-setting": parse_keyed(list(settings), "--score-setting"),
        "--score-stderr": parse_keyed(list(stderrs), "--score-stderr"),
    }
    given = {s.benchmark.lower() for s in parsed}
    for option, values in keyed.items():
        for key in values:
            if key not in given:
                raise InvalidInputError(
                    f"{option} names {key}, which has no --score", f"add --score {key}=VALUE or drop the {option}"
                )
    out = []
    for s in parsed:
        key = s.benchmark.lower()
        stderr = keyed["--score-stderr"].get(key)
        try:
            stderr_value = float(stderr) if stderr is not None else None
        except ValueError:
            raise InvalidInputError(
                f"--score-stderr {key}={stderr!r} is not a number", "write it as BENCHMARK=NUMBER"
            ) from None
        out.append(
            ScoreInput(
                s.benchmark,
                s.value,
                keyed["--score-source"].get(key),
                keyed["--score-reported-by"].get(key),
                keyed["--score-setting"].get(key),
                stderr_value,
            )
        )
    return tuple(out)


def check_percent(value: float, *, benchmark: str, allow_small: bool = False) -> float:
    """A percentage within [0, 100]; a value in (0, 1] is refused as a likely fraction."""
    check_score(value, benchmark=benchmark)
    if 0.0 < value <= 1.0 and not allow_small:
        raise InvalidInputError(
            f"score {value:g} for {benchmark} looks like a fraction",
            f"scores are percentages: write {value * 100:g}; if {value:g} % is right, add --allow-small-scores",
        )
    return float(value)


def check_params_b(value: float | None, label: str) -> float | None:
    """Billions of parameters; a raw count (or anything over 100 trillion) is refused."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{label} must be positive, got {value:g}", f"give {label} in billions, e.g. 671")
    if value > MAX_PARAMS_B:
        raise InvalidInputError(
            f"{label} {value:g} looks like a raw parameter count", f"give billions: {value / 1e9:g}"
        )
    return value


def check_lab_existed(lab: Lab, day: dt.date, precision: str) -> None:
    if lab.founded is not None and period_end(day, precision) < lab.founded:
        raise InvalidInputError(
            f"release date {format_partial_date(day, precision)} is before {lab.name} existed (founded {lab.founded.year})",
            "check the date and the lab",
        )


@dataclass(frozen=True)
class Duplicate:
    model: Model
    why: str


def find_duplicate(
    session: Session,
    name: str,
    lab: Lab,
    day: dt.date,
    hf_repo: str | None,
    scores: dict[str, float],
    *,
    allowed: set[int] = frozenset(),  # type: ignore[assignment]
) -> Duplicate | None:
    """A registered model the release is likely the same as (ids in ``allowed`` are not counted)."""
    key = identity_key(name)
    names = session.execute(select(ModelName.name, ModelName.model_id)).all()
    for label, model_id in names:
        if model_id not in allowed and identity_key(label) == key:
            return Duplicate(session.get(Model, model_id), f"the name {label!r} equals {name!r} after normalisation")  # type: ignore[arg-type]
    if hf_repo:
        same_repo = session.scalars(select(Model).where(Model.hf_repo.is_not(None))).all()
        for model in same_repo:
            if model.id not in allowed and model.hf_repo and model.hf_repo.casefold() == hf_repo.casefold():
                return Duplicate(model, f"same Hugging Face repo {model.hf_repo}")
    if scores:
        same_day = session.scalars(
            select(Model)
            .options(selectinload(Model.observations).selectinload(Observation.benchmark))
            .where(Model.lab_id == lab.id, Model.release_date == day)
        )
        for model in same_day:
            held = {(o.benchmark.key, round(o.value, 6)) for o in model.observations if o.retracted_on is None}
            if model.id not in allowed and all((k, round(v, 6)) in held for k, v in scores.items()):
                return Duplicate(
                    model, f"same lab, date and scores ({', '.join(f'{k} {v:g}' for k, v in scores.items())})"
                )
    return None


def _group_ids(session: Session, model: Model) -> set[int]:
    """Ids of every model sharing ``model``'s weights (its variant_of tree)."""
    root = model
    while root.variant_of is not None and root.variant_of.id != model.id:
        root = root.variant_of
    ids, frontier = {root.id}, [root.id]
    while frontier:
        children = set(session.scalars(select(Model.id).where(Model.variant_of_id.in_(frontier)))) - ids
        ids |= children
        frontier = list(children)
    return ids


@dataclass(frozen=True)
class CheckedRelease:
    """A release request that passed every check, resolved against one session's rows."""

    request: ReleaseRequest
    lab: Lab
    day: dt.date
    precision: DatePrecision
    kind: ModelKind
    hf_repo: str | None
    params_total_b: float | None
    params_active_b: float | None
    scores: tuple[tuple[Benchmark, float, ScoreInput, ReportedBy], ...]
    tier_of: Model | None


def validate_release(session: Session, request: ReleaseRequest, *, today: dt.date) -> CheckedRelease:
    """Validate a release and check it is not a registered model; reads only.

    Raises :class:`InvalidInputError`, :class:`NotFoundError` or :class:`ConflictError`
    (a likely duplicate) without writing anything.
    """
    catalog = Catalog(session)
    lab = catalog.lab(request.lab)
    day, precision = parse_past_date(request.date, what="release date", today=today)
    check_lab_existed(lab, day, precision)
    default_reporter = check_reported_by(request.reported_by)
    try:
        kind = ModelKind(request.kind)
    except ValueError:
        raise InvalidInputError(f"unknown model kind {request.kind!r}", "use frontier or base") from None
    hf_repo = check_hf_repo(request.hf_repo) if request.hf_repo else None
    if hf_repo and not request.open_weight:
        raise InvalidInputError("--hf-repo is given but the release is not marked open-weight", "add --open-weight")
    params_total = check_params_b(request.params_total_b, "--params-total-b")
    params_active = check_params_b(request.params_active_b, "--params-active-b")
    seen: set[str] = set()
    checked: list[tuple[Benchmark, float, ScoreInput, ReportedBy]] = []
    for score in request.scores:
        benchmark = catalog.benchmark(score.benchmark)
        if benchmark.key in seen:
            raise InvalidInputError(f"benchmark {benchmark.key} is given twice", "pass each --score once")
        seen.add(benchmark.key)
        value = check_percent(score.value, benchmark=benchmark.key, allow_small=request.allow_small_scores)
        reporter = check_reported_by(score.reported_by) if score.reported_by else default_reporter
        if score.stderr is not None and (not math.isfinite(score.stderr) or score.stderr < 0):
            raise InvalidInputError(
                f"stderr {score.stderr:g} for {benchmark.key} is negative", "give a standard error >= 0"
            )
        checked.append((benchmark, value, score, reporter))
    if request.variant_of and request.same_weights_as:
        raise InvalidInputError("--variant-of and --same-weights-as say the same thing", "pass one of them")
    tier_of_name = request.same_weights_as or request.variant_of
    tier_of = catalog.model(tier_of_name) if tier_of_name else None
    check_identity(session, request, lab, day, hf_repo, {b.key: v for b, v, _, _ in checked}, tier_of)
    return CheckedRelease(
        request, lab, day, precision, kind, hf_repo, params_total, params_active, tuple(checked), tier_of
    )


def check_identity(
    session: Session,
    request: ReleaseRequest,
    lab: Lab,
    day: dt.date,
    hf_repo: str | None,
    scores: dict[str, float],
    tier_of: Model | None,
) -> None:
    """Refuse a name already taken and a likely duplicate (unless ``request.distinct``)."""
    if (taken := Catalog(session).find_model(request.name)) is not None:
        raise ConflictError(
            f"model {request.name!r} already exists (as {taken.name!r}, {taken.lab.name})",
            "add scores to it with `phasewatch scores add`",
        )
    if request.distinct:
        return
    allowed = _group_ids(session, tier_of) if tier_of else set()
    duplicate = find_duplicate(session, request.name, lab, day, hf_repo, scores, allowed=allowed)
    if duplicate is not None:
        other = duplicate.model
        raise ConflictError(
            f"{request.name!r} is likely a duplicate of {other.name!r} ({other.lab.name}, "
            f"{format_partial_date(other.release_date, other.release_date_precision) or 'undated'}): {duplicate.why}",
            f"the same model under another name: phasewatch models alias add {other.name!r} {request.name!r}; "
            f"a compute tier of the same weights: add --same-weights-as {other.name!r}; a different model: add --distinct",
        )


def add_release(session: Session, request: ReleaseRequest, *, today: dt.date) -> ReleaseResult:
    """Create the model and its observations, or raise without writing anything.

    Everything is validated (:func:`validate_release`) before the first write; the
    model's name is kept unique by the database, so concurrent writers end with
    one model. Run it with the write lock held (``services.releases``) and the
    identity check also holds for look-alike names logged concurrently.
    """
    checked = validate_release(session, request, today=today)
    catalog = Catalog(session)
    lab, day, precision, hf_repo, tier_of = (
        checked.lab,
        checked.day,
        checked.precision,
        checked.hf_repo,
        checked.tier_of,
    )
    checked_scores = checked.scores
    model = catalog.add_model(
        request.name,
        lab,
        kind=checked.kind,
        release_date=day,
        release_date_precision=precision,
        release_date_source=request.date_source,
        open_weight=request.open_weight,
        hf_repo=hf_repo,
        hf_revision=request.hf_revision,
        params_total_b=checked.params_total_b,
        params_active_b=checked.params_active_b,
        variant_of=tier_of,
        family=request.family,
        tier=request.tier or (tier_of.tier if tier_of is not None else None),
    )
    for benchmark, value, score, reporter in checked_scores:
        catalog.add_observation(
            model,
            benchmark,
            value,
            reported_by=reporter,
            source_url=score.source_url or request.source_url,
            setting=score.setting,
            stderr=score.stderr,
            retrieved_on=today,
        )
    job_id, job_new = None, False
    if request.open_weight and hf_repo:  # open weights on the hub: queue a steering evaluation (once per revision)
        from phasewatch.registry.jobs import enqueue

        job, job_new = enqueue(session, hf_repo, request.hf_revision, model=model)
        job_id = job.id
    session.flush()
    return ReleaseResult(
        model=model.name,
        lab=lab.name,
        release_date=format_partial_date(day, precision),
        open_weight=request.open_weight,
        hf_repo=hf_repo,
        scores={b.key: v for b, v, _, _ in checked_scores},
        steering_job=job_id,
        steering_job_new=job_new,
        same_weights_as=tier_of.name if tier_of else None,
    )


# --- single scores and aliases ---------------------------------------------------------


@dataclass(frozen=True)
class ScoreResult:
    model: str
    benchmark: str
    value: float
    reported_by: str
    setting: str | None
    source_url: str | None
    new: bool


def add_score(
    session: Session, model_name: str, score: ScoreInput, *, today: dt.date, allow_small: bool = False
) -> ScoreResult:
    """Add one observation with its own provenance to a registered model."""
    catalog = Catalog(session)
    model = catalog.model(model_name)
    benchmark = catalog.benchmark(score.benchmark)
    value = check_percent(score.value, benchmark=benchmark.key, allow_small=allow_small)
    reporter = check_reported_by(score.reported_by or ReportedBy.LAB.value)
    observation, new = catalog.add_observation(
        model,
        benchmark,
        value,
        reported_by=reporter,
        source_url=score.source_url,
        setting=score.setting,
        stderr=score.stderr,
        retrieved_on=today,
    )
    session.flush()
    return ScoreResult(
        model.name,
        benchmark.key,
        observation.value,
        observation.reported_by,
        observation.setting,
        observation.source_url,
        new,
    )


def add_alias(session: Session, model_name: str, alias: str) -> str:
    """Record ``alias`` as another name of the same model (same weights, counted once)."""
    catalog = Catalog(session)
    model = catalog.model(model_name)
    alias = " ".join(alias.split())
    if not alias:
        raise InvalidInputError("an alias needs a name", "pass a non-empty alias")
    catalog.add_alias(model, alias)
    session.flush()
    return model.name


# --- corrections with history ----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Correction:
    """What to change about a release; ``None`` leaves a field as it is."""

    date: str | None = None
    date_source: str | None = None
    open_weight: bool | None = None
    hf_repo: str | None = None
    hf_revision: str | None = None
    params_total_b: float | None = None
    params_active_b: float | None = None
    tier: str | None = None
    scores: tuple[ScoreInput, ...] = ()
    reason: str | None = None
    source_url: str | None = None
    allow_small_scores: bool = False


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def correct_release(session: Session, model_name: str, correction: Correction, *, today: dt.date) -> list[Change]:
    """Apply a correction, keeping every old value in ``model_edits``.

    A corrected score is a new observation; the old one is kept and marked
    retracted, so frozen panels that hold it still reproduce, and the live
    panel uses the new one.
    """
    catalog = Catalog(session)
    model = catalog.model(model_name)
    if not correction.reason:
        raise InvalidInputError("a correction needs a reason", "add --reason 'what was wrong'")
    changes: list[Change] = []
    updates: dict[str, object] = {}
    if correction.date is not None:
        day, precision = parse_past_date(correction.date, what="release date", today=today)
        check_lab_existed(model.lab, day, precision)
        old = format_partial_date(model.release_date, model.release_date_precision) or None
        new = format_partial_date(day, precision)
        if old != new:
            updates |= {"release_date": day, "release_date_precision": str(precision)}
            changes.append(Change("release_date", old, new))
    if correction.date_source is not None and correction.date_source != model.release_date_source:
        updates["release_date_source"] = correction.date_source
        changes.append(Change("release_date_source", model.release_date_source, correction.date_source))
    if correction.hf_repo is not None:
        check_hf_repo(correction.hf_repo)
    open_weight = model.open_weight if correction.open_weight is None else correction.open_weight
    repo = correction.hf_repo if correction.hf_repo is not None else model.hf_repo
    if repo and not open_weight:
        raise InvalidInputError(
            "the model would have a Hugging Face repo but closed weights", "add --open-weight or drop the repo"
        )
    for label, value in (
        ("open_weight", correction.open_weight),
        ("hf_repo", correction.hf_repo),
        ("hf_revision", correction.hf_revision),
        ("tier", correction.tier),
        ("params_total_b", check_params_b(correction.params_total_b, "--params-total-b")),
        ("params_active_b", check_params_b(correction.params_active_b, "--params-active-b")),
    ):
        if value is not None and value != getattr(model, label):
            updates[label] = value
            changes.append(Change(label, _text(getattr(model, label)), _text(value)))
    retract: list[Observation] = []
    new_scores: list[tuple[Benchmark, float, Observation]] = []
    for score in correction.scores:
        benchmark = catalog.benchmark(score.benchmark)
        value = check_percent(score.value, benchmark=benchmark.key, allow_small=correction.allow_small_scores)
        current = session.scalars(
            select(Observation)
            .where(
                Observation.model_id == model.id,
                Observation.benchmark_id == benchmark.id,
                Observation.retracted_on.is_(None),
            )
            .order_by(Observation.id.desc())
        ).all()
        reporter = score.reported_by
        if not current:
            raise InvalidInputError(
                f"{model.name} has no {benchmark.key} score to correct", "add it with `phasewatch scores add`"
            )
        chosen = (
            current[0]
            if len(current) == 1 or not reporter
            else next((o for o in current if o.reported_by == reporter), None)
        )
        if chosen is None or (len(current) > 1 and not reporter):
            held = ", ".join(f"{o.value:g} ({o.reported_by})" for o in current)
            raise InvalidInputError(
                f"{model.name} holds several {benchmark.key} scores: {held}",
                "name the one to correct with --reported-by",
            )
        if round(chosen.value, 6) != round(value, 6):
            retract.append(chosen)
            new_scores.append((benchmark, value, chosen))
            changes.append(Change(f"score:{benchmark.key}", f"{chosen.value:g}", f"{value:g}"))
    if not changes:
        raise InvalidInputError(
            f"nothing to correct: {model.name} already holds these values", "pass a value that differs"
        )

    for label, value in updates.items():
        setattr(model, label, value)
    for old in retract:
        old.retracted_on = today
    for benchmark, value, old in new_scores:
        catalog.add_observation(
            model,
            benchmark,
            value,
            reported_by=ReportedBy(old.reported_by),
            stderr=old.stderr,
            setting=old.setting,
            source_url=correction.source_url or old.source_url,
            retrieved_on=today,
            note=f"corrects {old.value:g}: {correction.reason}",
        )
    for change in changes:
        session.add(
            ModelEdit(
                model_id=model.id,
                field=change.field,
                old_value=change.old,
                new_value=change.new,
                reason=correction.reason,
                source_url=correction.source_url,
                edited_on=today,
            )
        )
    session.flush()
    return changes


@dataclass(frozen=True)
class HistoryEntry:
    edited_on: str
    field: str
    old: str | None
    new: str | None
    reason: str | None
    source_url: str | None


def model_history(session: Session, model_name: str) -> list[HistoryEntry]:
    """Every correction of a model, oldest first."""
    model = Catalog(session).model(model_name)
    edits = session.scalars(select(ModelEdit).where(ModelEdit.model_id == model.id).order_by(ModelEdit.id))
    return [
        HistoryEntry(e.edited_on.isoformat(), e.field, e.old_value, e.new_value, e.reason, e.source_url) for e in edits
    ]
