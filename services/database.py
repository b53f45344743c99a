"""The database's use cases: create or upgrade it with the bundled data (``init``), move
its schema forward or back (``db upgrade``/``db downgrade``) and say where it stands
(``db current``).

These take the engine of a database that may be empty or behind (opened without the
"is the schema current" check) and return typed results; the migrations themselves
run through ``registry/db.py`` (Alembic, one connection, one transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.registry.seed import InitResult


@dataclass(frozen=True)
class Migration:
    """Where a migration took the schema: its revision before and after (``None``: empty)."""

    before: str | None
    after: str | None


@dataclass(frozen=True)
class SchemaStatus:
    """The database (its URL, password hidden), its schema revision and the one this code needs."""

    database: str
    current: str | None  # None: an empty database
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def initialise(engine: Engine) -> InitResult:
    """Bring the schema to head, then load the bundled, sourced data (safe to repeat:
    what is already held is not added again)."""
    from phasewatch.registry.seed import initialise as load

    return load(engine)


def upgrade(engine: Engine, revision: str = "head") -> Migration:
    """Migrate the schema forward to ``revision``."""
    from phasewatch.registry.db import upgrade as migrate

    return Migration(*migrate(engine, revision))


def downgrade(engine: Engine, revision: str, confirm: Callable[[tuple[str, ...]], None]) -> Migration:
    """Migrate the schema back to ``revision`` (``base`` drops every table).

    When the downgrade would drop tables or columns, ``confirm`` is called first with
    them (``table`` or ``table.column``, newest revision first) and refuses by raising;
    then nothing is dropped.
    """
    from phasewatch.registry.db import downgrade as migrate
    from phasewatch.registry.db import downgrade_plan

    dropped = tuple(downgrade_plan(engine, revision))
    if dropped:
        confirm(dropped)
    return Migration(*migrate(engine, revision))


def schema_status(engine: Engine) -> SchemaStatus:
    """The database's revision against the head this version of phasewatch ships."""
    from phasewatch.registry.db import current_revision, head_revision, shown_url

    database = shown_url(engine)
    return SchemaStatus(database, current_revision(engine), head_revision())
