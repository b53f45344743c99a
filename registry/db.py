"""Engine, transactions and schema migrations.

``PHASEWATCH_DATABASE_URL`` selects the database; without it the registry is a
SQLite file in the user's data directory. PostgreSQL (``postgresql+psycopg://``)
works the same and is the choice for several workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session

from phasewatch.registry.errors import DatabaseError

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "PHASEWATCH_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def default_database_url() -> str:
    """A SQLite file in the user's data directory (created on first use)."""
    from platformdirs import user_data_path

    folder = user_data_path("phasewatch", appauthor=False)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'phasewatch.db'}"


def database_url() -> str:
    """The configured database URL: the environment variable, else the default."""
    return os.environ.get(DATABASE_URL_ENV) or default_database_url()


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def make_engine(url: str) -> Engine:
    """An engine with the settings the registry relies on.

    SQLite gets foreign keys on, a busy timeout and WAL journaling so several
    processes can share one file; PostgreSQL gets a short connect timeout so an
    unreachable server fails fast.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"malformed database URL {url!r}",
            f"set {DATABASE_URL_ENV} to e.g. sqlite:///path/to/phasewatch.db "
            "or postgresql+psycopg://user@host/db",
        ) from None
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 5
    elif parsed.get_backend_name() == "sqlite":
        connect_args["timeout"] = 30
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseError(
            f"unsupported database URL {redact(url)!r}: {_first_line(exc)}",
            "use sqlite:/// or postgresql+psycopg://",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API types)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


# --- migrations ---------------------------------------------------------------


def alembic_config(url: str):  # -> alembic.config.Config (imported lazily)
    """An Alembic configuration pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration this version of phasewatch ships."""
    from phasewatch.migrations import HEAD_REVISION

    return HEAD_REVISION


def alembic_head_revision() -> str:
    """The head as Alembic computes it from the revision files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with _connect(engine) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the schema forward; returns (before, after) revisions."""
    return _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Migrate the schema back to ``revision`` (``base`` drops every table)."""
    return _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> tuple[str | None, str | None]:
    from alembic import command
    from alembic.util.exc import CommandError

    before = current_revision(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with _connect(engine) as conn, conn.begin():
            config.attributes["connection"] = conn
            getattr(command, direction)(config, revision)
    except CommandError as exc:
        raise DatabaseError(f"cannot {direction} to {revision!r}: {exc}", "see `phasewatch db history`") from None
    return before, current_revision(engine)


def ensure_current(engine: Engine) -> None:
    """Fail with a clear instruction unless the schema is at the shipped head."""
    current = current_revision(engine)
    head = head_revision()
    where = redact(engine.url.render_as_string(hide_password=False))
    if current is None:
        raise DatabaseError(
            f"the database at {where} has no phasewatch schema", "run `phasewatch init` to create and load it"
        )
    if current != head:
        raise DatabaseError(
            f"the database at {where} is at schema revision {current}, this phasewatch needs {head}",
            "run `phasewatch db upgrade`",
        )


@contextmanager
def _connect(engine: Engine):
    """Connect, turning an unreachable database into one clear error."""
    try:
        conn = engine.connect()
    except (OperationalError, SADatabaseError) as exc:
        where = redact(engine.url.render_as_string(hide_password=False))
        hint = (
            "check that its folder exists and is writable"
            if engine.dialect.name == "sqlite"
            else "check that the server is running and the URL is right"
        )
        raise DatabaseError(
            f"cannot reach the database at {where}: {_first_line(exc)}", f"{hint} (set by {DATABASE_URL_ENV})"
        ) from None
    with conn:
        yield conn


def open_registry(url: str | None = None, *, require_current: bool = True) -> Engine:
    """Engine for the configured database, checked to be reachable and current."""
    engine = make_engine(url or database_url())
    if require_current:
        ensure_current(engine)
    else:
        with _connect(engine):
            pass
    return engine
