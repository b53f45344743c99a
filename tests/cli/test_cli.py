"""The command line: what users type, what they see, and what it leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sqlalchemy import Engine
from typer.main import get_command
from typer.testing import CliRunner

from phasewatch.cli.app import app, for_arguments
from tests.helpers import source_path, table_counts

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(for_arguments(args), list(args))  # the tree `phasewatch` builds
    return result.exit_code, result.stdout, result.stderr


def test_models_list_panel_json_returns_the_papers_34_rows(cli_env: str) -> None:
    code, out, _ = run("models", "list", "--panel", "growing-pains-34", "--json")
    assert code == 0
    rows = json.loads(out)
    paper = json.loads(source_path("cape-scaling", "frontier_34models.json").read_text())["models"]
    assert len(rows) == 34
    held = sorted((r["scores"]["swe_bench_verified"][0], r["scores"]["gpqa_diamond"][0]) for r in rows)
    assert held == sorted((m["swe"], m["gpqa"]) for m in paper)


def test_models_show_lists_every_observation_with_its_source(cli_env: str) -> None:
    code, out, _ = run("models", "show", "Claude Opus 4.6", "--json")
    assert code == 0
    detail = json.loads(out)
    assert detail["lab"] == "Anthropic"
    panels = {p for o in detail["observations"] for p in o["panels"]}
    assert {"growing-pains-34", "sourced-2026-11"} <= panels
    assert all(o["source_url"] for o in detail["observations"])
    code, out, _ = run("models", "show", "Claude Opus 4.6")
    assert code == 0 and "observations" in out and "https://" in out


def test_models_list_filters(cli_env: str) -> None:
    _, out, _ = run("models", "list", "--lab", "Zhipu AI (Z.ai)", "--open-weight", "--since", "2026-01", "--json")
    rows = json.loads(out)
    assert rows and all(r["lab"] == "Zhipu" and r["open_weight"] for r in rows)
    assert all(r["release_date"] >= "2026-01" for r in rows)
    _, out, _ = run("models", "list", "--until", "2024-06", "--json")
    assert all(r["release_date"] <= "2024-06-30" for r in json.loads(out))


def test_release_add_then_show_and_export(cli_env: str) -> None:
    code, out, err = run("labs", "add", "Thinking Machines", "--alias", "Thinking Machines Lab")
    assert code == 0, err
    code, out, err = run(
        "releases",
        "add",
        "TM-1",
        "--lab",
        "thinking machines lab",
        "--date",
        "2026-09-01",
        "--score",
        "swe_bench_verified=75.5",
        "--score",
        "gpqa_diamond=88",
        "--open-weight",
        "--hf-repo",
        "thinkingmachines/TM-1",
        "--source",
        "https://example.org/tm1",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["scores"] == {"swe_bench_verified": 75.5, "gpqa_diamond": 88.0}
    _, out, _ = run("export", "--format", "json")
    names = {o["model"] for o in json.loads(out)["observations"]}
    assert "TM-1" in names


BAD_INPUTS = [  # (arguments, part of the message, exit code: 2 bad input, 5 not found)
    (["releases", "add", "X1", "--lab", "Gogle", "--date", "2026-05-01"], "did you mean 'Google'", 5),
    (
        ["releases", "add", "X1", "--lab", "Google", "--date", "2026-05-01", "--score", "mmlu_pr=80"],
        "unknown benchmark",
        5,
    ),
    (
        ["releases", "add", "X1", "--lab", "Google", "--date", "2026-05-01", "--score", "gpqa_diamond=101"],
        "outside [0, 100]",
        2,
    ),
    (["releases", "add", "X1", "--lab", "Google", "--date", "May 2026"], "malformed release date", 2),
    (["releases", "add", "X1", "--lab", "Google", "--date", "2999-01-01"], "in the future", 2),
    (["releases", "add", "Claude Opus 4.6", "--lab", "Anthropic", "--date", "2026-02-05"], "already exists", 2),
    (["models", "show", "Claude Opus 9"], "unknown model", 5),
    (["models", "list", "--panel", "growing-pains"], "unknown panel", 5),
    (["models", "list", "--since", "yesterday"], "malformed --since", 2),
    (["export", "--format", "xml"], "'xml' is not one of 'csv', 'json'", 2),
    (["scores", "import", "/nonexistent/scores.csv"], "no such file", 2),
]


@pytest.mark.parametrize(("args", "message", "exit_code"), BAD_INPUTS)
def test_bad_input_is_one_line_with_its_exit_code_and_changes_nothing(
    cli_env: str, engine: Engine, args: list[str], message: str, exit_code: int
) -> None:
    before = table_counts(engine)
    code, out, err = run(*args)
    assert code == exit_code
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert table_counts(engine) == before


def test_csv_with_one_bad_row_names_it_and_imports_nothing(cli_env: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text(
        "model,lab,benchmark,value,reported_by,source_url\n"
        "Brand New A,Anthropic,hle,30,lab,https://e.org/a\n"
        "Brand New A,Anthropic,ifeval,130,lab,https://e.org/a\n"
    )
    before = table_counts(engine)
    code, _, err = run("scores", "import", str(path))
    assert code == 2 and err.startswith("error: row 2: score 130")
    assert table_counts(engine) == before


def test_outdated_database_says_how_to_upgrade(cli_env: str, engine: Engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    code, _, err = run("labs", "list")
    assert code == 2 and "run `phasewatch db upgrade`" in err


def test_db_current_and_downgrade_upgrade(cli_env: str) -> None:
    code, out, _ = run("db", "current", "--json")
    assert code == 0 and json.loads(out)["up_to_date"] is True
    assert run("db", "downgrade", "base")[0] == 2  # not confirmed: nothing dropped
    assert run("db", "downgrade", "base", "--yes")[0] == 0
    code, _, err = run("models", "list")
    assert code == 2 and "phasewatch init" in err
    assert run("db", "upgrade")[0] == 0
    assert json.loads(run("db", "current", "--json")[1])["up_to_date"] is True


def test_init_is_idempotent_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, out, _ = run("init", "--json")
    first = json.loads(out)
    assert code == 0 and first["revision_before"] is None and first["added"]["models"] > 0
    code, out, _ = run("init", "--json")
    assert code == 0 and not any(json.loads(out)["added"].values())


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):  # a group (Typer's own Click has no click.Group class)
            yield path, command
            yield from _commands(command, path)
        else:
            yield path, command


def test_every_command_has_help_and_is_documented() -> None:
    docs = DOCS.read_text()
    missing_help, undocumented = [], []
    for path, command in _commands(get_command(app)):  # type: ignore[arg-type]
        if not (command.help or "").strip():
            missing_help.append(" ".join(path))
        if f"phasewatch {' '.join(path)}" not in docs:
            undocumented.append(" ".join(path))
    assert missing_help == [] and undocumented == []


def _run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasewatch.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


HEAVY = ("pymc", "arviz", "torch", "transformers", "pandas", "pytensor")


@pytest.mark.parametrize(
    "args", [["--help"], ["models", "list", "--json"], ["models", "show", "o3", "--json"], ["fits", "matrix", "--json"]]
)
def test_help_and_queries_do_not_import_heavy_libraries(cli_env: str, args: list[str]) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['phasewatch', *{args!r}]\n"
        "try:\n    runpy.run_module('phasewatch.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in done.stderr, done.stderr[-500:]


def test_real_process_exit_code_and_single_line(cli_env: str) -> None:
    done = _run_process("releases", "add", "X", "--lab", "Nowhere Labs", "--date", "2026-01-01")
    assert done.returncode == 5  # not found
    assert done.stderr.startswith("error: unknown lab 'Nowhere Labs'") and len(done.stderr.splitlines()) == 1


def test_unreachable_database_url_from_the_cli() -> None:
    done = _run_process("labs", "list", env={"PHASEWATCH_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/none"})
    assert done.returncode == 2 and done.stderr.startswith("error: cannot reach the database")
    assert len(done.stderr.splitlines()) == 1
