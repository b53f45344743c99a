"""Release dates that keep their precision (day, month or year)."""

from __future__ import annotations

import datetime as dt
import enum
import re

from phasewatch.registry.errors import InvalidInputError

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class DatePrecision(enum.StrEnum):
    """How much of a stored date is known."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


def parse_partial_date(text: str, *, what: str = "date") -> tuple[dt.date, DatePrecision]:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.

    The date is stored as the first day of its period together with its
    precision, so ``"2025"`` stays a year and is never shown as 1 January.
    """
    match = _PATTERN.match(text.strip())
    if not match:
        raise InvalidInputError(f"malformed {what} {text!r}", "write it as YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = match.groups()
    try:
        value = dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise InvalidInputError(f"invalid {what} {text!r}: {exc}", "check the month and day") from None
    precision = DatePrecision.DAY if day else DatePrecision.MONTH if month else DatePrecision.YEAR
    return value, precision


def parse_past_date(text: str, *, today: dt.date, what: str = "date") -> tuple[dt.date, DatePrecision]:
    """Like :func:`parse_partial_date`, but refuse dates after ``today``."""
    value, precision = parse_partial_date(text, what=what)
    if value > today:
        raise InvalidInputError(
            f"{what} {text!r} is in the future (today is {today.isoformat()})",
            "releases are logged once they have happened",
        )
    return value, precision


def format_partial_date(value: dt.date | None, precision: DatePrecision | str | None) -> str:
    """Render a stored date at its own precision (``2025``, ``2025-02``, ``2025-02-24``)."""
    if value is None:
        return ""
    match DatePrecision(precision or DatePrecision.DAY):
        case DatePrecision.YEAR:
            return f"{value.year:04d}"
        case DatePrecision.MONTH:
            return f"{value.year:04d}-{value.month:02d}"
        case _:
            return value.isoformat()


def period_end(start: dt.date, precision: DatePrecision | str | None) -> dt.date:
    """The last day of the period a partial date stands for (the day itself if day-precise)."""
    match DatePrecision(precision or DatePrecision.DAY):
        case DatePrecision.YEAR:
            return dt.date(start.year, 12, 31)
        case DatePrecision.MONTH:
            following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
            return following - dt.timedelta(days=1)
        case _:
            return start
