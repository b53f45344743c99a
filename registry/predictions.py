"""Registered predictions: append-only, hash-chained, graded from the registry's data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phasewatch.models.criteria import Context, CriterionError, Grade, Release, evaluation_date, grade, validate
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import period_end
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.names import did_you_mean
from phasewatch.registry.schema import (
    Benchmark,
    Lab,
    Model,
    ModelKind,
    Observation,
    PanelObservation,
    Prediction,
    PredictionGrading,
)

DEFAULT_PANELS = ("growing-pains-34", "post-cutoff-2026-04", "sourced-2026-11")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_of(p: Prediction, supersedes: str | None) -> dict[str, Any]:
    """What the hash covers: everything a reader relies on."""
    return {
        "key": p.key,
        "revision": p.revision,
        "title": p.title,
        "statement": p.statement,
        "criterion": p.criterion,
        "registered_at": p.registered_at.isoformat(),
        "deadline": p.deadline.isoformat() if p.deadline else None,
        "probability": p.probability,
        "source": p.source,
        "supersedes": supersedes,
    }


def chain_hash(content: dict[str, Any], prev_hash: str | None) -> str:
    return hashlib.sha256(((prev_hash or "") + "\n" + canonical(content)).encode()).hexdigest()


def _head_hash(session: Session) -> str | None:
    return session.scalar(select(Prediction.content_hash).order_by(Prediction.id.desc()).limit(1))


@dataclass(frozen=True)
class PredictionSpec:
    key: str
    title: str
    statement: str
    criterion: dict[str, Any]
    registered_at: dt.date
    probability: float | None = None
    source: str | None = None


def _append(session: Session, spec: PredictionSpec, *, revise: bool) -> Prediction:
    """Append one prediction (or a new revision of one) to the chain."""
    benchmarks = set(session.scalars(select(Benchmark.key)))
    try:
        validate(spec.criterion, benchmarks)
    except CriterionError as exc:
        raise InvalidInputError(f"prediction {spec.key!r}: {exc}", "see docs/predictions.md for the criterion language") from None
    labs = Catalog(session)
    for lab in _labs_named(spec.criterion):
        labs.lab(lab)
    if spec.probability is not None and not 0.0 < spec.probability < 1.0:
        raise InvalidInputError(f"prediction {spec.key!r}: probability {spec.probability} is not in (0, 1)", "give e.g. 0.7")
    latest = session.scalar(select(Prediction).where(Prediction.key == spec.key).order_by(Prediction.revision.desc()).limit(1))
    if latest is not None and not revise:
        raise ConflictError(f"prediction {spec.key!r} is already registered", "pass --revise to register a new revision")
    deadline = spec.criterion.get("deadline")
    row = Prediction(
        key=spec.key,
        revision=(latest.revision + 1) if latest else 1,
        title=spec.title,
        statement=spec.statement,
        criterion=spec.criterion,
        registered_at=spec.registered_at,
        deadline=dt.date.fromisoformat(deadline) if deadline else None,
        probability=spec.probability,
        source=spec.source,
        supersedes_id=latest.id if latest else None,
        prev_hash=_head_hash(session),
    )
    row.content_hash = chain_hash(content_of(row, f"{latest.key}@{latest.revision}" if latest else None), row.prev_hash)
    session.add(row)
    session.flush()
    return row


def _labs_named(criterion: dict[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        for combinator in ("all", "any"):
            if combinator in node:
                for part in node[combinator]:
                    walk(part)
                return
        if "h_field" in node["metric"]:
            out.append(node["metric"]["h_field"]["lab"])

    walk(criterion["pass"])
    walk(criterion["fail"])
    return out


def seed_predictions(session: Session) -> int:
    """Register the paper's seven, once (a second call adds nothing)."""
    with resources.files("phasewatch.registry.data").joinpath("predictions", "growing-pains-7.json").open() as handle:
        bundle = json.load(handle)
    added = 0
    for entry in bundle["predictions"]:
        if session.scalar(select(Prediction.id).where(Prediction.key == entry["key"]).limit(1)) is not None:
            continue
        criterion = {**entry["criterion"], "trend": bundle["trend"]}
        spec = PredictionSpec(entry["key"], entry["title"], entry["statement"], criterion,
                              dt.date.fromisoformat(bundle["registered_at"]), None, bundle["source"])  # fmt: skip
        _append(session, spec, revise=False)
        added += 1
    return added


def add_predictions(session: Session, raw: Any, *, today: dt.date, revise: bool = False) -> list[str]:
    """Register user predictions (a JSON object or a list of them), timestamped today."""
    entries = raw if isinstance(raw, list) else [raw]
    added = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidInputError(f"prediction {i}: expected a JSON object", "see docs/predictions.md")
        unknown = sorted(set(entry) - {"key", "title", "statement", "criterion", "probability", "source"})
        if unknown:
            raise InvalidInputError(f"prediction {i}: unknown field(s) {', '.join(unknown)}",
                                    "allowed: key, title, statement, criterion, probability, source")  # fmt: skip
        for required in ("key", "title", "criterion"):
            if not entry.get(required):
                raise InvalidInputError(f"prediction {i}: missing {required!r}", "see docs/predictions.md")
        probability = entry.get("probability")
        if probability is not None and (not isinstance(probability, int | float) or isinstance(probability, bool)):
            raise InvalidInputError(f"prediction {entry['key']!r}: probability must be a number", "give e.g. 0.7")
        spec = PredictionSpec(str(entry["key"]), str(entry["title"]), str(entry.get("statement") or entry["title"]),
                              entry["criterion"], today, probability, entry.get("source"))  # fmt: skip
        row = _append(session, spec, revise=revise)
        added.append(f"{row.key}@{row.revision}")
    return added


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    ok: bool
    problems: list[str]
    head_hash: str | None


def verify_chain(session: Session) -> ChainCheck:
    """Recompute every hash in order; name each row whose content or link was altered."""
    rows = list(session.scalars(select(Prediction).order_by(Prediction.id)))
    by_id = {r.id: r for r in rows}
    problems = []
    previous: str | None = None
    for row in rows:
        label = f"#{row.id} {row.key}@{row.revision}"
        if row.prev_hash != previous:
            problems.append(f"{label}: link to the previous row is broken (a row before it was altered or removed)")
        superseded = by_id.get(row.supersedes_id) if row.supersedes_id else None
        expected = chain_hash(content_of(row, f"{superseded.key}@{superseded.revision}" if superseded else None), row.prev_hash)
        if expected != row.content_hash:
            problems.append(f"{label}: content does not match its hash (altered after registration)")
        previous = row.content_hash
    return ChainCheck(len(rows), not problems, problems, previous)


# --- the data a grading sees ----------------------------------------------------------------


def snapshot(session: Session, panels: tuple[str, ...], day: dt.date) -> list[Release]:
    """Frontier models with one value per benchmark, as the registry knew them on ``day``.

    An observation counts if it belongs to one of ``panels`` (or to no panel:
    logged releases and imports), was known by ``day`` (``retrieved_on``, else
    the day it was recorded) and its model was released by ``day``. Where several
    count, the first listed panel wins, then the most recently known figure.
    """
    catalog = Catalog(session)
    rank = {catalog.panel(name).id: i for i, name in enumerate(panels)}
    memberships: dict[int, list[int]] = defaultdict(list)
    for observation_id, panel_id in session.execute(select(PanelObservation.observation_id, PanelObservation.panel_id)):
        memberships[observation_id].append(panel_id)
    query = (
        select(Observation.id, Observation.model_id, Benchmark.key, Observation.value, Observation.retrieved_on,
               Observation.created_at)
        .join(Benchmark).join(Model).where(Model.kind == ModelKind.FRONTIER.value)
    )  # fmt: skip
    best: dict[tuple[int, str], tuple[tuple[int, dt.date, int], float]] = {}
    for obs_id, model_id, key, value, retrieved, created in session.execute(query):
        known = retrieved or created.date()
        if known > day:
            continue
        in_panels = memberships.get(obs_id)
        if in_panels:
            ranks = [rank[p] for p in in_panels if p in rank]
            if not ranks:
                continue
            priority = min(ranks)
        else:
            priority = len(panels)
        order = (-priority, known, obs_id)
        if (model_id, key) not in best or order > best[(model_id, key)][0]:
            best[(model_id, key)] = (order, value)
    scores: dict[int, dict[str, float]] = defaultdict(dict)
    for (model_id, key), (_, value) in best.items():
        scores[model_id][key] = value
    models = session.execute(
        select(Model.id, Model.name, Lab.name, Model.release_date, Model.release_date_precision)
        .join(Lab).where(Model.id.in_(scores))
    )  # fmt: skip
    releases = []
    for model_id, name, lab, released, precision in models:
        end = period_end(released, precision) if released else None
        if released is not None and released > day:
            continue
        releases.append(Release(name, lab, released, end, scores[model_id]))
    return sorted(releases, key=lambda r: r.name)


# --- grading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeRow:
    key: str
    revision: int
    title: str
    registered_at: str
    deadline: str | None
    probability: float | None
    state: str
    note: str
    grade: Grade
    benchmarks: list[str] = field(default_factory=list)


def current_predictions(session: Session) -> list[Prediction]:
    latest = select(Prediction.key, func.max(Prediction.revision).label("rev")).group_by(Prediction.key).subquery()
    query = select(Prediction).join(latest, (Prediction.key == latest.c.key) & (Prediction.revision == latest.c.rev))
    return sorted(session.scalars(query), key=lambda p: p.id)


def benchmarks_of(criterion: dict[str, Any]) -> list[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("benchmark", "x", "y") and isinstance(value, str):
                    found.add(value)
                elif key == "benchmarks" and isinstance(value, list):
                    found.update(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({"pass": criterion["pass"], "fail": criterion["fail"]})
    return sorted(found)


def grade_predictions(
    session: Session, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, *, store: bool = False
) -> list[GradeRow]:
    """Grade every current prediction on the data known as of ``as_of``; optionally store."""
    cache: dict[dt.date, list[Release]] = {}
    rows = []
    for prediction in current_predictions(session):
        day = evaluation_date(prediction.criterion, as_of)
        if day not in cache:
            cache[day] = snapshot(session, panels, day)
        result = grade(prediction.criterion, Context(tuple(cache[day]), prediction.registered_at, day), as_of)
        rows.append(
            GradeRow(
                key=prediction.key, revision=prediction.revision, title=prediction.title,
                registered_at=prediction.registered_at.isoformat(),
                deadline=prediction.deadline.isoformat() if prediction.deadline else None,
                probability=prediction.probability, state=result.state, note=result.note, grade=result,
                benchmarks=benchmarks_of(prediction.criterion),
            )
        )  # fmt: skip
        if store:
            session.add(PredictionGrading(prediction_id=prediction.id, as_of=as_of, state=result.state,
                                          panels=",".join(panels), evidence=asdict(result)))  # fmt: skip
    session.flush()
    return rows


def show_prediction(session: Session, key: str) -> list[Prediction]:
    revisions = list(session.scalars(select(Prediction).where(Prediction.key == key).order_by(Prediction.revision)))
    if not revisions:
        keys = list(session.scalars(select(Prediction.key).distinct()))
        raise NotFoundError(f"unknown prediction {key!r}", did_you_mean(key, keys) or "see `phasewatch predictions list`")
    return revisions


def gradings_of(session: Session, key: str) -> list[PredictionGrading]:
    return list(
        session.scalars(
            select(PredictionGrading).join(Prediction).where(Prediction.key == key).order_by(PredictionGrading.id)
        )
    )


# --- scoring probabilistic predictions -----------------------------------------------------------


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_probability: float | None
    observed_frequency: float | None


@dataclass(frozen=True)
class Scores:
    resolved: int
    brier: float | None
    log_score: float | None
    bins: list[CalibrationBin]
    items: list[dict[str, Any]]


def score_predictions(
    session: Session, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, bins: int = 10
) -> Scores:
    """Brier score, mean log score (natural log, higher is better) and a calibration
    table over resolved predictions that carry a probability (passed = 1, failed = 0;
    inconclusive ones are left out)."""
    items = []
    for row in grade_predictions(session, as_of, panels):
        if row.probability is None or row.state not in ("passed", "failed"):
            continue
        outcome = 1.0 if row.state == "passed" else 0.0
        items.append({"key": row.key, "probability": row.probability, "outcome": outcome})
    if not items:
        return Scores(0, None, None, [], [])
    brier = sum((i["probability"] - i["outcome"]) ** 2 for i in items) / len(items)
    eps = 1e-12
    log_score = sum(math.log(max(eps, i["probability"] if i["outcome"] else 1 - i["probability"])) for i in items) / len(items)
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i in items if low <= i["probability"] < high or (b == bins - 1 and i["probability"] == 1.0)]
        table.append(CalibrationBin(
            low, high, len(members),
            sum(i["probability"] for i in members) / len(members) if members else None,
            sum(i["outcome"] for i in members) / len(members) if members else None,
        ))  # fmt: skip
    return Scores(len(items), brier, log_score, table, items)



@dataclass(frozen=True)
class Movement:
    key: str
    title: str
    before: str | None
    after: str
    note: str


def _decisive(evidence: Any) -> Any:
    """The parts of the evidence that decide a grade: each comparison's value,
    result and the releases in a window (not counts or model lists)."""
    if isinstance(evidence, dict):
        if "metric" in evidence:
            return (evidence.get("value"), evidence.get("result"), str(evidence.get("releases")))
        return {k: _decisive(v) for k, v in evidence.items()}
    if isinstance(evidence, list):
        return [_decisive(v) for v in evidence]
    return evidence


def movements(before: list[GradeRow], after: list[GradeRow]) -> list[Movement]:
    """Predictions whose state or deciding figures changed between two gradings."""
    earlier = {row.key: row for row in before}
    out = []
    for row in after:
        old = earlier.get(row.key)
        if old is None or old.state != row.state or _decisive(old.grade.evidence) != _decisive(row.grade.evidence):
            note = row.note if old is None or old.state != row.state else "its deciding figures changed, state unchanged"
            out.append(Movement(row.key, row.title, old.state if old else None, row.state, note))
    return out
