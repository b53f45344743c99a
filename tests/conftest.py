"""Shared fixtures: a fresh registry per test on SQLite and on PostgreSQL.

PostgreSQL is a throwaway server started here on loopback (``initdb`` as the
``postgres`` user when running as root); without ``pg_config`` the PostgreSQL
variants skip. ``PHASEWATCH_TEST_POSTGRES_URL`` points the tests at a server
you already run instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from phasewatch.registry.catalog import Catalog
from phasewatch.registry.db import make_engine, transaction, upgrade
from phasewatch.registry.seed import seed

_counter = itertools.count()

# The day every test runs on, whatever the wall clock or PHASEWATCH_TODAY of the shell
# says: the suite must pass unchanged after every prediction deadline (issue #10).
TEST_TODAY = "2026-12-01"


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin the CLI's clock (``PHASEWATCH_TODAY``) for this test and the processes it starts;
    fits run in the test's own process (no fit server) and commands in their own processes
    (no command server) unless a test starts one itself."""
    monkeypatch.setenv("PHASEWATCH_TODAY", TEST_TODAY)
    monkeypatch.setenv("PHASEWATCH_FIT_SERVER", "off")
    monkeypatch.setenv("PHASEWATCH_SERVER", "off")
    return TEST_TODAY


@pytest.fixture(autouse=True)
def fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI keeps one rich console per process, sized (``COLUMNS``) when first used; each
    test gets its own, as each command's process does, so no test depends on which ran first."""
    from phasewatch.cli import common

    monkeypatch.setattr(common, "_console", None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server (without database name), started for this session."""
    if url := os.environ.get("PHASEWATCH_TEST_POSTGRES_URL"):
        yield url.rsplit("/", 1)[0]
        return
    if shutil.which("pg_config") is None:
        if os.environ.get("PHASEWATCH_REQUIRE_POSTGRES"):
            pytest.fail("PHASEWATCH_REQUIRE_POSTGRES is set but PostgreSQL is not installed (no pg_config)")
        pytest.skip("PostgreSQL is not installed (no pg_config)")
    bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
    base = tempfile.mkdtemp(prefix="phasewatch-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(base, "data"), _free_port()
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=200"
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", f"{base}/log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _admin(server: str) -> Engine:
    return create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")


def _create_pg_database(server: str, template: str | None = None) -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = _admin(server)
    with admin.connect() as conn:
        clause = f" TEMPLATE {template}" if template else ""
        conn.execute(text(f"CREATE DATABASE {name}{clause}"))
    admin.dispose()
    return name


def _seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        seed(Catalog(session, bulk=True))
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    _seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def seeded_pg_template(pg_server: str) -> str:
    name = _create_pg_database(pg_server)
    _seed(f"{pg_server}/{name}")
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database (no schema)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    server = request.getfixturevalue("pg_server")
    return f"{server}/{_create_pg_database(server)}"


@pytest.fixture
def new_registry(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Make another registry at the schema head with the bundled data loaded."""

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path / f"registry{next(_counter)}.db"
            shutil.copy(request.getfixturevalue("seeded_sqlite_template"), path)
            return f"sqlite:///{path}"
        server = request.getfixturevalue("pg_server")
        return f"{server}/{_create_pg_database(server, request.getfixturevalue('seeded_pg_template'))}"

    return make


@pytest.fixture
def db_url(new_registry: Callable[[], str]) -> str:
    """A registry at the schema head with the bundled data loaded (a fresh copy per test)."""
    return new_registry()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at the test registry."""
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", db_url)
    return db_url


def _fit(url: str) -> None:
    from phasewatch.services.fitting import run_fit

    engine = make_engine(url)
    run_fit(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def fitted_sqlite_template(seeded_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fitted") / "fitted.db"
    shutil.copy(seeded_sqlite_template, path)
    _fit(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def fitted_pg_template(pg_server: str, seeded_pg_template: str) -> str:
    name = _create_pg_database(pg_server, seeded_pg_template)
    _fit(f"{pg_server}/{name}")
    return name


@pytest.fixture
def fitted_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A seeded registry holding one converged fit of growing-pains-34 (a fresh copy per test)."""
    if backend == "sqlite":
        path = tmp_path / "fitted.db"
        shutil.copy(request.getfixturevalue("fitted_sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg_server")
    return f"{server}/{_create_pg_database(server, request.getfixturevalue('fitted_pg_template'))}"


@pytest.fixture
def fitted_engine(fitted_url: str) -> Iterator[Engine]:
    engine = make_engine(fitted_url)
    yield engine
    engine.dispose()
