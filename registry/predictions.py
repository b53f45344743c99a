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
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, func, select, text
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session

from phasewatch.models.criteria import (
    RESOLVED,
    Context,
    Criterion,
    CriterionError,
    Figure,
    Grade,
    Release,
    grade,
    parse,
)
from phasewatch.models.saturation import PAIRS, BenchmarkSaturation, PairRatio, saturation_report
from phasewatch.registry import grading_inputs
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.changes import ChangeState, change_state, logged_changes, vouch
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


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_quote = json.encoder.encode_basestring  # how _CANONICAL writes a string (C-accelerated)


def canonical(obj: Any) -> str:
    """The JSON that is hashed: sorted keys, no spaces, UTF-8 kept (one encoder, reused:
    ``json.dumps`` with options builds a new one per call)."""
    return _CANONICAL.encode(obj)


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


KEY_LIMIT, TITLE_LIMIT, TEXT_LIMIT = 100, 200, 10_000


def _text(value: Any, what: str, where: str, limit: int, *, required: bool = True) -> str | None:
    """A string field of a prediction: present (if required), at most ``limit`` characters, no control characters."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInputError(f"{where}: {what} must be a non-empty string", "see docs/predictions.md")
    if len(value) > limit:
        raise InvalidInputError(f"{where}: {what} is {len(value)} characters, over {limit}", "shorten it")
    if any(ord(c) < 32 and c not in "\n\t" or ord(c) == 127 for c in value):
        raise InvalidInputError(f"{where}: {what} contains control characters", "remove them")
    return value


def parse_criterion(raw: Any, benchmarks: set[str] | None, where: str) -> Criterion:
    """The typed criterion, or one :class:`InvalidInputError` line naming the place."""
    try:
        return parse(raw, benchmarks)
    except CriterionError as exc:
        raise InvalidInputError(f"{where}: {exc}", "see docs/predictions.md for the criterion language") from None


def _check(session: Session, spec: PredictionSpec) -> Criterion:
    criterion = parse_criterion(spec.criterion, set(session.scalars(select(Benchmark.key))), f"prediction {spec.key!r}")
    labs = Catalog(session)
    for lab in criterion.labs():
        labs.lab(lab)
    if spec.probability is not None and not 0.0 < spec.probability < 1.0:
        raise InvalidInputError(
            f"prediction {spec.key!r}: probability {spec.probability} is not in (0, 1)", "give e.g. 0.7"
        )
    return criterion


def _append(session: Session, spec: PredictionSpec, *, revise: bool) -> Prediction:
    """Append one prediction (or a new revision of one) to the chain.

    The new row links to the chain's head; ``prev_hash`` is unique, so of two
    concurrent appends on the same head one fails and is retried on the new head.
    ``registered_at`` never moves backward along the chain.
    """
    criterion = _check(session, spec)
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
        row = Prediction(
            key=spec.key,
            revision=(latest.revision + 1) if latest else 1,
            title=spec.title,
            statement=spec.statement,
            criterion=criterion.to_json(),
            registered_at=spec.registered_at,
            deadline=criterion.deadline,
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
        criterion = {**entry["criterion"], "trend": bundle["trend"]}
        if not parse(criterion).uses_release_window():  # the trend is kept only where an h-field uses it
            criterion = entry["criterion"]
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
        key = _text(entry["key"], "the key", f"prediction {i}", KEY_LIMIT)
        where = f"prediction {key!r}"
        title = _text(entry["title"], "the title", where, TITLE_LIMIT)
        statement = _text(entry.get("statement") or title, "the statement", where, TEXT_LIMIT)
        source = _text(entry.get("source"), "the source", where, TEXT_LIMIT, required=False)
        probability = entry.get("probability")
        if probability is not None and (
            not isinstance(probability, int | float) or isinstance(probability, bool) or not math.isfinite(probability)
        ):
            raise InvalidInputError(f"{where}: probability must be a finite number", "give e.g. 0.7")
        if "retrodiction" in entry and not isinstance(entry["retrodiction"], bool):
            raise InvalidInputError(f"{where}: retrodiction must be true or false", "see docs/predictions.md")
        retro = retrodiction or entry.get("retrodiction") is True
        assert key is not None and title is not None and statement is not None
        spec = PredictionSpec(key, title, statement, entry["criterion"], today, probability, source, retro)
        criterion = _check(session, spec)
        if not retro:
            first = session.scalar(select(func.min(Prediction.registered_at)).where(Prediction.key == spec.key))
            anchor = first or today
            day = criterion.evaluation_date(today)
            releases = snapshot(session, panels, day, criterion.benchmarks(), criterion.labs())
            now = grade(criterion, Context(tuple(releases), anchor, day), today)
            if now.state in RESOLVED:
                raise InvalidInputError(
                    f"prediction {spec.key!r} is already resolvable at registration ({now.state}: {now.note})",
                    "a prediction must be open when made; register it with --retrodiction to keep it out of scores",
                )
        row = _append(session, spec, revise=revise)
        added.append(f"{row.key}@{row.revision}" + (" (retrodiction)" if row.retrodiction else ""))
    return added


# --- the grading seal ---------------------------------------------------------------------------


def observation_fingerprint(o: Any) -> str:
    """SHA-256 of everything a figure's meaning rests on: the canonical JSON of
    ``[model_id, benchmark_id, repr(value), repr(stderr) | null, setting, source_url,
    reported_by, retrieved_on | null]``."""
    return _fingerprint(
        o.model_id, o.benchmark_id, o.value, o.stderr, o.setting, o.source_url, o.reported_by, o.retrieved_on
    )


def _json_text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def _fingerprint(
    model_id: int,
    benchmark_id: int,
    value: float,
    stderr: float | None,
    setting: str | None,
    source_url: str | None,
    reported_by: str | None,
    retrieved_on: dt.date | None,
) -> str:
    """:func:`observation_fingerprint` from the columns: the canonical JSON written out
    directly (one C string escape per text field; a sealed grading re-fingerprints tens
    of thousands of observations each time it is verified). Equal to
    ``sha256(canonical(parts))``; ``tests/registry/test_prediction_integrity.py`` checks it."""
    error = "null" if stderr is None else f'"{float(stderr)!r}"'
    known = "null" if retrieved_on is None else f'"{retrieved_on.isoformat()}"'
    text = (
        f'[{int(model_id)},{int(benchmark_id)},"{float(value)!r}",{error},'
        f"{_json_text(setting)},{_json_text(source_url)},{_json_text(reported_by)},{known}]"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprints(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """:func:`observation_fingerprint` of each existing observation in ``ids``, read as
    plain rows in chunks; the ids are written into the SQL as integer literals (binding
    5,000 parameters per chunk costs more than reading the rows)."""
    wanted = sorted({int(i) for i in ids})
    columns = (
        Observation.id,
        Observation.model_id,
        Observation.benchmark_id,
        Observation.value,
        Observation.stderr,
        Observation.setting,
        Observation.source_url,
        Observation.reported_by,
        Observation.retrieved_on,
    )
    out: dict[int, str] = {}
    connection = session.connection()
    for start in range(0, len(wanted), 5000):
        listed = ",".join(map(str, wanted[start : start + 5000]))
        query = select(*columns).where(text(f"{Observation.__tablename__}.id IN ({listed})"))
        for row_id, *fields in connection.execute(query).all():  # one fetch, not a call per row
            out[row_id] = _fingerprint(*fields)
    return out


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
    session.flush()  # observations added in this transaction are read back too
    sealed = sorted([i, f] for i, f in fingerprints(session, result.observations).items())
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
    current = fingerprints(session, used)
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


def intact_since(session: Session, state: ChangeState | None = None) -> int | None:
    """Refuse to grade on a broken log, verifying everything again only when the registry
    changed since the logs were last known intact and the change is not one the
    observation log names in full (then only the seals resting on the changed figures are
    checked: :func:`seals_hold`); docs/predictions.md, "The seal". The change count they are
    known intact at (``None``: a registry without the count)."""
    state = state if state is not None else change_state(session)
    if state is not None and state.verified:
        return state.count
    changes = logged_changes(session, state)
    if changes is None or not seals_hold(session, changes.altered):
        require_intact(session)  # names what broke, or finds the logs intact after all
    return None if state is None else state.count


def seals_hold(session: Session, altered: Iterable[int]) -> bool:
    """Whether every sealed grading resting on one of the ``altered`` observations still
    finds it as sealed (a changed fingerprint or a deleted row breaks it). With the logs
    intact before, and only these figures changed since, that is :func:`verify_chain`'s
    verdict at a fraction of its cost."""
    wanted = set(altered)
    if not wanted:
        return True
    sealed: set[tuple[int, str]] = set()
    for pairs in session.scalars(select(PredictionGrading.observations)):
        sealed.update((obs_id, fingerprint) for obs_id, fingerprint in pairs if obs_id in wanted)
    current = fingerprints(session, {obs_id for obs_id, _ in sealed})
    return all(current.get(obs_id) == fingerprint for obs_id, fingerprint in sealed)


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


def snapshot(
    session: Session,
    panels: tuple[str, ...],
    day: dt.date,
    benchmarks: Iterable[str] | None = None,
    labs: Iterable[str] = (),
    *,
    models: Iterable[int] | None = None,
) -> list[Release]:
    """Frontier models with their figures per benchmark, as the registry knew them on ``day``.

    An observation counts if it belongs to one of ``panels`` (or to no panel:
    logged releases and imports), was known by ``day`` (``retrieved_on``, else
    the day it was recorded) and its model was released by ``day``. Figures are
    ordered: the first listed panel first, then the most recently known; the first
    is the model's score. ``group`` is the root of the model's ``variant_of`` chain.

    With ``benchmarks`` (what the criteria read), only figures on those are fetched,
    and a model without one is listed (scoreless, for release windows) only if its lab
    is in ``labs``; every metric then sees exactly what it would on the whole registry.
    With ``models`` (ids), only those models' releases: each model's release is read from
    its own rows, so the snapshot is the union of its models' parts (:func:`with_models`).
    """
    keys = None if benchmarks is None else sorted(set(benchmarks))
    only = None if models is None else sorted(set(models))
    window_labs = set(labs)
    catalog = Catalog(session)
    rank = {catalog.panel(name).id: i for i, name in enumerate(panels)}
    memberships: dict[int, list[int]] = defaultdict(list)  # of the listed panels only
    member_query = select(PanelObservation.observation_id, PanelObservation.panel_id).where(
        PanelObservation.panel_id.in_(sorted(rank))
    )
    if keys is not None:
        member_query = (
            member_query.join(Observation, Observation.id == PanelObservation.observation_id)
            .join(Benchmark, Benchmark.id == Observation.benchmark_id)
            .where(Benchmark.key.in_(keys))
        )
    if only is not None:
        member_query = member_query.where(
            PanelObservation.observation_id.in_(select(Observation.id).where(Observation.model_id.in_(only)))
        )
    connection = session.connection()  # Core rows: no ORM processing per row
    for observation_id, panel_id in connection.execute(member_query):
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
        .where(Model.kind == ModelKind.FRONTIER.value, _counted(set(rank)))
    )
    if keys is not None:
        query = query.where(Benchmark.key.in_(keys))
    if only is not None:
        query = query.where(Observation.model_id.in_(only))
    lowest = len(panels)
    priority: dict[int, int] = {}  # the best-ranked listed panel of each panel member
    held: dict[int, dict[str, Any]] = {}  # model -> benchmark -> its Figure, or a list of them
    for obs_id, model_id, key, value, retrieved, created, reported_by in connection.execute(query).all():
        known = retrieved or created.date()
        if known > day:
            continue
        in_panels = memberships.get(obs_id)
        if in_panels:
            priority[obs_id] = min(rank[p] for p in in_panels)
        figure = Figure(obs_id, value, reported_by, known)
        own = held.get(model_id)
        if own is None:
            held[model_id] = {key: figure}
        else:
            before = own.get(key)
            if before is None:
                own[key] = figure
            elif type(before) is list:
                before.append(figure)
            else:
                own[key] = [before, figure]

    def order(f: Figure) -> tuple[int, dt.date, int]:  # first listed panel, then most recently known
        return (-priority.get(f.observation_id, lowest), f.known, f.observation_id)

    figures: dict[int, dict[str, tuple[Figure, ...]]] = {}
    for model_id, own in held.items():
        figures[model_id] = {
            key: tuple(sorted(v, key=order, reverse=True)) if type(v) is list else (v,) for key, v in own.items()
        }
    model_query = select(
        Model.id,
        Model.name,
        Lab.name,
        Model.release_date,
        Model.release_date_precision,
        Model.created_at,
        Model.variant_of_id,
        Model.kind,
    ).join(Lab)
    rows = connection.execute(model_query).all() if only is None else _with_ancestors(connection, model_query, only)
    parents = {row[0]: row[6] for row in rows if row[6] is not None}
    names = {row[0]: row[1] for row in rows}

    def root(model_id: int) -> int:
        seen = {model_id}
        while parents.get(model_id) is not None and parents[model_id] not in seen:
            model_id = parents[model_id]
            seen.add(model_id)
        return model_id

    releases = []
    scoreless: list[tuple[int, str, str, dt.date, str | None]] = []
    wanted = None if only is None else set(only)
    for model_id, name, lab, released, precision, created, _, kind in rows:
        if kind != ModelKind.FRONTIER.value or (wanted is not None and model_id not in wanted):
            continue
        own = figures.get(model_id)
        if own is not None:
            if released is not None and released > day:
                continue
            end = period_end(released, precision) if released else None
            scores = {k: v[0].value for k, v in own.items()}
            releases.append(Release(name, lab, released, end, scores, own, names[root(model_id)]))
        elif released is not None and released <= day and (keys is None or lab in window_labs):
            # Releases with no counted figure still take their place in a lab's release window
            # (listed as lacking scores): known from the day they were logged, or from their first
            # counted figure on a benchmark not read here.
            if created.date() <= day:
                releases.append(
                    Release(name, lab, released, period_end(released, precision), {}, {}, names[root(model_id)])
                )
            elif keys is not None:
                scoreless.append((model_id, name, lab, released, precision))
    if scoreless:
        known_by = _first_known(session, [m[0] for m in scoreless], rank, day)
        for model_id, name, lab, released, precision in scoreless:
            if model_id in known_by:
                releases.append(
                    Release(name, lab, released, period_end(released, precision), {}, {}, names[root(model_id)])
                )
    return sorted(releases, key=lambda r: r.name)


def _with_ancestors(connection: Connection, query: Select[Any], model_ids: list[int]) -> list[Row[Any]]:
    """The rows of ``query`` (a model's id first, its ``variant_of_id`` seventh) for
    ``model_ids`` and every model above them on their ``variant_of`` chains: what names
    their groups, without reading every model."""
    rows: list[Row[Any]] = []
    seen: set[int] = set()
    wanted = set(model_ids)
    while wanted:
        found = connection.execute(query.where(Model.id.in_(sorted(wanted)))).all()
        rows.extend(found)
        seen |= wanted
        wanted = {row[6] for row in found if row[6] is not None} - seen
    return rows


def _counted(panel_ids: set[int]) -> ColumnElement[bool]:
    """An observation a grading on ``panel_ids`` counts: one in no panel or in one of them
    (said in SQL, so that figures of other panels, often most of them, are never fetched)."""
    member = select(PanelObservation.observation_id).where(PanelObservation.observation_id == Observation.id)
    if not panel_ids:
        return ~member.exists()
    return ~member.exists() | member.where(PanelObservation.panel_id.in_(sorted(panel_ids))).exists()


def _first_known(session: Session, model_ids: list[int], rank: dict[int, int], day: dt.date) -> set[int]:
    """Of ``model_ids``, those with a counted figure (:func:`_counted`, any benchmark) known
    (``retrieved_on``, else the day it was recorded) by ``day``."""
    counted = _counted(set(rank))
    out: set[int] = set()
    for start in range(0, len(model_ids), 500):
        rows = session.execute(
            select(Observation.model_id, Observation.retrieved_on, Observation.created_at).where(
                Observation.model_id.in_(model_ids[start : start + 500]), counted
            )
        )
        out.update(model_id for model_id, retrieved, created in rows if (retrieved or created.date()) <= day)
    return out


def saturation_of(
    session: Session,
    panels: tuple[str, ...],
    day: dt.date,
    benchmarks: Iterable[str] | None = None,
    *,
    quarters: int = 6,
) -> tuple[list[BenchmarkSaturation], list[PairRatio]]:
    """The saturation pipeline, one for every caller: top-5 spreads (each set of weights
    once), σ per axis pair and the rotation advice, each history point (``quarters`` quarter
    ends) on the data known that day. ``benchmarks`` limits the report to those (their
    axis-pair partners are read too, so the states are the same as on the full report)."""
    wanted = None if benchmarks is None else set(benchmarks)
    read = None if wanted is None else wanted | {b for pair in PAIRS if wanted & set(pair) for b in pair}
    releases = snapshot(session, panels, day, read)
    keys = sorted({k for r in releases for k in r.scores})
    report, pairs = saturation_report(
        releases, keys, day, history_at=lambda d: snapshot(session, panels, d, read), quarters=quarters
    )
    if wanted is not None:
        report = [b for b in report if b.benchmark in wanted]
    return report, pairs


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
    criterion: Criterion | None = field(default=None, repr=False, compare=False)
    stored: bool = False  # this grading changed the stored state and was sealed


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


def criterion_of(prediction: Prediction) -> Criterion:
    """A stored prediction's criterion as a typed tree (names were checked at registration)."""
    return parse_criterion(prediction.criterion, None, f"stored prediction {prediction.key}@{prediction.revision}")


def _first_registered(session: Session) -> dict[str, dt.date]:
    return dict(
        session.execute(select(Prediction.key, func.min(Prediction.registered_at)).group_by(Prediction.key)).all()
    )


def _last_stored(session: Session, ids: list[int], as_of: dt.date) -> dict[int, tuple[str, str]]:
    """Per prediction id, the (state, reason) of the stored grading in force on ``as_of``."""
    last: dict[int, tuple[str, str]] = {}
    rows = session.execute(
        select(PredictionGrading.prediction_id, PredictionGrading.state, PredictionGrading.reason)
        .where(PredictionGrading.prediction_id.in_(ids), PredictionGrading.as_of <= as_of)
        .order_by(PredictionGrading.as_of, PredictionGrading.id)
    )
    for prediction_id, state, reason in rows:
        last[prediction_id] = (state, reason)
    return last


@dataclass(frozen=True)
class GradingInput:
    """What grading the current predictions as of a date reads, on one view of the registry:
    the predictions with their typed criteria and first registrations, and per evaluation
    date the releases (only the benchmarks and window labs the criteria read), or the
    grades a grading of the same data kept (then the releases only when asked for)."""

    as_of: dt.date
    panels: tuple[str, ...]
    predictions: tuple[Prediction, ...]
    criteria: dict[int, Criterion]
    anchors: dict[str, dt.date]
    needs: dict[dt.date, tuple[frozenset[str], frozenset[str]]]  # day -> (benchmarks, labs) read
    data: dict[dt.date, tuple[Release, ...]] | None  # None: not read (the grades were kept)
    data_count: int | None  # the registry's data count this view was read at (None: unknown)
    cached: bool = field(default=False, compare=False)  # the releases came from the grading-input cache
    # this view's grades, if known: all of them, or (not from the cache) those a change could not move
    grades: grading_inputs.Grades | None = field(default=None, compare=False)
    grades_cached: bool = field(default=False, compare=False)  # the grades came from the cache

    def graded(self, rows: list[GradeRow]) -> GradingInput:
        """This view with the grades ``rows`` found on it (so that sealing them under the
        lock, while nothing has changed, need not evaluate the criteria again)."""
        return replace(self, grades=grades_of(rows))

    def releases(self) -> dict[dt.date, tuple[Release, ...]]:
        if self.data is None:
            raise ValueError("this grading input was read without its releases (need_data=False)")
        return self.data


def grading_input(
    session: Session, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, *, need_data: bool = False
) -> GradingInput:
    """Read what :func:`grade_predictions` grades: the grades a grading of the same data,
    date and panels kept (:mod:`phasewatch.registry.grading_inputs`), and the releases
    (those it kept, or each evaluation date's snapshot once) when no grades were kept or
    ``need_data`` asks for them."""
    state = change_state(session)
    anchors = _first_registered(session)
    predictions = current_predictions(session, as_of)
    criteria = {p.id: criterion_of(p) for p in predictions}
    wanted: dict[dt.date, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for prediction in predictions:
        criterion = criteria[prediction.id]
        keys, labs = wanted[criterion.evaluation_date(as_of)]
        keys.update(criterion.benchmarks())
        labs.update(criterion.labs())
    needs = {day: (frozenset(keys), frozenset(labs)) for day, (keys, labs) in wanted.items()}
    revisions = {(p.key, p.revision) for p in predictions}
    grades = grading_inputs.cached_grades(session, state, as_of, panels, revisions)
    kept, data = None, None
    carried = None  # grades carried over a logged change (some predictions' only)
    if need_data or grades is None:
        kept = grading_inputs.cached(session, state, as_of, panels, needs)
        with grading_inputs.no_collection():
            if kept is not None:
                data = kept
            elif (patched := _patched(session, state, as_of, panels, needs, predictions, criteria)) is not None:
                data, carried = patched
            else:
                data = {day: tuple(snapshot(session, panels, day, keys, labs)) for day, (keys, labs) in needs.items()}
    count = None if state is None else state.data_count
    return GradingInput(
        as_of,
        panels,
        tuple(predictions),
        criteria,
        anchors,
        needs,
        data,
        count,
        kept is not None,
        grades if grades is not None else carried or None,
        grades is not None,
    )


def with_models(
    session: Session, base: GradingInput, model_ids: Iterable[int], grades: grading_inputs.Grades | None = None
) -> GradingInput:
    """``base`` with ``model_ids`` (models written since it was read) added or re-read, at the
    registry's change count now: a fresh :func:`grading_input` when nothing else changed
    since ``base`` (:func:`_models_read_again`); the caller checks that
    (``base.data_count``) under the write lock. ``grades``: ``base``'s grades, if known;
    those the re-read releases cannot move are carried over (:func:`_unmoved`)."""
    state = change_state(session)
    data, changed = _models_read_again(session, base.panels, base.needs, base.releases(), model_ids)
    count = None if state is None else state.data_count
    carried = grades and _unmoved(base.predictions, base.criteria, base.as_of, grades, changed)
    return replace(base, data=data, data_count=count, cached=False, grades=carried or None, grades_cached=False)


def _models_read_again(
    session: Session,
    panels: tuple[str, ...],
    needs: grading_inputs.Needs,
    data: grading_inputs.Data,
    model_ids: Iterable[int],
) -> tuple[grading_inputs.Data, grading_inputs.Data]:
    """``data`` with the releases of ``model_ids`` read again (added, changed, or gone where
    a model no longer has a release), and per date the releases that changed (each such
    model's release before and after). A snapshot is a union over models, each model's part
    read from its own rows (and its ``variant_of`` chain's names), so this equals reading
    every model again when only these models' rows changed."""
    ids = sorted(set(model_ids))
    names = set(session.scalars(select(Model.name).where(Model.id.in_(ids)))) if ids else set()
    out, changed = {}, {}
    for day, (keys, labs) in needs.items():
        again = snapshot(session, panels, day, keys, labs, models=ids)
        kept = [r for r in data[day] if r.name not in names]
        out[day] = tuple(sorted([*kept, *again], key=lambda r: r.name))
        changed[day] = (*(r for r in data[day] if r.name in names), *again)
    return out, changed


def _unmoved(
    predictions: Iterable[Prediction],
    criteria: dict[int, Criterion],
    as_of: dt.date,
    grades: grading_inputs.Grades,
    changed: grading_inputs.Data,
) -> grading_inputs.Grades:
    """The grades among ``grades`` (on the data before a change) that the ``changed``
    releases cannot move: those of predictions whose criterion reads none of them on its
    evaluation date (a grade depends on the releases its criterion reads alone,
    :meth:`~phasewatch.models.criteria.Criterion.reads`)."""
    out = {}
    for prediction in predictions:
        key = (prediction.key, prediction.revision)
        criterion = criteria[prediction.id]
        touched = changed.get(criterion.evaluation_date(as_of), ())
        if key in grades and not any(criterion.reads(r) for r in touched):
            out[key] = grades[key]
    return out


MAX_MODELS_READ_AGAIN = 500  # more changed models than this: reading every model is as quick


def _patched(
    session: Session,
    state: ChangeState | None,
    as_of: dt.date,
    panels: tuple[str, ...],
    needs: grading_inputs.Needs,
    predictions: list[Prediction],
    criteria: dict[int, Criterion],
) -> tuple[grading_inputs.Data, grading_inputs.Grades] | None:
    """The input kept when the logs were last marked verified, with the models whose figures
    changed since read again, where the observation log names every change since
    (:func:`phasewatch.registry.changes.logged_changes`), and the grades kept with it that
    those changes cannot move (:func:`_unmoved`; empty without kept grades); else ``None``."""
    changes = None if state is None or state.verified else logged_changes(session, state)
    if changes is None or len(changes.models) > MAX_MODELS_READ_AGAIN:
        return None
    base = grading_inputs.kept_at(session, changes.data_count, as_of, panels, needs)
    if base is None:
        return None
    data, changed = _models_read_again(session, panels, needs, base, changes.models)
    wanted = {(p.key, p.revision) for p in predictions}
    kept = grading_inputs.kept_grades_at(session, changes.data_count, as_of, panels, wanted) or {}
    return data, _unmoved(predictions, criteria, as_of, kept, changed)


def grade_predictions(
    session: Session,
    as_of: dt.date,
    panels: tuple[str, ...] = DEFAULT_PANELS,
    *,
    store: bool = False,
    given: GradingInput | None = None,
) -> list[GradeRow]:
    """Grade every prediction registered by ``as_of`` on the data known as of ``as_of``.

    Only the benchmarks (and release-window labs) the criteria read are fetched, once
    per evaluation date (or ``given``, read earlier: used as it is without ``store``, and
    with ``store`` only if the registry's change count still equals its own).

    With ``store``, the write lock is taken first (:func:`phasewatch.registry.changes.change_state`),
    the logs must be intact (:func:`intact_since`: re-verified unless nothing changed since
    the last verification; else :class:`IntegrityError`), a grading is sealed only when it
    changes the prediction's stored state or reason (so re-grading unchanged data writes
    nothing), and the logs are then marked verified at the count after these seals.
    """
    known: int | None = None
    state: ChangeState | None = None
    if store:
        state = change_state(session, lock=True)
        known = intact_since(session, state)
        if given is not None and (state is None or given.data_count != state.data_count):
            given = None  # the registry moved since it was read: read it again, under the lock
    inputs = given if given is not None and given.as_of == as_of and given.panels == panels else None
    inputs = inputs or grading_input(session, as_of, panels)
    stored = _last_stored(session, [p.id for p in inputs.predictions], as_of) if store else {}
    rows = []
    found: grading_inputs.Grades = {}
    with grading_inputs.no_collection():
        evaluated = list(_evaluated(inputs))
    for prediction, criterion, anchor, result in evaluated:
        found[(prediction.key, prediction.revision)] = result
        changed = store and stored.get(prediction.id) != (result.state, result.reason)
        if changed:
            _seal(session, prediction, as_of, result, panels)
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
                benchmarks=criterion.benchmarks(),
                reason=result.reason,
                retrodiction=prediction.retrodiction,
                window_from=anchor.isoformat(),
                criterion=criterion,
                stored=changed,
            )
        )
    session.flush()
    if store and state is not None and known is not None:
        vouch(session, state)  # intact when the lock was taken; only this call's seals since
        keep(session, inputs, *to_keep(inputs, found))
    return rows


def to_keep(inputs: GradingInput, found: grading_inputs.Grades) -> tuple[str | None, str | None]:
    """The JSON of what a grading read and found that is not kept already (encoded before
    taking the lock, where the caller can)."""
    payload = None if inputs.cached or inputs.data is None else grading_inputs.encode(inputs.needs, inputs.data)
    grades = None if inputs.grades_cached else grading_inputs.encode_grades(found)
    return payload, grades


def keep(session: Session, inputs: GradingInput, payload: str | None, grades: str | None) -> bool:
    """Keep :func:`to_keep`'s JSON for the next grading of the same data
    (:func:`grading_inputs.remember`: under the lock, only while the data count is still
    the input's); whether anything was kept."""
    if payload is None and grades is None:
        return False
    return grading_inputs.remember(session, inputs.data_count, inputs.as_of, inputs.panels, payload, grades)


def grades_of(rows: list[GradeRow]) -> grading_inputs.Grades:
    """The grades of graded rows, by prediction key and revision (what :func:`to_keep` keeps)."""
    return {(r.key, r.revision): r.grade for r in rows}


def unsealed(session: Session, rows: list[GradeRow], as_of: dt.date) -> list[str]:
    """Keys of the graded predictions whose state or reason differs from the grading in
    force on ``as_of`` (the rule ``grade_predictions(store=True)`` seals by)."""
    stored: dict[tuple[str, int], tuple[str, str]] = {}
    query = (
        select(Prediction.key, Prediction.revision, PredictionGrading.state, PredictionGrading.reason)
        .join(Prediction, PredictionGrading.prediction_id == Prediction.id)
        .where(PredictionGrading.as_of <= as_of)
        .order_by(PredictionGrading.as_of, PredictionGrading.id)
    )
    for row in session.execute(query):
        stored[(row.key, row.revision)] = (row.state, row.reason)  # the last one in force wins
    return [r.key for r in rows if stored.get((r.key, r.revision)) != (r.state, r.reason)]


def _evaluated(inputs: GradingInput) -> Iterator[tuple[Prediction, Criterion, dt.date, Grade]]:
    """Each prediction graded on its evaluation date's releases (one context per date and
    window start), or its kept grade."""
    contexts: dict[tuple[dt.date, dt.date], Context] = {}
    for prediction in inputs.predictions:
        criterion = inputs.criteria[prediction.id]
        anchor = inputs.anchors[prediction.key]
        known = (inputs.grades or {}).get((prediction.key, prediction.revision))
        if known is not None:
            yield prediction, criterion, anchor, known
            continue
        day = criterion.evaluation_date(inputs.as_of)
        context = contexts.setdefault((day, anchor), Context(inputs.releases()[day], anchor, day))
        yield prediction, criterion, anchor, grade(criterion, context, inputs.as_of)


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


def _decisive(row: GradeRow) -> Any:
    """What decides a row's grade: each comparison's value and result, a window's releases."""
    if row.criterion is None:  # a row built by hand: all of its evidence
        return row.grade.evidence
    return row.criterion.decisive(row.grade.evidence)


def movements(before: list[GradeRow], after: list[GradeRow]) -> list[Movement]:
    """Predictions whose state or deciding figures changed between two gradings."""
    earlier = {row.key: row for row in before}
    out = []
    for row in after:
        old = earlier.get(row.key)
        if old is None or old.state != row.state or _decisive(old) != _decisive(row):
            note = (
                row.note if old is None or old.state != row.state else "its deciding figures changed, state unchanged"
            )
            out.append(Movement(row.key, row.title, old.state if old else None, row.state, note))
    return out


def _grading_label(grading: PredictionGrading) -> str:
    return f"grading #{grading.id}"
