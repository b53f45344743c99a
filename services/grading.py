"""Grading predictions: grade as of a date, list, show, verify, publish the head, register, score.

Each function is one use case: it takes the engine (and the day, from the caller's
clock), owns its transaction and returns a frozen dataclass. ``phasewatch predictions``
and ``phasewatch saturation`` are these calls plus rendering; a web page or a Python
user calls the same::

    from phasewatch.registry.db import open_registry
    from phasewatch.services import grading

    result = grading.grade(open_registry(), dt.date(2026, 12, 1))
    for row in result.rows:
        print(row.key, row.state, row.note)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from phasewatch.models.saturation import BenchmarkSaturation, PairRatio
from phasewatch.registry.changes import change_state, record_verified
from phasewatch.registry.db import is_read_only, read_transaction, transaction, write_transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.predictions import (
    DEFAULT_PANELS,
    ChainCheck,
    GradeRow,
    Scores,
    add_predictions,
    checkpoint_of,
    criterion_of,
    grade_predictions,
    grades_of,
    grading_input,
    gradings_of,
    intact_since,
    keep,
    saturation_of,
    score_predictions,
    show_prediction,
    to_keep,
    unsealed,
    verify_chain,
)


@dataclass(frozen=True)
class Grading:
    """Every current prediction graded on the data held on ``as_of``."""

    as_of: dt.date
    panels: tuple[str, ...]
    rows: tuple[GradeRow, ...]
    stored: int  # gradings sealed by this call (state changes only)


@dataclass(frozen=True)
class Listing:
    """The current predictions with their status and their benchmarks' saturation state."""

    as_of: dt.date
    panels: tuple[str, ...]
    rows: tuple[GradeRow, ...]
    saturation: dict[str, str]  # benchmark -> state, for every benchmark a criterion reads


@dataclass(frozen=True)
class Revision:
    revision: int
    title: str
    statement: str
    criterion: dict[str, Any]
    description: str  # the criterion in words
    registered_at: str
    deadline: str | None
    probability: float | None
    source: str | None
    retrodiction: bool
    content_hash: str
    prev_hash: str


@dataclass(frozen=True)
class StoredGrading:
    as_of: str
    state: str
    reason: str
    panels: str
    observations: int
    content_hash: str
    graded_at: str


@dataclass(frozen=True)
class PredictionRecord:
    """One prediction: its revisions (with hashes) and its stored gradings."""

    key: str
    revisions: tuple[Revision, ...]
    gradings: tuple[StoredGrading, ...]

    @property
    def latest(self) -> Revision:
        return self.revisions[-1]


@dataclass(frozen=True)
class Checkpoint:
    head: str
    date: str
    predictions: int
    gradings: int
    path: Path


@dataclass(frozen=True)
class Saturation:
    as_of: dt.date
    benchmarks: tuple[BenchmarkSaturation, ...]
    pairs: tuple[PairRatio, ...]


def grade(engine: Engine, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS, *, store: bool = True) -> Grading:
    """Grade every prediction registered by ``as_of`` on the data known then; with
    ``store``, seal a grading for each prediction whose state changed (refused, with
    :class:`~phasewatch.registry.errors.IntegrityError`, on a log that does not verify).

    The grading runs in a read transaction (no lock held); the write, only when a state
    changed, takes the lock and reuses that grading's input unless the registry moved
    meanwhile. A full verification with nothing to seal is still recorded (one
    conditional update), so the next grading need not repeat it.
    """
    with read_transaction(engine) as session:
        state = change_state(session)
        intact_at = intact_since(session, state) if store else None
        inputs = grading_input(session, as_of, panels)
        rows = grade_predictions(session, as_of, panels, given=inputs)
        to_seal = unsealed(session, rows, as_of) if store else []
    if to_seal:
        with write_transaction(engine) as session:  # seals, and keeps the input and grades
            rows = grade_predictions(session, as_of, panels, store=True, given=inputs.graded(rows))
    elif store and not is_read_only(engine) and (not inputs.grades_cached or state is None or not state.verified):
        payload, grades = to_keep(inputs, grades_of(rows))  # encoded before the lock
        with write_transaction(engine) as session:
            if intact_at is not None and (state is None or not state.verified):
                record_verified(session, intact_at)
            keep(session, inputs, payload, grades)
    return Grading(as_of, panels, tuple(rows), sum(r.stored for r in rows))


def list_predictions(engine: Engine, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS) -> Listing:
    """The current predictions graded as of ``as_of`` (nothing stored) with the saturation
    state of each benchmark their criteria read; refused on a log that does not verify."""
    with read_transaction(engine) as session:
        intact_since(session)
        rows = grade_predictions(session, as_of, panels)
        named = {b for r in rows for b in r.benchmarks}
        report, _ = saturation_of(session, panels, as_of, named, quarters=0) if named else ([], [])
    return Listing(as_of, panels, tuple(rows), {b.benchmark: b.state for b in report})


def show(engine: Engine, key: str) -> PredictionRecord:
    """A prediction's revisions and stored gradings (:class:`NotFoundError` for an unknown key)."""
    with transaction(engine) as session:
        revisions = show_prediction(session, key)
        gradings = gradings_of(session, key)
        return PredictionRecord(
            key,
            tuple(
                Revision(
                    p.revision,
                    p.title,
                    p.statement,
                    p.criterion,
                    criterion_of(p).describe(),
                    p.registered_at.isoformat(),
                    p.deadline.isoformat() if p.deadline else None,
                    p.probability,
                    p.source,
                    p.retrodiction,
                    p.content_hash,
                    p.prev_hash,
                )
                for p in revisions
            ),
            tuple(
                StoredGrading(
                    g.as_of.isoformat(),
                    g.state,
                    g.reason,
                    g.panels,
                    len(g.observations),
                    g.content_hash,
                    g.graded_at.isoformat(timespec="seconds"),
                )
                for g in gradings
            ),
        )


def verify(engine: Engine, expect_head: str | None = None, checkpoint: Path | None = None) -> ChainCheck:
    """Recompute both logs, against a published head or checkpoint file if given.
    The result says whether they verify; the caller decides what a broken log means."""
    published = read_checkpoint(checkpoint) if checkpoint is not None else None
    with transaction(engine) as session:
        return verify_chain(session, expect_head, published)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint file written by :func:`head`, checked to be one."""
    hint = "give a file written by `phasewatch predictions head`"
    if not path.is_file():
        raise InvalidInputError(f"no such checkpoint file: {path}", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path.name} is not valid JSON: {exc}", hint) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", hint) from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "phasewatch-checkpoint/1"
        or not isinstance(data.get("head"), str)
    ):
        raise InvalidInputError(f"{path.name} is not a phasewatch checkpoint", hint)
    return data


def head(engine: Engine, today: dt.date, out: Path | None = None) -> Checkpoint:
    """Write a dated checkpoint file (the combined head and every row's hash) and return
    the head to publish; refused on a log that does not verify."""
    path = out or Path(f"phasewatch-checkpoint-{today.isoformat()}.json")
    if path.is_dir():
        raise InvalidInputError(f"--out {path} is a folder", "give a file path")
    if not path.parent.is_dir():
        raise InvalidInputError(f"--out {path}: no such folder {path.parent}", "create it first or give another path")
    with transaction(engine) as session:
        data = checkpoint_of(session, today)
    try:
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror}", "give a writable file path") from None
    return Checkpoint(data["head"], data["date"], data["predictions"]["count"], data["gradings"]["count"], path)


def register(
    engine: Engine, raw: Any, today: dt.date, *, revise: bool = False, retrodiction: bool = False
) -> tuple[str, ...]:
    """Register predictions (a JSON object or a list), timestamped ``today``: all or none."""
    with transaction(engine) as session:
        return tuple(add_predictions(session, raw, today=today, revise=revise, retrodiction=retrodiction))


def read_predictions(path: Path) -> Any:
    """The JSON of a predictions file, or one :class:`InvalidInputError` line."""
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}", "give the path of a JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path.name} is not valid JSON: {exc}", "fix the file") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", "give a readable file") from None


def score(engine: Engine, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS) -> Scores:
    """Brier and log scores and a reliability table over resolved non-retrodictions."""
    with read_transaction(engine) as session:
        intact_since(session)
        return score_predictions(session, as_of, panels)


def saturation(engine: Engine, as_of: dt.date, panels: tuple[str, ...] = DEFAULT_PANELS) -> Saturation:
    """Top-5 spreads per benchmark with their as-known history, σ per axis pair, rotation advice."""
    with transaction(engine) as session:
        benchmarks, pairs = saturation_of(session, panels, as_of)
    return Saturation(as_of, tuple(benchmarks), tuple(pairs))
