"""The releases a grading read, kept so that grading unchanged data need not read them again.

A grading's input (:class:`phasewatch.registry.predictions.GradingInput`) is, per
evaluation date, the releases with their figures on the benchmarks the criteria read:
reading it is most of a grading's cost at 100,000 observations. It is stored as JSON
(never pickle: a database is not trusted to hold code) under the registry's data count
(:mod:`phasewatch.registry.changes`), the date and the panels, and reused only when

- the data count is the same (no watched table changed since),
- the prediction logs are marked verified (so every write to the cache since the mark was
  last earned was phasewatch's own: earning it again drops the cache), and
- the criteria read the same benchmarks and labs on the same dates.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from phasewatch.models.criteria import Figure, Release
from phasewatch.registry.changes import ChangeState, change_state, vouch
from phasewatch.registry.schema import GradingInputCache

FORMAT = 1
Needs = dict[dt.date, tuple[frozenset[str], frozenset[str]]]
Data = dict[dt.date, tuple[Release, ...]]


def encode(needs: Needs, data: Data) -> str:
    """The JSON of a grading's releases (figures in order: the first is the score)."""

    def release(r: Release) -> list[Any]:
        figures = [
            [key, [[f.observation_id, f.value, f.reported_by, f.known.isoformat()] for f in found]]
            for key, found in r.figures.items()
        ]
        dates = [d.isoformat() if d else None for d in (r.released, r.released_end)]
        return [r.name, r.lab, *dates, r.group, figures]

    return json.dumps(
        {
            "format": FORMAT,
            "needs": {day.isoformat(): [sorted(keys), sorted(labs)] for day, (keys, labs) in needs.items()},
            "data": {day.isoformat(): [release(r) for r in releases] for day, releases in data.items()},
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def decode(payload: str) -> tuple[Needs, Data] | None:
    """The needs and releases of a payload (``None``: not one this version wrote)."""
    raw = json.loads(payload)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return None
    days: dict[str, dt.date] = {}

    def day(text: str | None) -> dt.date | None:
        if text is None:
            return None
        known = days.get(text)
        if known is None:
            known = days[text] = dt.date.fromisoformat(text)
        return known

    needs: Needs = {
        dt.date.fromisoformat(d): (frozenset(keys), frozenset(labs)) for d, (keys, labs) in raw["needs"].items()
    }
    data: Data = {}
    for d, releases in raw["data"].items():
        built = []
        for name, lab, released, released_end, group, figures in releases:
            own: dict[str, tuple[Figure, ...]] = {}
            scores: dict[str, float] = {}
            for key, found in figures:
                if len(found) == 1:  # nearly always: one figure per model and benchmark
                    i, v, by, k = found[0]
                    own[key] = (Figure(i, v, by, day(k)),)
                else:
                    own[key] = tuple([Figure(i, v, by, day(k)) for i, v, by, k in found])
                scores[key] = found[0][1]
            built.append(Release(name, lab, day(released), day(released_end), scores, own, group))
        data[dt.date.fromisoformat(d)] = tuple(built)
    return needs, data


def _panels(panels: tuple[str, ...]) -> str:
    return ",".join(panels)


def cached(
    session: Session, state: ChangeState | None, as_of: dt.date, panels: tuple[str, ...], needs: Needs
) -> Data | None:
    """The releases kept for this data count, date and panels, if they may be trusted
    (the logs marked verified at the current count) and were read for the same needs."""
    if state is None or not state.verified:
        return None
    payload = session.scalar(
        select(GradingInputCache.payload)
        .where(
            GradingInputCache.data_count == state.data_count,
            GradingInputCache.as_of == as_of,
            GradingInputCache.panels == _panels(panels),
        )
        .order_by(GradingInputCache.id.desc())
        .limit(1)
    )
    if payload is None:
        return None
    decoded = decode(payload)
    if decoded is None or decoded[0] != needs:
        return None
    return decoded[1]


def remember(session: Session, data_count: int | None, as_of: dt.date, panels: tuple[str, ...], payload: str) -> bool:
    """Keep ``payload`` (:func:`encode` of what was read at ``data_count``) for the next
    grading: under the lock, only while the data count is unchanged and the logs are marked
    verified; entries for other data counts are dropped. Whether it was kept."""
    state = change_state(session, lock=True)
    if data_count is None or state is None or state.data_count != data_count or not state.verified:
        return False
    session.execute(delete(GradingInputCache).where(GradingInputCache.data_count != data_count))
    session.execute(
        delete(GradingInputCache).where(GradingInputCache.as_of == as_of, GradingInputCache.panels == _panels(panels))
    )
    session.add(GradingInputCache(data_count=data_count, as_of=as_of, panels=_panels(panels), payload=payload))
    vouch(session, state)  # marked verified at the count after this write
    return True
