"""Alembic environment for the phasewatch registry.

The migrations are the bottom floor: this file and every revision import no phasewatch
package (docs/architecture.md), so a revision means the same thing whatever the code
above it becomes. What binds them to the application is handed over by the caller:

- ``phasewatch db upgrade`` (``registry.db``) passes its own connection in
  ``config.attributes["connection"]``;
- plain ``alembic`` from the repository root (e.g. ``alembic revision --autogenerate``)
  reads the database URL from ``-x url=...``, ``sqlalchemy.url`` or
  ``PHASEWATCH_DATABASE_URL``, else calls the function named by alembic.ini's
  ``phasewatch.database_url``; autogenerate compares against the metadata named by
  ``phasewatch.target_metadata`` (or ``config.attributes["target_metadata"]``), and
  opens it with the engine factory named by ``phasewatch.make_engine``.
"""

from __future__ import annotations

import os
import pkgutil
from typing import Any

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine, pool

config = context.config


def _named(option: str) -> Any:
    """The object alembic.ini names under ``option`` (``module:attribute``), or None."""
    target = config.get_main_option(option)
    return pkgutil.resolve_name(target) if target else None


def _target_metadata() -> MetaData | None:
    handed = config.attributes.get("target_metadata")
    return handed if handed is not None else _named("phasewatch.target_metadata")


def _database_url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if given:
        return given
    if os.environ.get("PHASEWATCH_DATABASE_URL"):
        return os.environ["PHASEWATCH_DATABASE_URL"]
    default = _named("phasewatch.database_url")
    if default is None:
        raise SystemExit("error: no database URL; set PHASEWATCH_DATABASE_URL or pass -x url=...")
    return str(default())


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=_target_metadata(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    make_engine = _named("phasewatch.make_engine")  # the registry's (SQLite pragmas), when alembic.ini names it
    url = _database_url()
    engine = make_engine(url) if make_engine is not None else create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
