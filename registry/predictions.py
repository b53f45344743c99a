"""Registered predictions: append-only, hash-chained, graded from the registry's data.

Two tamper-evident logs: the prediction chain (each row's ``content_hash`` covers its
content and ``prev_hash``; ``prev_hash`` is unique and the first row's is
:data:`GENESIS`, so the chain cannot fork), and the grading seal (each stored
grading's hash covers the prediction hash it graded, its state and evidence, and a
fingerprint of every observation it used, chained the same way). The combined head
(:func:`published_head`) is what a user publishes elsewhere; ``verify`` checks the
logs against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session

from phasewatch.models.criteria import (
    RESOLVED,
    Context,
    CriterionError,
    Figure,
    Grade,
    Release,
    evaluation_date,
    grade,
    validate,
)
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import period_end
from phasewatch.registry.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
)
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
GENESIS = "0" * 64  # the prev_hash of the first row of each log
APPEND_RETRIES = 20


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_of(p: Prediction, supersedes: str | None) -> dict[str, Any]:
    """What the hash covers: everything a reader relies on."""
    content = {
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
    if p.retrodiction:  # absent when false, so rows hashed before 0007 still verify
        content["retrodiction"] = True
    return content


def chain_hash(content: dict[str, Any], prev_hash: str | None) -> str:
    """SHA-256 of the previous hash (empty for the genesis link) and the canonical content."""
    prev = "" if prev_hash in (None, GENESIS) else prev_hash
    return hashlib.sha256((prev + "\n" + canonical(content)).encode()).hexdigest()


def _head(session: Session, model: type[Prediction | PredictionGrading]) -> Any:
    return session.scalar(select(model).order_by(model.id.desc()).limit(1))


@dataclass(frozen=True)
class PredictionSpec:
    key: str
    title: str
    statement: str
    criterion: dict[str, Any]
    registered_at: dt.date
    probability: float | None = None
    source: str | None = None
    retrodiction: bool = False


def _check(session: Session, spec: PredictionSpec) -> None:
    benchmarks = set(session.scalars(select(Benchmark.key)))
    try:
        validate(spec.criterion, benchmarks)
    except CriterionError as exc:
        raise InvalidInputError(
            f"prediction {spec.key!r}: {exc}", "see docs/predictions.md for the criterion language"
        ) from None
    labs = Catalog(session)
    for lab in _labs_named(spec.criterion):
        labs.lab(lab)
    if spec.probability is not None and not 0.0 < spec.probability < 1.0:
        raise InvalidInputError(
            f"prediction {spec.key!r}: probability {spec.probability} is not in (0, 1)", "give e.g. 0.7"
        )


def _append(session: Session, spec: PredictionSpec, *, revise: bool) -> Prediction:
    """Append one prediction (or a new revision of one) to the chain.

    The new row links to the chain's head; ``prev_hash`` is unique, so of two
    concurrent appends on the same head one fails and is retried on the new head.
    ``registered_at`` never moves backward along the chain.
    """
    _check(session, spec)
    for _ in range(APPEND_RETRIES):
        latest = session.scalar(
            select(Prediction).where(Prediction.key == spec.key).order_by(Prediction.revision.desc()).limit(1)
        )
        if latest is not None and not revise:
            raise ConflictError(
                f"prediction {spec.key!r} is already registered", "pass --revise to register a new revision"
            )
        head = _head(session, Prediction)
        if head is not None and spec.registered_at < head.registered_at:
            raise ConflictError(
                f"prediction {spec.key!r}: registration date {spec.registered_at} is before the chain head's "
                f"({head.registered_at}); registration dates only move forward",
                "check the clock (PHASEWATCH_TODAY)",
            )
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
            retrodiction=spec.retrodiction,
            supersedes_id=latest.id if latest else None,
            prev_hash=head.content_hash if head else GENESIS,
        )
        row.content_hash = chain_hash(
            content_of(row, f"{latest.key}@{latest.revision}" if latest else None), row.prev_hash
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except DBIntegrityError:
            continue  # another writer appended on the same head (or the same key): look again
        return row
    raise ConflictError(f"prediction {spec.key!r}: the chain kept moving under concurrent writers", "try again")


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


def _bundle(name: str) -> dict[str, Any]:
    with resources.files("phasewatch.registry.data").joinpath("predictions", name).open() as handle:
        return json.load(handle)


def seed_predictions(session: Session) -> int:
    """Register the paper's seven (revision 1, verbatim), then their re-expression with
    evidence windows (revision 2, ``growing-pains-7-r2.json``); each once."""
    bundle = _bundle("growing-pains-7.json")
    added = 0
    for entry in bundle["predictions"]:
        if session.scalar(select(Prediction.id).where(Prediction.key == entry["key"]).limit(1)) is not None:
            continue
        criterion = {**entry["criterion"], "trend": bundle["trend"]}
        spec = PredictionSpec(
            entry["key"],
            entry["title"],
            entry["statement"],
            criterion,
            dt.date.fromisoformat(bundle["registered_at"]),
            None,
            bundle["source"],
        )
        _append(session, spec, revise=False)
        added += 1
    revised = _bundle("growing-pains-7-r2.json")
    for entry in revised["predictions"]:
        revisions = list(session.scalars(select(Prediction.revision).where(Prediction.key == entry["key"])))
        if revisions != [1]:  # already re-expressed (or revised by hand): leave it
            continue
        criterion = (
            {**entry["criterion"], "trend": bundle["trend"]}
            if "h_field" in json.dumps(entry["criterion"])
            else entry["criterion"]
        )
        head = _head(session, Prediction)
        day = max(dt.date.fromisoformat(revised["revised_at"]), head.registered_at)
        spec = PredictionSpec(entry["key"], entry["title"], entry["statement"], criterion, day, None, revised["source"])
        _append(session, spec, revise=True)
        added += 1
    return added


def add_predictions(
    session: Session,
    raw: Any,
    *,
    today: dt.date,
    revise: bool = False,
    retrodiction: bool = False,
    panels: tuple[str, ...] = DEFAULT_PANELS,
) -> list[str]:
    """Register user predictions (a JSON object or a list of them), timestamped today.

    A prediction that would already resolve today is refused unless registered as a
    retrodiction (``retrodiction`` here or ``"retrodiction": true`` in the entry),
    which is kept and graded but never scored.
    """
    entries = raw if isinstance(raw, list) else [raw]
    added = []
    allowed = {"key", "title", "statement", "criterion", "probability", "source", "retrodiction"}
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidInputError(f"prediction {i}: expected a JSON object", "see docs/predictions.md")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise InvalidInputError(
                f"prediction {i}: unknown field(s) {', '.join(unknown)}", f"allowed: {', '.join(sorted(allowed))}"
            )
        for required in ("key", "title", "criterion"):
            if not entry.get(required):
                raise InvalidInputError(f"prediction {i}: missing {required!r}", "see docs/predictions.md")
        probability = entry.get("probability")
        if probability is not None and (not isinstance(probability, int | float) or isinstance(probability, bool)):
            raise InvalidInputError(f"prediction {entry['key']!r}: probability must be a number", "give e.g. 0.7")
        retro = retrodiction or entry.get("retrodiction") is True
        spec = PredictionSpec(
            str(entry["key"]),
            str(entry["title"]),
            str(entry.get("statement") or entry["title"]),
            entry["criterion"],
            today,
            probability,
            entry.get("source"),
            retro,
        )
        _check(session, spec)
        if not retro:
            first = session.scalar(select(func.min(Prediction.registered_at)).where(Prediction.key == spec.key))
            anchor = first or today
            day = evaluation_date(spec.criterion, today)
            now = grade(spec.criterion, Context(tuple(snapshot(session, panels, day)), anchor, day), today)
            if now.state in RESOLVED:
                raise InvalidInputError(
                    f"prediction {spec.key!r} is already resolvable at registration ({now.state}: {now.note})",
                    "a prediction must be open when made; register it with --retrodiction to keep it out of scores",
                )
        row = _append(session, spec, revise=revise)
        added.append(f"{row.key}@{row.revision}" + (" (retrodiction)" if row.retrodiction else ""))
    return added


# --- the grading seal ---------------------------------------------------------------------------


def observation_fingerprint(o: Observation) -> str:
    """SHA-256 of everything a figure's meaning rests on."""
    parts = [
        o.model_id,
        o.benchmark_id,
        repr(float(o.value)),
        None if o.stderr is None else repr(float(o.stderr)),
        o.setting,
        o.source_url,
        o.reported_by,
        o.retrieved_on.isoformat() if o.retrieved_on else None,
    ]
    return hashlib.sha256(canonical(parts).encode()).hexdigest()


def grading_content(g: PredictionGrading) -> dict[str, Any]:
    return {
        "prediction": g.prediction_hash,
        "as_of": g.as_of.isoformat(),
        "state": g.state,
        "reason": g.reason,
        "panels": g.panels,
        "evidence": g.evidence,
        "observations": g.observations,
    }


def _seal(session: Session, prediction: Prediction, as_of: dt.date, result: Grade, panels: tuple[str, ...]) -> None:
    observations = (
        session.scalars(select(Observation).where(Observation.id.in_(result.observations)))
        if result.observations
        else []
    )
    sealed = sorted([o.id, observation_fingerprint(o)] for o in observations)
    evidence = json.loads(canonical({k: v for k, v in asdict(result).items() if k != "observations"}))
    for _ in range(APPEND_RETRIES):
        head = _head(session, PredictionGrading)
        row = PredictionGrading(
            prediction_id=prediction.id,
            prediction_hash=prediction.content_hash,
            as_of=as_of,
            state=result.state,
            reason=result.reason,
            panels=",".join(panels),
            evidence=evidence,
            observations=sealed,
            prev_hash=head.content_hash if head else GENESIS,
        )
        row.content_hash = chain_hash(grading_content(row), row.prev_hash)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except DBIntegrityError:
            continue
        return
    raise ConflictError("the grading log kept moving under concurrent writers", "try again")


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    ok: bool
    problems: list[str]
    head_hash: str | None  # the prediction chain's head
    gradings: int = 0
    grading_head: str | None = None
    head: str = ""  # the combined head to publish
    first_altered: str | None = None


def published_head(prediction_head: str | None, grading_head: str | None) -> str:
    """The one hash to publish: it fixes both logs up to their heads."""
    text = f"phasewatch-head\n{prediction_head or GENESIS}\n{grading_head or GENESIS}"
    return hashlib.sha256(text.encode()).hexdigest()


def _label(row: Prediction) -> str:
    return f"#{row.id} {row.key}@{row.revision}"


def _walk(rows: list[Any], label: Any, content: Any, problems: list[str], what: str) -> None:
    """Check each row's hash and its link to the row before (by id)."""
    previous = None
    for row in rows:
        expected_prev = previous.content_hash if previous else GENESIS
        if row.prev_hash != expected_prev:
            gap = list(range(previous.id + 1, row.id)) if previous else list(range(1, row.id))
            where = f"after {label(previous)}" if previous else "at the start of the log"
            if gap:
                ids = ", ".join(f"#{i}" for i in gap)
                problems.append(f"{what} {ids} {where} removed: {label(row)} links to a hash no row has")
            else:
                problems.append(
                    f"{label(previous) if previous else label(row)}: its hash was rewritten "
                    f"({label(row)}'s link no longer matches)"
                )
        if chain_hash(content(row), row.prev_hash) != row.content_hash:
            problems.append(f"{label(row)}: content does not match its hash (altered after it was written)")
        previous = row


def verify_chain(
    session: Session, expect_head: str | None = None, checkpoint: dict[str, Any] | None = None
) -> ChainCheck:
    """Recompute both logs; name every altered, removed or back-dated row; with a
    published head (or checkpoint file), also catch truncation, rewrites and forged
    appends after it."""
    rows = list(session.scalars(select(Prediction).order_by(Prediction.id)))
    by_id = {r.id: r for r in rows}
    problems: list[str] = []

    def content(row: Prediction) -> dict[str, Any]:
        superseded = by_id.get(row.supersedes_id) if row.supersedes_id else None
        name = (
            f"{superseded.key}@{superseded.revision}"
            if superseded
            else (f"#{row.supersedes_id}" if row.supersedes_id else None)
        )
        return content_of(row, name)

    _walk(rows, _label, content, problems, "prediction row(s)")
    for before, row in itertools.pairwise(rows):
        if row.registered_at < before.registered_at:
            problems.append(
                f"{_label(row)}: registered {row.registered_at}, before {_label(before)} ({before.registered_at}): back-dated"
            )
    gradings = list(session.scalars(select(PredictionGrading).order_by(PredictionGrading.id)))
    _walk(gradings, _grading_label, grading_content, problems, "grading row(s)")
    used = {i for g in gradings for i, _ in g.observations}
    current = (
        {o.id: observation_fingerprint(o) for o in session.scalars(select(Observation).where(Observation.id.in_(used)))}
        if used
        else {}
    )
    for g in gradings:
        graded = by_id.get(g.prediction_id)
        if graded is None or graded.content_hash != g.prediction_hash:
            problems.append(
                f"{_grading_label(g)}: the prediction it graded (#{g.prediction_id}) is no longer the row it sealed"
            )
        for obs_id, fingerprint in g.observations:
            if current.get(obs_id) != fingerprint:
                change = "deleted" if obs_id not in current else "altered"
                problems.append(f"{_grading_label(g)}: observation #{obs_id} it rested on was {change}")
    p_head = rows[-1].content_hash if rows else GENESIS
    g_head = gradings[-1].content_hash if gradings else GENESIS
    if checkpoint is not None or expect_head is not None:
        problems += _against_published(rows, gradings, expect_head, checkpoint)
    first = next((p.split(":")[0] for p in problems), None)
    return ChainCheck(
        len(rows),
        not problems,
        problems,
        p_head if rows else None,
        len(gradings),
        g_head if gradings else None,
        published_head(p_head, g_head),
        first,
    )


def _against_published(
    rows: list[Prediction], gradings: list[PredictionGrading], expect: str | None, checkpoint: dict[str, Any] | None
) -> list[str]:
    """Find the published head among the logs' prefixes; rows after it must not be back-dated."""
    p_heads = [GENESIS] + [r.content_hash for r in rows]
    g_heads = [GENESIS] + [g.content_hash for g in gradings]
    problems: list[str] = []
    if checkpoint is not None:
        expect = expect or checkpoint.get("head")
        problems += _compare_listing(rows, checkpoint.get("predictions", {}).get("rows", []), _label, "prediction")
        problems += _compare_listing(
            gradings, checkpoint.get("gradings", {}).get("rows", []), lambda g: f"grading #{g.id}", "grading"
        )
    found = next(
        ((i, j) for i, p in enumerate(p_heads) for j, g in enumerate(g_heads) if published_head(p, g) == expect), None
    )
    if found is None:
        if not problems:
            problems.append(
                f"published head {expect}: not found in the logs (rows were removed or rewritten "
                "at or before the published point; verify with the checkpoint file to name the first)"
            )
        return problems
    i, _ = found
    stamp = checkpoint.get("date") if checkpoint else None
    floor = dt.date.fromisoformat(stamp) if stamp else (rows[i - 1].registered_at if i else None)
    for row in rows[i:]:
        if floor is not None and row.registered_at < floor:
            problems.append(
                f"{_label(row)}: appended after the published head but registered {row.registered_at}, "
                f"before it ({floor}): a forged, back-dated append"
            )
    return problems


def _compare_listing(rows: list[Any], listed: list[list[Any]], label: Any, what: str) -> list[str]:
    """Row by row against the checkpoint's listing: the first altered or removed row."""
    present = {r.id: r for r in rows}
    for row_id, row_hash in listed:
        row = present.get(row_id)
        if row is None:
            return [f"{what} #{row_id}: removed since the checkpoint"]
        if row.content_hash != row_hash:
            return [f"{label(row)}: altered since the checkpoint (its hash differs from the published one)"]
    return []


def require_intact(session: Session) -> ChainCheck:
    """Refuse to grade on a log that does not verify."""
    check = verify_chain(session)
    if not check.ok:
        raise IntegrityError(
            f"prediction log broken, first at {check.first_altered}: {check.problems[0]}"
            + (f" (+{len(check.problems) - 1} more)" if len(check.problems) > 1 else ""),
            "run `phasewatch predictions verify` and restore the database from a backup",
        )
    return check


def checkpoint_of(session: Session, today: dt.date) -> dict[str, Any]:
    """A dated checkpoint to publish: the combined head and every row's hash."""
    check = require_intact(session)
    rows = session.execute(select(Prediction.id, Prediction.content_hash).order_by(Prediction.id)).all()
    gradings = session.execute(
        select(PredictionGrading.id, PredictionGrading.content_hash).order_by(PredictionGrading.id)
    ).all()
    return {
        "format": "phasewatch-checkpoint/1",
        "date": today.isoformat(),
        "head": check.head,
        "predictions": {"count": check.rows, "head": check.head_hash or GENESIS, "rows": [list(r) for r in rows]},
        "gradings": {
            "count": check.gradings,
            "head": check.grading_head or GENESIS,
            "rows": [list(g) for g in gradings],
        },
    }


# --- the data a grading sees ----------------------------------------------------------------


def snapshot(session: Session, panels: tuple[str, ...], day: dt.date) -> list[Release]:
    """Frontier models with their figures per benchmark, as the registry knew them on ``day``.

    An observation counts if it belongs to one of ``panels`` (or to no panel:
    logged releases and imports), was known by ``day`` (``retrieved_on``, else
    the day it was recorded) and its model was released by ``day``. Figures are
    ordered: the first listed panel first, then the most recently known; the first
    is the model's score. ``group`` is the root of the model's ``variant_of`` chain.
    """
    catalog = Catalog(session)
    rank = {catalog.panel(name).id: i for i, name in enumerate(panels)}
    memberships: dict[int, list[int]] = defaultdict(list)
    for observation_id, panel_id in session.execute(select(PanelObservation.observation_id, PanelObservation.panel_id)):
        memberships[observation_id].append(panel_id)
    query = (
        select(
            Observation.id,
            Observation.model_id,
            Benchmark.key,
            Observation.value,
            Observation.retrieved_on,
            Observation.created_at,
            Observation.reported_by,
        )
        .join(Benchmark)
        .join(Model)
        .where(Model.kind == ModelKind.FRONTIER.value)
    )
    found: dict[tuple[int, str], list[tuple[tuple[int, dt.date, int], Figure]]] = defaultdict(list)
    for obs_id, model_id, key, value, retrieved, created, reported_by in session.execute(query):
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
        found[(model_id, key)].append(((-priority, known, obs_id), Figure(obs_id, value, reported_by, known)))
    figures: dict[int, dict[str, tuple[Figure, ...]]] = defaultdict(dict)
    for (model_id, key), items in found.items():
        figures[model_id][key] = tuple(f for _, f in sorted(items, key=lambda t: t[0], reverse=True))
    parents = dict(session.execute(select(Model.id, Model.variant_of_id)).all())
    names = dict(session.execute(select(Model.id, Model.name)).all())

    def root(model_id: int) -> int:
        seen = {model_id}
        while parents.get(model_id) is not None and parents[model_id] not in seen:
            model_id = parents[model_id]
            seen.add(model_id)
        return model_id

    models = session.execute(
        select(Model.id, Model.name, Lab.name, Model.release_date, Model.release_date_precision)
        .join(Lab)
        .where(Model.id.in_(figures))
    )
    releases = []
    for model_id, name, lab, released, precision in models:
        end = period_end(released, precision) if released else None
        if released is not None and released > day:
            continue
        own = figures[model_id]
        releases.append(
            Release(name, lab, released, end, {k: v[0].value for k, v in own.items()}, own, names[root(model_id)])
        )
    # Releases with no counted figure still take their place in a lab's release window
    # (listed as lacking scores): known from the day they were logged.
    bare = session.execute(
        select(Model.id, Model.name, Lab.name, Model.release_date, Model.release_date_precision, Model.created_at)
        .join(Lab)
        .where(
            Model.kind == ModelKind.FRONTIER.value,
            Model.release_date.is_not(None),
            Model.release_date <= day,
            Model.id.not_in(figures) if figures else Model.id.is_not(None),
        )
    )
    for model_id, name, lab, released, precision, created in bare:
        if created.date() <= day:
            releases.append(
                Release(name, lab, released, period_end(released, precision), {}, {}, names[root(model_id)])
            )
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
    reason: str = ""
    retrodiction: bool = False
    window_from: str = ""


def current_predictions(session: Session, as_of: dt.date | None = None) -> list[Prediction]:
    """The latest revision of each key registered by ``as_of`` (all, without it)."""
    query = select(Prediction)
    if as_of is not None:
        query = query.where(Prediction.registered_at <= as_of)
    latest: dict[str, Prediction] = {}
    first: dict[str, int] = {}
    for row in session.scalars(query.order_by(Prediction.id)):
        first.setdefault(row.key, row.id)
        if row.key not in latest or row.revision > latest[row.key].revision:
            latest[row.key] = row
    return sorted(latest.values(), key=lambda p: first[p.key])


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


def _first_registered(session: Session) -> dict[str, dt.date]:
    return dict(
        session.execute(select(Prediction.key, func.min(Prediction.registered_at)).group_by(Prediction.key)).all()
    )


def grade_predictions(
    session: Session, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, *, store: bool = False
) -> list[GradeRow]:
    """Grade every prediction registered by ``as_of`` on the data known as of ``as_of``.

    With ``store``, the logs must verify first (else :class:`IntegrityError`), and a
    grading is sealed only when it changes the prediction's stored state.
    """
    if store:
        require_intact(session)
    cache: dict[dt.date, list[Release]] = {}
    anchors = _first_registered(session)
    rows = []
    for prediction in current_predictions(session, as_of):
        day = evaluation_date(prediction.criterion, as_of)
        if day not in cache:
            cache[day] = snapshot(session, panels, day)
        anchor = anchors[prediction.key]
        result = grade(prediction.criterion, Context(tuple(cache[day]), anchor, day), as_of)
        rows.append(
            GradeRow(
                key=prediction.key,
                revision=prediction.revision,
                title=prediction.title,
                registered_at=prediction.registered_at.isoformat(),
                deadline=prediction.deadline.isoformat() if prediction.deadline else None,
                probability=prediction.probability,
                state=result.state,
                note=result.note,
                grade=result,
                benchmarks=benchmarks_of(prediction.criterion),
                reason=result.reason,
                retrodiction=prediction.retrodiction,
                window_from=anchor.isoformat(),
            )
        )
        if store and _changes_state(session, prediction, as_of, result):
            _seal(session, prediction, as_of, result, panels)
    session.flush()
    return rows


def _changes_state(session: Session, prediction: Prediction, as_of: dt.date, result: Grade) -> bool:
    """Whether the stored grading in force on ``as_of`` has another state or reason."""
    last = session.scalar(
        select(PredictionGrading)
        .where(PredictionGrading.prediction_id == prediction.id, PredictionGrading.as_of <= as_of)
        .order_by(PredictionGrading.as_of.desc(), PredictionGrading.id.desc())
        .limit(1)
    )
    return last is None or (last.state, last.reason) != (result.state, result.reason)


def show_prediction(session: Session, key: str) -> list[Prediction]:
    revisions = list(session.scalars(select(Prediction).where(Prediction.key == key).order_by(Prediction.revision)))
    if not revisions:
        keys = list(session.scalars(select(Prediction.key).distinct()))
        raise NotFoundError(
            f"unknown prediction {key!r}", did_you_mean(key, keys) or "see `phasewatch predictions list`"
        )
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
    frequency_low: float | None = None  # Wilson 95 % interval of the observed frequency
    frequency_high: float | None = None


@dataclass(frozen=True)
class Scores:
    resolved: int
    brier: float | None
    log_score: float | None
    bins: list[CalibrationBin]
    items: list[dict[str, Any]]
    baseline_brier: float | None = None  # always forecasting 0.5
    baseline_log_score: float | None = None
    brier_skill: float | None = None  # 1 - Brier / baseline Brier (> 0 beats the baseline)
    left_out: dict[str, int] = field(default_factory=dict)
    note: str = ""


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score_predictions(
    session: Session, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, bins: int = 10
) -> Scores:
    """Brier score, mean log score (natural log, 0 best), the same for a 0.5 baseline,
    and a reliability table, over resolved (passed = 1, failed = 0), non-retrodicted
    predictions that carry a probability; the rest are counted as left out."""
    items, left_out = [], defaultdict(int)
    for row in grade_predictions(session, as_of, panels):
        if row.probability is None:
            continue
        if row.retrodiction:
            left_out["retrodiction"] += 1
            continue
        if row.state not in ("passed", "failed"):
            left_out[row.state] += 1
            continue
        items.append({"key": row.key, "probability": row.probability, "outcome": 1.0 if row.state == "passed" else 0.0})
    if not items:
        return Scores(
            0, None, None, [], [], left_out=dict(left_out), note="no resolved prediction carries a probability"
        )
    n = len(items)
    brier = sum((i["probability"] - i["outcome"]) ** 2 for i in items) / n
    eps = 1e-12
    log_score = sum(math.log(max(eps, i["probability"] if i["outcome"] else 1 - i["probability"])) for i in items) / n
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i in items if low <= i["probability"] < high or (b == bins - 1 and i["probability"] == 1.0)]
        hits = sum(i["outcome"] for i in members)
        interval = wilson(hits, len(members)) if members else (None, None)
        table.append(
            CalibrationBin(
                low,
                high,
                len(members),
                sum(i["probability"] for i in members) / len(members) if members else None,
                hits / len(members) if members else None,
                *interval,
            )
        )
    note = f"{n} resolved predictions: a small sample, read the intervals" if n < 30 else ""
    return Scores(n, brier, log_score, table, items, 0.25, math.log(0.5), 1 - brier / 0.25, dict(left_out), note)


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
            note = (
                row.note if old is None or old.state != row.state else "its deciding figures changed, state unchanged"
            )
            out.append(Movement(row.key, row.title, old.state if old else None, row.state, note))
    return out


def _grading_label(grading: PredictionGrading) -> str:
    return f"grading #{grading.id}"
