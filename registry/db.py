"""Engine, transactions and schema migrations.

``PHASEWATCH_DATABASE_URL`` selects the database; without it the registry is a
SQLite file in the user's data directory. PostgreSQL (``postgresql+psycopg://``)
works the same and is the choice for several workers.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, inspect, make_url, select, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session

from phasewatch.registry import validation
from phasewatch.registry.errors import DatabaseError

log = logging.getLogger(__name__)
validation.install()  # every flush obeys the input contract (registry/validation.py)

DATABASE_URL_ENV = "PHASEWATCH_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def default_database_url() -> str:
    """A SQLite file in the user's data directory (its folder made private, 0700, on first use)."""
    from platformdirs import user_data_path

    folder = user_data_path("phasewatch", appauthor=False)
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    return f"sqlite:///{folder / 'phasewatch.db'}"


def database_url() -> str:
    """The configured database URL: the environment variable, else the default."""
    return os.environ.get(DATABASE_URL_ENV) or default_database_url()


_CREDENTIALS = re.compile(r"(?P<user>//[^/:@\s]*:)[^@\s]*@")


def redact(url: str) -> str:
    """The URL with any password hidden, for messages; malformed URLs included."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _CREDENTIALS.sub(r"\g<user>***@", url)


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
        parsed.port  # noqa: B018 (a non-numeric port raises only when read)
    except (ArgumentError, ValueError):
        raise DatabaseError(
            f"malformed database URL {redact(url)!r}",
            f"set {DATABASE_URL_ENV} to e.g. sqlite:///path/to/phasewatch.db or postgresql+psycopg://user@host/db",
        ) from None
    connect_args: dict[str, object] = {}
    read_only = False
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 5
    elif parsed.get_backend_name() == "sqlite":
        connect_args["timeout"] = 30
        path = sqlite_file(parsed)
        if path is not None and path.exists() and not _writable(path):
            # Open it read-only: queries still work, writes fail with one clear line. In a folder
            # nobody may write (read-only media), a WAL database without its -shm file can only
            # be opened as immutable: no writer can exist there to change it meanwhile.
            query = "mode=ro"
            if not os.access(path.parent, os.W_OK) and not Path(f"{path}-shm").exists():
                query += "&immutable=1"
            parsed = parsed.set(database=f"file:{path}?{query}", query={"uri": "true"})
            read_only = True
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseError(
            f"unsupported database URL {redact(url)!r}: {_first_line(exc)}",
            "use sqlite:/// or postgresql+psycopg://",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _read_only_pragmas if read_only else _sqlite_pragmas)
    return engine


def sqlite_file(url: object) -> Path | None:
    """The file of a SQLite URL (``None`` for in-memory databases or other backends)."""
    parsed = make_url(str(url)) if not hasattr(url, "get_backend_name") else url
    database = parsed.database  # type: ignore[attr-defined]
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":  # type: ignore[attr-defined]
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database)


def _writable(path: Path) -> bool:
    """Can this process write the file and its folder (SQLite's WAL needs both)?"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def is_read_only(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and "mode=ro" in (engine.url.database or "")


def shown_url(engine: Engine) -> str:
    """The database's URL as a user set it, password masked (a read-only SQLite file is
    opened through a ``file:`` URI: shown as its plain path)."""
    path = sqlite_file(engine.url)
    if path is not None and is_read_only(engine):
        return f"sqlite:///{path}"
    return redact(engine.url.render_as_string(hide_password=False))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _read_only_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def create_private_sqlite_file(engine: Engine) -> None:
    """Create a new SQLite database file readable by its owner only (0600)."""
    path = sqlite_file(engine.url)
    if path is None or path.exists():
        return
    if not path.parent.is_dir():
        raise DatabaseError(
            f"cannot create the database {path}: its folder does not exist",
            f"create the folder or point {DATABASE_URL_ENV} elsewhere",
        )
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise DatabaseError(
            f"cannot create the database {path}: {exc.strerror}", "check the folder's permissions"
        ) from None


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error."""
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except OperationalError as exc:
        if "readonly" in str(exc.orig).replace("-", "").lower() or is_read_only(engine):
            where = shown_url(engine)
            raise DatabaseError(
                f"the database at {where} is read-only: this command cannot write to it",
                "queries still work; to write, make the file and its folder writable or copy it elsewhere",
            ) from None
        raise


WRITE_LOCK_KEY = 0x70687277  # PostgreSQL advisory lock serialising release logging and sealing ("phrw")


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction whose reads all see one snapshot, without taking a write lock.

    On SQLite a plain ``BEGIN`` (the driver otherwise reads statement by statement, each
    seeing whatever was last committed); on PostgreSQL ``REPEATABLE READ``.
    """
    with transaction(engine) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text("BEGIN"))
        elif dialect == "postgresql":
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        yield session


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction that holds the write lock from its first statement.

    On SQLite it begins with ``BEGIN IMMEDIATE`` (waiting up to the busy timeout for
    the lock), so what it reads is what it writes against; on PostgreSQL an advisory
    transaction lock serialises release logging and sealing the same way. Keep what
    runs inside short.
    """
    with transaction(engine) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))
        elif dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK_KEY)))
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
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    before = current_revision(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with _connect(engine) as conn, conn.begin():
            config.attributes["connection"] = conn
            getattr(command, direction)(config, revision)
    except (CommandError, RevisionError) as exc:
        raise DatabaseError(f"cannot {direction} to {revision!r}: {exc}", _revisions_hint()) from None
    except SADatabaseError as exc:  # a migration step the data refuses (e.g. a foreign key on a drop)
        raise DatabaseError(
            f"{direction} to {revision!r} failed: {_first_line(exc)}; the schema is now at "
            f"{current_revision(engine) or 'base'} (it was {before or 'base'})",
            "run `phasewatch db upgrade` to return to the newest revision, or restore the database from a backup",
        ) from None
    return before, current_revision(engine)


def ensure_current(engine: Engine) -> None:
    """Fail with a clear instruction unless the schema is at the shipped head and loaded."""
    where = shown_url(engine)
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        raise DatabaseError(f"there is no database at {where}", "run `phasewatch init` to create and load it")
    if path is not None and path.stat().st_size == 0:
        raise DatabaseError(
            f"{path} is an empty file, not a phasewatch database",
            "run `phasewatch init` to create one there, or point PHASEWATCH_DATABASE_URL elsewhere",
        )
    current = current_revision(engine)
    head = head_revision()
    if current is None:
        raise DatabaseError(
            f"the database at {where} has no phasewatch schema", "run `phasewatch init` to create and load it"
        )
    if current != head:
        raise DatabaseError(
            f"the database at {where} is at schema revision {current}, this phasewatch needs {head}",
            "run `phasewatch db upgrade`",
        )
    if not bundled_data_loaded(engine):
        raise DatabaseError(
            f"the database at {where} has its schema but not the bundled data (an interrupted `phasewatch init`?)",
            "run `phasewatch init` again: it finishes the load",
        )


def bundled_data_loaded(engine: Engine) -> bool:
    """Did ``phasewatch init``'s load commit? The bundled data is loaded in one
    transaction, labs first, so any lab row means the whole load is there."""
    with _connect(engine) as conn:
        return conn.execute(text("SELECT 1 FROM labs LIMIT 1")).first() is not None


@contextmanager
def _connect(engine: Engine):
    """Connect, turning an unreachable database into one clear error."""
    try:
        conn = engine.connect()
        if engine.dialect.name == "sqlite":
            try:
                conn.exec_driver_sql("PRAGMA schema_version")  # SQLite opens the file only when it first reads it
                conn.rollback()  # end the transaction that statement began: the caller begins its own
            except BaseException:
                conn.close()
                raise
    except (OperationalError, SADatabaseError) as exc:
        where = shown_url(engine)
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
        create_private_sqlite_file(engine)
        with _connect(engine):
            pass
    return engine


def _revisions_hint() -> str:
    return (
        f"give a revision from 0001 to {head_revision()}, or head, or base (`phasewatch db current` shows where it is)"
    )


def downgrade_plan(engine: Engine, revision: str) -> list[str]:
    """What ``downgrade(engine, revision)`` would drop: ``table`` for each table and
    ``table.column`` for each column the undone revisions remove (read from their
    ``downgrade()``), newest revision first. Empty when nothing would be undone."""
    import ast

    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    current = current_revision(engine)
    if current is None:
        return []
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        undone = [r for r in script.iterate_revisions(current, revision) if r.revision != revision]
    except (CommandError, RevisionError) as exc:
        raise DatabaseError(f"cannot downgrade to {revision!r}: {exc}", _revisions_hint()) from None
    dropped: list[str] = []
    for rev in undone:
        tree = ast.parse(Path(rev.path).read_text(encoding="utf-8"))
        body = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "downgrade"), None)
        for node in ast.walk(body) if body is not None else ():
            if isinstance(node, ast.With):
                table = _first_string(node.items[0].context_expr)
                for call in ast.walk(node):
                    if _call_name(call) == "drop_column":
                        column = _first_string(call)
                        dropped.append(f"{table}.{column}" if column else f"{table} (columns)")
            elif _call_name(node) == "drop_table":
                dropped.append(_first_string(node) or "(a table)")
            elif (
                _call_name(node) == "drop_column"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "op"
            ):  # type: ignore[union-attr]
                args = [a.value for a in node.args if isinstance(a, ast.Constant)]  # type: ignore[union-attr]
                dropped.append(".".join(str(a) for a in args[:2]))
    return list(dict.fromkeys(dropped))


def _call_name(node: object) -> str | None:
    import ast

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _first_string(node: object) -> str | None:
    import ast

    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) else None
    return None
