"""What a grading read and what it found, kept so that grading unchanged data need not
read or evaluate it again.

A grading's input (:class:`phasewatch.registry.predictions.GradingInput`) is, per
evaluation date, the releases with their figures on the benchmarks the criteria read;
its grades are each current prediction's :class:`~phasewatch.models.criteria.Grade`.
At 100,000 observations reading the input and evaluating the criteria are most of a
grading's cost. Both are stored as JSON (never pickle: a database is not trusted to hold
code) in one row per data count (:mod:`phasewatch.registry.changes`), date and panels,
and reused only when

- the data count is the same (no watched table changed since: the data, the predictions
  and their revisions),
- the prediction logs are marked verified (so every write to the cache since the mark was
  last earned was phasewatch's own: earning it again drops the cache),
- they were written by this version of the grading code (:func:`code_version`: a hash of
  the modules that read and grade), and
- the input was read for the same benchmarks and labs on the same dates, and the grades
  are for the same prediction revisions.

After changes the observation log names in full (:func:`phasewatch.registry.changes.logged_changes`),
the input and grades kept when the mark was last earned are used too (:func:`kept_at`,
:func:`kept_grades_at`): the caller reads the changed models' releases again and keeps
only the grades those releases cannot move.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, load_only

from phasewatch.models import criteria
from phasewatch.models.criteria import Grade, Release
from phasewatch.registry.changes import ChangeState, change_state, vouch
from phasewatch.registry.schema import GradingInputCache

FORMAT = 3  # 3: releases as objects with ISO dates (2: arrays with ordinal dates)
Needs = dict[dt.date, tuple[frozenset[str], frozenset[str]]]
Data = dict[dt.date, tuple[Release, ...]]
Grades = dict[tuple[str, int], Grade]  # (prediction key, revision) -> its grade


@cache
def code_version() -> str:
    """A hash of the source of the modules whose code decides what a grading reads and
    finds (this one, the criteria, the predictions, the dates): what is kept by one version
    is never used by another."""
    from phasewatch.registry import dates, predictions

    digest = hashlib.sha256()
    for module in (criteria, predictions, dates):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def no_collection() -> Iterator[None]:
    """Pause the cycle collector while building (or dumping, or evaluating the criteria on)
    ~100,000 acyclic objects: each collection it would start walks every young object, for
    nothing to free (~0.2 s of a grading at 100,000 observations)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Payload(msgspec.Struct):
    """A kept input as stored: releases decoded straight into :class:`Release` objects
    (msgspec, in C), dates as ISO text."""

    format: int
    code: str
    needs: dict[str, tuple[list[str], list[str]]]  # day -> [benchmarks, labs] (a pair, checked)
    data: dict[dt.date, tuple[Release, ...]]


_DECODER = msgspec.json.Decoder(_Payload)


def encode(needs: Needs, data: Data) -> str:
    """The JSON of a grading's releases: each release an object of its fields (figures in
    order: the first is the score), written and read by msgspec (~0.03 s each way for
    10,000 releases, where building them in Python took ~0.2 s)."""
    with no_collection():
        return msgspec.json.encode(
            {
                "format": FORMAT,
                "code": code_version(),
                "needs": {day.isoformat(): [sorted(keys), sorted(labs)] for day, (keys, labs) in needs.items()},
                "data": {day.isoformat(): releases for day, releases in data.items()},
            }
        ).decode()


def decode(payload: str) -> tuple[Needs, Data] | None:
    """The needs and releases of a payload (``None``: not one this version wrote)."""
    with no_collection():
        try:
            raw = _DECODER.decode(payload)
        except msgspec.DecodeError:  # another format (its fields or their types differ), or not JSON
            return None
    if raw.format != FORMAT or raw.code != code_version():
        return None
    needs: Needs = {
        dt.date.fromisoformat(d): (frozenset(keys), frozenset(labs)) for d, (keys, labs) in raw.needs.items()
    }
    return needs, raw.data


def encode_grades(grades: Grades) -> str:
    """The JSON of a grading's grades (its evidence is JSON already: it is sealed as such)."""
    names = [f.name for f in dataclasses.fields(Grade)]
    rows = [[key, revision, {n: getattr(g, n) for n in names}] for (key, revision), g in grades.items()]
    return json.dumps({"format": FORMAT, "code": code_version(), "grades": rows}, separators=(",", ":"))


def decode_grades(payload: str) -> Grades | None:
    """The grades of a payload (``None``: not one this version wrote)."""
    raw = json.loads(payload)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("code") != code_version():
        return None
    return {
        (key, revision): Grade(**{**g, "observations": tuple(g["observations"])}) for key, revision, g in raw["grades"]
    }


def _panels(panels: tuple[str, ...]) -> str:
    return ",".join(panels)


def _kept(
    session: Session, state: ChangeState | None, as_of: dt.date, panels: tuple[str, ...], column: Any
) -> str | None:
    """One column of the row kept for this data count, date and panels, if it may be trusted
    (the logs marked verified at the current count)."""
    if state is None or not state.verified:
        return None
    return _stored(session, state.data_count, as_of, panels, column)


def _stored(session: Session, data_count: int, as_of: dt.date, panels: tuple[str, ...], column: Any) -> str | None:
    return session.scalar(
        select(column)
        .where(
            GradingInputCache.data_count == data_count,
            GradingInputCache.as_of == as_of,
            GradingInputCache.panels == _panels(panels),
        )
        .order_by(GradingInputCache.id.desc())
        .limit(1)
    )


def _read_for(payload: str | None, needs: Needs) -> Data | None:
    decoded = None if payload is None else decode(payload)
    if decoded is None or decoded[0] != needs:
        return None
    return decoded[1]


def cached(
    session: Session, state: ChangeState | None, as_of: dt.date, panels: tuple[str, ...], needs: Needs
) -> Data | None:
    """The releases kept for this data count, date and panels, if they may be trusted and
    were read for the same needs."""
    return _read_for(_kept(session, state, as_of, panels, GradingInputCache.payload), needs)


def kept_at(session: Session, data_count: int, as_of: dt.date, panels: tuple[str, ...], needs: Needs) -> Data | None:
    """The releases kept at ``data_count``, the data count when the logs were last marked
    verified, for this date, panels and needs. The caller has checked that only logged
    observations changed since (:func:`phasewatch.registry.changes.logged_changes`): so no
    one else wrote to the cache, and only those observations' models are out of date."""
    return _read_for(_stored(session, data_count, as_of, panels, GradingInputCache.payload), needs)


def cached_grades(
    session: Session, state: ChangeState | None, as_of: dt.date, panels: tuple[str, ...], wanted: set[tuple[str, int]]
) -> Grades | None:
    """The grades kept for this data count, date and panels, if they may be trusted and are
    for exactly the ``wanted`` prediction revisions."""
    return _grades_for(_kept(session, state, as_of, panels, GradingInputCache.grades), wanted)


def kept_grades_at(
    session: Session, data_count: int, as_of: dt.date, panels: tuple[str, ...], wanted: set[tuple[str, int]]
) -> Grades | None:
    """The grades kept with :func:`kept_at`'s input (same trust: the caller has checked the
    observation log), if they are for exactly the ``wanted`` prediction revisions."""
    return _grades_for(_stored(session, data_count, as_of, panels, GradingInputCache.grades), wanted)


def _grades_for(payload: str | None, wanted: set[tuple[str, int]]) -> Grades | None:
    grades = None if payload is None else decode_grades(payload)
    if grades is None or grades.keys() != wanted:
        return None
    return grades


def remember(
    session: Session,
    data_count: int | None,
    as_of: dt.date,
    panels: tuple[str, ...],
    payload: str | None,
    grades: str | None = None,
) -> bool:
    """Keep ``payload`` (:func:`encode` of what was read at ``data_count``) and ``grades``
    (:func:`encode_grades` of what it gave) for the next grading: under the lock, only while
    the data count is unchanged and the logs are marked verified; entries for other data
    counts are dropped. Either may be ``None`` (already kept, or not computed): the grades
    alone are added to a kept input, never stored without one. Whether anything was kept."""
    state = change_state(session, lock=True)
    if data_count is None or state is None or state.data_count != data_count or not state.verified:
        return False
    session.execute(delete(GradingInputCache).where(GradingInputCache.data_count != data_count))
    key = (
        GradingInputCache.data_count == data_count,
        GradingInputCache.as_of == as_of,
        GradingInputCache.panels == _panels(panels),
    )
    newest = select(GradingInputCache).where(*key).order_by(GradingInputCache.id.desc()).limit(1)
    kept = session.scalars(newest.options(load_only(GradingInputCache.id))).first()
    if kept is None:
        if payload is None:
            return False
        kept = GradingInputCache(data_count=data_count, as_of=as_of, panels=_panels(panels), payload=payload)
        session.add(kept)
    else:  # one row per data count, date and panels: what is given replaces what it held
        session.execute(delete(GradingInputCache).where(*key, GradingInputCache.id != kept.id))
        if payload is not None:
            kept.payload = payload
    if grades is not None:
        kept.grades = grades
    session.flush()
    vouch(session, state)  # marked verified at the count after this write
    return True
