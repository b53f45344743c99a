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

On SQLite the revisions run as SQLite's own recipe for schema changes has them run
(https://www.sqlite.org/lang_altertable.html, section 7, and Alembic's batch
documentation, "Dealing with Referencing Foreign Keys"): foreign keys off, one explicit
transaction (so the DDL is rolled back with the rest: the driver would otherwise commit
each statement it does not open a transaction for), ``PRAGMA foreign_key_check`` before
the commit (any violation rolls everything back), foreign keys restored. A batch rebuild
drops and recreates its table; with foreign keys on, that drop either fails (a
self-reference, a RESTRICT) or silently cascades to the rows that refer to it.
"""

from __future__ import annotations

import os
import pkgutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine, pool
from sqlalchemy.exc import IntegrityError

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
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=_target_metadata(),
        render_as_batch=sqlite,
        compare_type=True,
        # SQLite's DDL is transactional once the transaction is ours (_sqlite_schema_change);
        # without this Alembic commits after each revision when no caller's transaction is open.
        transactional_ddl=True if sqlite else None,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    if connection.dialect.name != "sqlite":
        with context.begin_transaction():
            context.run_migrations()
        return
    with _sqlite_schema_change(connection):
        context.run_migrations()


@contextmanager
def _sqlite_schema_change(connection: Connection) -> Iterator[None]:
    """Foreign keys off, one explicit transaction, their check before the commit; the
    connection's pragma and transaction mode restored whatever happens."""
    driver = connection.connection.driver_connection
    if driver is None or driver.in_transaction:
        raise RuntimeError("run SQLite migrations on a connection with no transaction open (PRAGMA foreign_keys)")
    enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    mode = driver.isolation_level
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before BEGIN
    driver.isolation_level = None  # no implicit BEGIN or COMMIT from the driver: ours only
    try:
        connection.exec_driver_sql("BEGIN")
        try:
            yield
            if enforced:
                _check_foreign_keys(connection)
        except BaseException:
            if driver.in_transaction:
                connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
    finally:
        driver.isolation_level = mode
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    """Fail (an IntegrityError, like the one a foreign key raises) when any row refers to a
    row that is not there, naming each broken reference and how many rows break it."""
    broken: dict[str, int] = {}
    for table, _rowid, parent, _fk in connection.exec_driver_sql("PRAGMA foreign_key_check"):
        key = f"{table} -> {parent}"
        broken[key] = broken.get(key, 0) + 1
    if broken:
        found = ", ".join(f"{key} ({n} {'row' if n == 1 else 'rows'})" for key, n in sorted(broken.items()))
        message = f"FOREIGN KEY constraint failed after the migration: rows refer to missing rows: {found}"
        raise IntegrityError("PRAGMA foreign_key_check", None, sqlite3.IntegrityError(message))


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
        _run(connection)
        return
    make_engine = _named("phasewatch.make_engine")  # the registry's (SQLite pragmas), when alembic.ini names it
    url = _database_url()
    engine = make_engine(url) if make_engine is not None else create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
