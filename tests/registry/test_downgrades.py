"""`db downgrade` from a loaded registry: every revision down and back up on both databases,
the rows of the tables a downgrade keeps all kept, a failed step rolled back whole.

"Loaded" is everything `phasewatch init` loads plus what using it adds: gradings, a
converged fit with its inputs, a logged open-weight release with its verdict and steering
job, a steering result, a Hub organisation and repository, a model edit, a stored
coverage check, nc result and coupling matrix: a row in every table.
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from phasewatch.cli.app import for_arguments
from phasewatch.registry import db
from phasewatch.registry.db import current_revision, downgrade, make_engine, upgrade
from phasewatch.registry.errors import DatabaseError
from phasewatch.registry.schema import Base
from tests.conftest import _create_pg_database
from tests.helpers import table_counts

runner = CliRunner()
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(for_arguments(args), list(args))
    return result.exit_code, result.stdout + result.stderr


def _revisions() -> list[str]:
    """Every revision below the head, newest first, then ``base``."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(db.MIGRATIONS_DIR))
    return [r.revision for r in script.walk_revisions() if r.revision != db.head_revision()] + ["base"]


def _load(url: str) -> None:
    """Turn a fitted registry into a loaded one (through the CLI where a command exists)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PHASEWATCH_DATABASE_URL", url)
        for args in (
            ("init",),  # the bundled predictions and their revisions
            ("predictions", "grade"),
            shlex.split(
                "releases add 'Downgrade Probe 1' --lab Anthropic --date 2026-11-20 --score swe_bench_verified=80 "
                "--score gpqa_diamond=85 --open-weight --hf-repo probe-org/downgrade-probe-1 --hf-revision main "
                "--source https://example.com/probe --distinct"
            ),  # an accepted fit holds: a verdict, and a steering job
        ):
            code, out = _cli(*args)
            assert code == 0, (args, out)
    engine = make_engine(url)
    tables = Base.metadata.tables
    with engine.begin() as conn:
        lab_id = conn.execute(text("SELECT id FROM labs WHERE name = 'Anthropic'")).scalar_one()
        model_id = conn.execute(text("SELECT id FROM models WHERE name = 'Downgrade Probe 1'")).scalar_one()
        job_id = conn.execute(text("SELECT id FROM steering_jobs WHERE model_id = :m"), {"m": model_id}).scalar_one()
        # a figure edited by another client: the observation log names it
        conn.execute(text("UPDATE observations SET value = value WHERE id = (SELECT min(id) FROM observations)"))
        conn.execute(tables["lab_hub_orgs"].insert().values(lab_id=lab_id, org="probe-org", last_polled_at=AT))
        conn.execute(
            tables["hub_repos"]
            .insert()
            .values(repo="probe-org/downgrade-probe-1", lab_id=lab_id, model_id=model_id, job_id=job_id, seen_at=AT)
        )
        conn.execute(
            tables["steering_results"].insert().values(job_id=job_id, model_id=model_id, worker="probe", report={})
        )
        conn.execute(
            tables["model_edits"]
            .insert()
            .values(model_id=model_id, field="notes", old_value=None, new_value="probe", edited_on=AT.date())
        )
        conn.execute(
            tables["coverage_checks"]
            .insert()
            .values(
                panels="growing-pains-34",
                method="lfo",
                x_benchmark="swe_bench_verified",
                y_benchmark="gpqa_diamond",
                nominal=0.9,
                n=10,
                inside=9,
                spec={},
                details=[],
            )
        )
        conn.execute(
            tables["nc_results"]
            .insert()
            .values(
                panel="growing-pains-34",
                families="",
                resamples=10,
                seed=1,
                legacy_rng=False,
                points=3,
                data_hash="0" * 64,
                quadratic={},
                gamma={},
                command="probe",
                computed_at=AT,
            )
        )
        conn.execute(
            tables["coupling_matrix_fits"]
            .insert()
            .values(
                panel="frontier",
                as_of=AT.date(),
                min_models=5,
                benchmarks="gpqa_diamond,swe_bench_verified",
                n_models=5,
                data_hash="0" * 64,
                seed=1,
                converged=True,
                diagnostics={},
                summary={},
                observations=[],
                versions={},
                elapsed_s=1.0,
                created_at=AT,
            )
        )
    empty = [name for name, n in table_counts(engine).items() if n == 0]
    engine.dispose()
    assert not empty, f"the loaded registry has no rows in {empty}"


@pytest.fixture(scope="session")
def loaded_sqlite_template(fitted_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loaded") / "loaded.db"
    shutil.copy(fitted_sqlite_template, path)
    _load(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def loaded_pg_template(pg_server: str, fitted_pg_template: str) -> str:
    name = _create_pg_database(pg_server, fitted_pg_template)
    _load(f"{pg_server}/{name}")
    return name


@pytest.fixture
def loaded_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A loaded registry (a fresh copy per call of ``make``)."""
    return _loaded_copy(backend, tmp_path, request)


def _loaded_copy(backend: str, tmp_path: Path, request: pytest.FixtureRequest, name: str = "loaded") -> str:
    if backend == "sqlite":
        path = tmp_path / f"{name}.db"
        shutil.copy(request.getfixturevalue("loaded_sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg_server")
    return f"{server}/{_create_pg_database(server, request.getfixturevalue('loaded_pg_template'))}"


@pytest.fixture
def loaded(loaded_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", loaded_url)
    engine = make_engine(loaded_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) & set(Base.metadata.tables)


def _counts(engine: Engine, tables: set[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in sorted(tables)}


def _foreign_keys_enforced(engine: Engine) -> None:
    """A SQLite connection the pool hands out after a migration enforces foreign keys again."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.connection.driver_connection.isolation_level == ""  # the driver's default mode back


def test_downgrade_base_from_a_loaded_registry_then_upgrade_and_init(loaded: Engine) -> None:
    code, out = _cli("db", "downgrade", "base", "--yes")
    assert code == 0, out
    assert current_revision(loaded) is None
    assert _tables(loaded) == set()
    _foreign_keys_enforced(loaded)
    code, out = _cli("db", "upgrade")
    assert code == 0, out
    assert current_revision(loaded) == db.head_revision()
    empty = table_counts(loaded)
    assert empty.pop("registry_state") == 1 and set(empty.values()) == {0}  # only the change count's row
    code, out = _cli("init")
    assert code == 0, out
    for args in (("models", "list"), ("predictions", "list"), ("predictions", "verify"), ("labs", "list")):
        code, out = _cli(*args)
        assert code == 0, (args, out)
    counts = table_counts(loaded)
    assert counts["models"] > 200 and counts["predictions"] > 0 and counts["observations"] > 1000, counts


def _down_and_back_up(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` and upgrade back: the rows of every table the downgrade
    keeps are all there at ``revision`` and again at the head."""
    before = _counts(engine, _tables(engine))
    downgrade(engine, revision)
    assert current_revision(engine) == (None if revision == "base" else revision)
    kept = _tables(engine)
    assert _counts(engine, kept) == {name: before[name] for name in kept}, f"rows lost downgrading to {revision}"
    _foreign_keys_enforced(engine)
    upgrade(engine)
    assert current_revision(engine) == db.head_revision()
    assert _tables(engine) == set(Base.metadata.tables)
    assert _counts(engine, kept) == {name: before[name] for name in kept}, f"rows lost upgrading from {revision}"
    if revision != "base":
        db.ensure_current(engine)  # schema at head, bundled data there: every command runs


@pytest.mark.parametrize("revision", _revisions())
def test_every_revision_down_and_back_up_on_sqlite(
    revision: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(_loaded_copy("sqlite", tmp_path, request))
    try:
        _down_and_back_up(engine, revision)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_every_revision_down_and_back_up_on_postgresql(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    for revision in _revisions():
        engine = make_engine(_loaded_copy("postgresql", tmp_path, request))
        try:
            _down_and_back_up(engine, revision)
        finally:
            engine.dispose()


def test_a_failed_step_rolls_back_every_step_before_it(loaded: Engine) -> None:
    """A view on a column 0007 drops makes that step fail on both databases, after the
    steps before it dropped tables: they are all back, with their rows."""
    with loaded.begin() as conn:
        conn.execute(text("CREATE VIEW probe_retrodictions AS SELECT id, retrodiction FROM predictions"))
    before = table_counts(loaded)
    code, out = _cli("db", "downgrade", "base", "--yes")
    assert code == 2 and out.count("\n") == 1 and out.startswith("error:") and "Traceback" not in out, out
    head = db.head_revision()
    assert "failed" in out and f"the schema is now at {head} (it was {head})" in out, out
    assert current_revision(loaded) == db.head_revision()
    assert _tables(loaded) == set(Base.metadata.tables)
    assert table_counts(loaded) == before
    assert "tier" in {c["name"] for c in inspect(loaded).get_columns("models")}
    _foreign_keys_enforced(loaded)


def test_a_sqlite_migration_leaving_a_broken_reference_is_rolled_back(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Foreign keys are off while SQLite migrations run: their check before the commit
    refuses a result with rows that refer to missing rows, naming them."""
    engine = make_engine(_loaded_copy("sqlite", tmp_path, request))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql(
            "INSERT INTO model_edits (model_id, field, edited_on) VALUES (999999, 'notes', '2026-11-30')"
        )
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    before = table_counts(engine)
    with pytest.raises(DatabaseError) as raised:
        downgrade(engine, "0014")
    message = str(raised.value)
    assert "model_edits -> models (1 row)" in message, message
    assert f"the schema is now at {db.head_revision()}" in message, message
    assert "\n" not in message
    assert current_revision(engine) == db.head_revision()
    assert table_counts(engine) == before
    assert "coupling_matrix_fits" in _tables(engine)
    _foreign_keys_enforced(engine)
    engine.dispose()


def test_plain_alembic_runs_sqlite_migrations_the_same_way(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """`alembic downgrade` from the repository root (its own engine, no caller's transaction)
    keeps the rows the downgrade keeps, and a failed step leaves every table in place."""
    url = _loaded_copy("sqlite", tmp_path, request)
    engine = make_engine(url)
    before = table_counts(engine)
    root = Path(__file__).resolve().parents[2]

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "alembic", "-x", f"url={url}", *args]
        return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)

    assert alembic("downgrade", "0006").returncode == 0
    kept = _tables(engine)
    assert "hub_repos" not in kept and _counts(engine, kept) == {name: before[name] for name in kept}
    assert alembic("upgrade", "head").returncode == 0
    assert _counts(engine, kept) == {name: before[name] for name in kept}
    before = table_counts(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE VIEW probe_retrodictions AS SELECT id, retrodiction FROM predictions"))
    failed = alembic("downgrade", "base")
    assert failed.returncode != 0 and "probe_retrodictions" in failed.stderr, failed.stderr[-2000:]
    assert current_revision(engine) == db.head_revision()
    assert table_counts(engine) == before
    _foreign_keys_enforced(engine)
    engine.dispose()
