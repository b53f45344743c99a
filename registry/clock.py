"""The program's one clock.

Logic never reads the wall clock: functions take ``today`` (a date) or a
:class:`Clock` as an argument. Entry points (the CLI, workers) get theirs from
:func:`system_clock`, which honours ``PHASEWATCH_TODAY`` so that a whole run can
be pinned to a date (tests freeze it; ``PHASEWATCH_TODAY=2027-06-01 phasewatch
predictions list`` shows what that day will see).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from typing import Protocol

from phasewatch.registry.errors import InvalidInputError

TODAY_VARIABLE = "PHASEWATCH_TODAY"


class Clock(Protocol):
    """Where time comes from: ``now()`` is timezone-aware UTC."""

    def now(self) -> dt.datetime: ...

    def today(self) -> dt.date: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().date()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class PinnedDayClock:
    """``today()`` is a fixed day; ``now()`` is that day plus the wall clock's time of day,
    so durations (leases, heartbeats) still advance in real time."""

    day: dt.date
    _wall: WallClock = field(default_factory=WallClock)

    def now(self) -> dt.datetime:
        wall = self._wall.now()
        return dt.datetime.combine(self.day, wall.timetz())

    def today(self) -> dt.date:
        return self.day

    def sleep(self, seconds: float) -> None:
        self._wall.sleep(seconds)


@dataclass
class FrozenClock:
    """A clock for tests: time moves only when :meth:`advance` or :meth:`sleep` is called."""

    current: dt.datetime

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            self.current = self.current.replace(tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.current

    def today(self) -> dt.date:
        return self.current.date()

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


def parse_today(text: str) -> dt.date:
    """Parse the value of ``PHASEWATCH_TODAY`` (``YYYY-MM-DD``)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"{TODAY_VARIABLE}={text!r} is not a date", f"write it as YYYY-MM-DD or unset {TODAY_VARIABLE}"
        ) from None


def system_clock() -> Clock:
    """The clock for this process: pinned to ``PHASEWATCH_TODAY`` when set, else the wall clock."""
    pinned = os.environ.get(TODAY_VARIABLE)
    if pinned:
        return PinnedDayClock(parse_today(pinned))
    return WallClock()
