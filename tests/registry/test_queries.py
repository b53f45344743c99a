"""`models list` at any size: filters, order and paging done in SQL agree with the rules they stand for."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.queries import list_models, page_models
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release

TODAY = dt.date(2026, 11, 23)
# name -> release date at its own precision
DATED = {
    "Prec Year": "2025",
    "Prec Month Feb": "2025-02",
    "Prec Month Mar": "2025-03",
    "Prec Day Mar 15": "2025-03-15",
    "Prec Day Jan 1": "2025-01-01",
    "Prec Month Jan": "2025-01",
}


@pytest.fixture
def dated(engine: Engine) -> Engine:
    with transaction(engine) as session:
        for name, date in DATED.items():
            add_release(
                session,
                ReleaseRequest(
                    name=name,
                    lab="Mistral",
                    date=date,
                    scores=(ScoreInput("hle", 10.0 + len(name)),),
                    source_url="https://e.org/" + name.replace(" ", "-"),
                    distinct=True,
                ),
                today=TODAY,
            )
    return engine


def _ours(rows: list) -> list[str]:
    return [r.name for r in rows if r.name.startswith("Prec ")]


def test_dates_order_at_their_own_precision(dated: Engine) -> None:
    with transaction(dated) as session:
        rows = list_models(session, lab="Mistral")
    # a year before its first month, a month before its first day; then by name within one date
    assert _ours(rows) == [
        "Prec Year",
        "Prec Month Jan",
        "Prec Day Jan 1",
        "Prec Month Feb",
        "Prec Month Mar",
        "Prec Day Mar 15",
    ]
    dates = [r.release_date or "9999" for r in rows]
    assert dates == sorted(dates)  # undated models last


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, "2025-03-15", {"Prec Month Feb", "Prec Day Mar 15", "Prec Day Jan 1", "Prec Month Jan"}),
        (None, "2025-03", {"Prec Month Feb", "Prec Month Mar", "Prec Day Mar 15", "Prec Day Jan 1", "Prec Month Jan"}),
        (None, "2025-12-30", set(DATED) - {"Prec Year"}),  # the year ends on the 31st
        (None, "2025", set(DATED)),
        ("2025-02", None, {"Prec Month Feb", "Prec Month Mar", "Prec Day Mar 15"}),
        ("2025-01-02", "2025-03-14", {"Prec Month Feb"}),
        ("2025", "2025-01", {"Prec Month Jan", "Prec Day Jan 1"}),  # the year 2025 does not end in January
    ],
)
def test_date_filters_count_a_partial_date_only_if_its_whole_period_fits(
    dated: Engine, since: str | None, until: str | None, expected: set[str]
) -> None:
    with transaction(dated) as session:
        page = page_models(session, lab="Mistral", since=since, until=until)
    assert set(_ours(page.rows)) == expected
    assert page.total == len(page.rows)


def test_pages_cover_the_list_once_in_order(engine: Engine) -> None:
    with transaction(engine) as session:
        everything = list_models(session)
        pages = []
        offset = 0
        while True:
            page = page_models(session, limit=37, offset=offset)
            assert page.total == len(everything)
            assert page.remaining == max(0, len(everything) - offset - 37)
            if not page.rows:
                break
            pages.extend(page.rows)
            offset += len(page.rows)
        panel = page_models(session, panel="growing-pains-34", limit=10, offset=30)
    assert [r.name for r in pages] == [r.name for r in everything] and len(everything) > 200
    assert (panel.total, len(panel.rows), panel.remaining) == (34, 4, 0)
    assert all(set(r.scores) == {"swe_bench_verified", "gpqa_diamond"} for r in panel.rows)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"limit": -1}, InvalidInputError, "--limit must be 0 or more"),
        ({"offset": -5}, InvalidInputError, "--offset must be 0 or more"),
        ({"kind": "huge"}, InvalidInputError, "unknown kind 'huge'"),
        ({"lab": "Nobody Labs"}, NotFoundError, "unknown lab"),
        ({"since": "yesterday"}, InvalidInputError, "malformed --since"),
    ],
)
def test_bad_options_are_refused(engine: Engine, options: dict, error: type[Exception], message: str) -> None:
    with transaction(engine) as session, pytest.raises(error, match=message):
        page_models(session, **options)
