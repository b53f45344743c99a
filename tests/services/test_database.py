"""The database's use cases called from Python: migrate forward and back, where the schema
stands, and loading the bundled data (twice adds nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from phasewatch.migrations import HEAD_REVISION
from phasewatch.registry.db import make_engine
from phasewatch.registry.errors import DatabaseError, InvalidInputError
from phasewatch.services import database


@pytest.fixture
def empty(empty_url: str) -> Engine:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def test_upgrade_downgrade_and_status_follow_the_revisions(empty: Engine) -> None:
    status = database.schema_status(empty)
    assert (status.current, status.head, status.up_to_date) == (None, HEAD_REVISION, False)
    assert "password" not in status.database
    assert database.upgrade(empty, "0002") == database.Migration(None, "0002")
    assert database.schema_status(empty).current == "0002"
    assert database.upgrade(empty) == database.Migration("0002", HEAD_REVISION)
    assert database.schema_status(empty).up_to_date

    asked: list[tuple[str, ...]] = []

    def refuse(dropped: tuple[str, ...]) -> None:
        asked.append(dropped)
        raise InvalidInputError("not confirmed")

    with pytest.raises(InvalidInputError, match="not confirmed"):
        database.downgrade(empty, "base", refuse)
    assert "models" in asked[0]  # base drops every table, and says so first
    assert database.schema_status(empty).current == HEAD_REVISION  # refused: nothing dropped
    assert inspect(empty).has_table("models")
    assert database.downgrade(empty, "base", lambda dropped: None) == database.Migration(HEAD_REVISION, None)
    assert not inspect(empty).has_table("models")
    with pytest.raises(DatabaseError, match="cannot upgrade to 'nope'"):
        database.upgrade(empty, "nope")


def test_initialise_loads_the_bundled_data_once(empty: Engine) -> None:
    first = database.initialise(empty)
    assert (first.revision_before, first.revision_after) == (None, HEAD_REVISION)
    assert first.added["models"] > 100 and first.added["observations"] > first.added["models"]
    again = database.initialise(empty)
    assert not any(again.added.values())  # safe to repeat: nothing added twice
