"""Opening the registry: private files, read-only databases, masked passwords, interrupted inits."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasewatch.cli.app import for_arguments
from phasewatch.registry import db
from phasewatch.registry.db import make_engine, open_registry, redact, upgrade
from phasewatch.registry.errors import DatabaseError

runner = CliRunner()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(for_arguments(args), list(args))
    return result.exit_code, result.stdout + result.stderr


def test_default_database_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PHASEWATCH_DATABASE_URL", raising=False)
    open_registry(require_current=False).dispose()
    folder = tmp_path / "xdg" / "phasewatch"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "phasewatch.db").stat().st_mode) == 0o600


def test_a_query_never_creates_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "none.db"
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", f"sqlite:///{path}")
    code, out = _cli("models", "list")
    assert code == 2 and out.startswith("error: there is no database at") and "phasewatch init" in out
    assert not path.exists()


def test_an_empty_file_is_refused_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", f"sqlite:///{path}")
    code, out = _cli("models", "list")
    assert code == 2 and out.count("\n") == 1 and "empty file" in out
    assert path.stat().st_size == 0


def test_read_only_database_answers_queries_and_refuses_writes(
    db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("read-only files are a SQLite matter")
    # Tests run as root, for whom every file is writable: make the file look read-only.
    monkeypatch.setattr(db, "_writable", lambda _path: False)
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", db_url)
    before = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    code, out = _cli("models", "list", "--lab", "DeepSeek", "--json")
    assert code == 0 and "DeepSeek-V3" in out
    code, out = _cli("labs", "add", "Read Only Lab")
    assert code == 2 and out.count("\n") == 1 and "read-only" in out
    assert Path(db_url.removeprefix("sqlite:///")).read_bytes() == before


def _on_read_only_media(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``phasewatch ARGS`` where ``folder`` is a read-only file system (a read-only bind
    mount in a private mount namespace: real ``EROFS``, which even root cannot write)."""
    command = (
        f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(folder))} && "
        f"mount -o remount,bind,ro {shlex.quote(str(folder))} && "
        f"exec {shlex.quote(sys.executable)} -m phasewatch.cli.app " + " ".join(shlex.quote(a) for a in args)
    )
    return subprocess.run(["unshare", "--mount", "sh", "-c", command], capture_output=True, text=True, timeout=120)


def test_a_database_on_read_only_media_answers_queries_and_refuses_writes(
    db_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("read-only files are a SQLite matter")
    if shutil.which("unshare") is None or _on_read_only_media(tmp_path, "--help").returncode != 0:
        pytest.skip("needs unshare and mount (root, or a user namespace) to make a read-only file system")
    folder = tmp_path / "media"
    folder.mkdir()
    path = folder / "registry.db"
    shutil.copy(db_url.removeprefix("sqlite:///"), path)  # a WAL database without its -shm file
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", f"sqlite:///{path}")
    before = path.read_bytes()
    listed = _on_read_only_media(folder, "models", "list", "--lab", "DeepSeek", "--json")
    assert listed.returncode == 0 and "DeepSeek-V3" in listed.stdout, listed.stderr
    for args in (("labs", "add", "Read Only Lab"), ("export", "--out", str(folder / "out.csv"))):
        refused = _on_read_only_media(folder, *args)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stderr.startswith("error:") and "Traceback" not in refused.stderr
    assert "read-only" in _on_read_only_media(folder, "labs", "add", "Read Only Lab").stderr
    assert f"sqlite:///{path}" in _on_read_only_media(folder, "labs", "add", "X").stderr  # the path, not a URI
    assert path.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["registry.db"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg//postgres:S3cretPW@localhost/db",  # missing colon
        "postgresql+psycopg://postgres:S3cretPW@localhost:abc/db",  # non-numeric port
        "nosuchdialect://postgres:S3cretPW@localhost/db",
    ],
)
def test_bad_urls_are_one_line_and_never_show_the_password(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", url)
    code, out = _cli("models", "list")
    assert code == 2 and out.count("\n") == 1 and out.startswith("error:")
    assert "S3cretPW" not in out
    assert "S3cretPW" not in redact(url)


def test_redact_keeps_the_rest_of_a_malformed_url() -> None:
    assert redact("postgresql+psycopg//me:pw@host/db") == "postgresql+psycopg//me:***@host/db"


def test_interrupted_init_is_named_and_finished_by_the_next_init(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)  # the schema step of an init whose data load never committed
    engine.dispose()
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", empty_url)
    code, out = _cli("models", "list")
    assert code == 2 and "interrupted" in out and "phasewatch init" in out
    with pytest.raises(DatabaseError, match="interrupted"):
        open_registry(empty_url)
    code, out = _cli("init")
    assert code == 0, out
    code, out = _cli("models", "list", "--lab", "DeepSeek", "--json")
    assert code == 0 and "DeepSeek-V3" in out


def test_a_downgrade_the_data_refuses_is_one_line_and_all_or_nothing(
    db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`db downgrade base --yes` on a loaded registry either drops everything or, where a
    migration step fails on the data (SQLite's foreign keys on a drop), says so in one line
    and leaves every table as it was."""
    from tests.helpers import table_counts

    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", db_url)
    engine = make_engine(db_url)
    before = table_counts(engine)
    code, out = _cli("db", "downgrade", "base", "--yes")
    if code == 0:
        assert db.current_revision(engine) is None
    else:
        assert code == 2 and out.count("\n") == 1 and out.startswith("error:") and "Traceback" not in out, out
        assert "failed" in out and "phasewatch db upgrade" in out
        assert table_counts(engine) == before
    engine.dispose()
