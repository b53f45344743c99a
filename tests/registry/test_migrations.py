"""The schema changes only through migrations, which match the ORM exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from phasewatch.registry.db import (
    alembic_head_revision,
    current_revision,
    downgrade,
    ensure_current,
    head_revision,
    make_engine,
    upgrade,
)
from phasewatch.registry.errors import DatabaseError
from phasewatch.registry.schema import Base


def test_upgrade_from_empty_then_downgrade_to_base(empty_url: str) -> None:
    engine = make_engine(empty_url)
    assert current_revision(engine) is None
    before, after = upgrade(engine)
    assert (before, after) == (None, head_revision())
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) & set(Base.metadata.tables) == set()
    upgrade(engine)  # and back up again from base
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_migrations_and_orm_do_not_drift(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_commands_refuse_an_empty_database_with_instructions(empty_url: str) -> None:
    engine = make_engine(empty_url)
    with pytest.raises(DatabaseError, match="phasewatch init"):
        ensure_current(engine)
    engine.dispose()


def test_commands_refuse_an_outdated_database_with_instructions(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.begin() as conn:  # as if an older phasewatch had created it
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with pytest.raises(DatabaseError, match="phasewatch db upgrade"):
        ensure_current(engine)
    engine.dispose()


def test_unreachable_database_is_one_clear_error() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseError, match="cannot reach the database"):
        ensure_current(engine)


def test_recorded_head_is_alembics_head() -> None:
    assert head_revision() == alembic_head_revision()
