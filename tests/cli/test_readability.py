"""The CLI reads well at 80 columns: no word split across lines, URLs shortened, --format csv,
no <bool> noise in help, correct plurals and articles, --version, completion, doctor."""

from __future__ import annotations

import csv
import io
import json
import re

import click
import pytest
import typer.main

from phasewatch.cli import common
from phasewatch.cli.app import app
from phasewatch.cli.common import article, plural, short_url
from tests.cli.test_cli import run


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the console is made afresh for each test (tests/conftest.py)


def _cells(out: str) -> list[str]:
    return [t for line in out.splitlines() for cell in re.split(r"[│┃]", line) for t in cell.split()]


def _words_whole(out: str, values: list[str]) -> None:
    known = {w for v in values for w in str(v).split()}
    for token in _cells(out):
        if token.endswith("…") or set(token) <= set("━─┏┓┗┛┡┩└┘┳┻╇┴┬┼╋"):
            continue
        assert token in known, f"{token!r} is a piece of a word"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_models_list_at_80_columns_splits_no_word(cli_env: str, narrow: None) -> None:
    code, out, _ = run("models", "list")
    assert code == 0 and all(len(line) <= 80 for line in out.splitlines())
    rows = json.loads(run("models", "list", "--json")[1])
    values = [str(v) for r in rows for v in r.values() if not isinstance(v, (dict, list))]
    values += [common.fmt(v) for r in rows for v in r.values()]
    values += [
        common.fmt(x)
        for r in rows
        for v in r.get("scores", {}).values()
        for x in (v, *(v if isinstance(v, list) else []))
    ]
    values += [
        "models",
        "model",
        "lab",
        "released",
        "open",
        "obs",
        "yes",
        "no",
        *(k.replace("_", " ") for r in rows for k in r.get("scores", {})),
    ]
    _words_whole(out.split("\n", 1)[1], values)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_models_show_at_80_columns_shortens_urls(cli_env: str, narrow: None) -> None:
    code, out, _ = run("models", "show", "DeepSeek-V3-0324")
    assert code == 0 and all(len(line) <= 80 for line in out.splitlines())
    full = [o["source_url"] for o in json.loads(run("models", "show", "DeepSeek-V3-0324", "--json")[1])["observations"]]
    assert full and all(url not in out for url in full)  # shortened to scheme://host/…/tail; full in --json


def test_short_url_plural_article() -> None:
    assert short_url("https://www.example.org/a/b/report.pdf") == "https://example.org/…/report.pdf"
    assert short_url("https://example.org/") == "https://example.org"
    assert len(short_url("https://example.org/" + "x" * 80)) == 48
    assert (plural(1, "model"), plural(2, "model"), plural(3, "family", "families")) == (
        "1 model",
        "2 models",
        "3 families",
    )
    assert [article(w) for w in ("Anthropic", "Google", "OpenAI", "HLE", "GPQA", "MMLU", "xAI", "unified")] == [
        "an",
        "a",
        "an",
        "an",
        "a",
        "an",
        "a",
        "a",
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_format_csv_and_a_bad_format(cli_env: str) -> None:
    code, out, _ = run("phase", "families", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0][0] == "family" and len(rows) > 5
    code, out, _ = run("db", "current", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "database,current,head,status"
    code, out, err = run("phase", "families", "--format", "xml")
    assert code == 2 and err.startswith("error: --format must be table, json or csv") and out == ""


def _commands(group: click.Command, prefix: tuple[str, ...] = ()):
    yield prefix, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*prefix, name))


def test_help_has_no_type_noise_and_root_has_version_and_completion() -> None:
    root = typer.main.get_command(app)
    for path, _ in _commands(root):
        code, out, _ = run(*path, "--help")
        assert code == 0 and "<bool>" not in out and "<list[" not in out, path
    code, out, _ = run("--help")
    assert "--version" in out and "--install-completion" in out
    code, out, _ = run("--version")
    assert code == 0 and re.fullmatch(r"phasewatch \S+ \(schema \S+\)\n", out)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_doctor_checks_database_revision_caches_and_steering(cli_env: str) -> None:
    code, out, _ = run("doctor", "--format", "json")
    checks = {c["check"]: c for c in json.loads(out)}
    assert code == 0 and checks["database"]["status"] == "ok" and checks["schema revision"]["status"] == "ok"
    assert {"data directory", "compile cache", "Hugging Face cache", "steering dependencies", "device"} <= set(checks)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_doctor_fails_on_an_empty_database(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", empty_url)
    code, out, _ = run("doctor", "--format", "csv")
    assert code == 1 and "schema revision,fail,empty" in out


NARROW_COMMANDS = [
    ("labs", "list"),
    ("labs", "compare"),
    ("labs", "show", "Anthropic"),
    ("panels", "list"),
    ("panels", "show", "frontier", "--excluded"),
    ("benchmarks", "list"),
    ("phase", "families"),
    ("phase", "reproduce", "--resamples", "20"),
    ("phase", "classify", "--params-b", "6.9", "--hellaswag", "76", "--truthfulqa", "36", "--d-model", "4096"),
]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_labs_panels_and_phase_fit_80_columns(fitted_url: str, narrow: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No line wider than the terminal, no table cropped at its right border, names whole."""
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    for args in NARROW_COMMANDS:
        code, out, err = run(*args)
        assert code == 0, (args, err)
        lines = out.splitlines()
        assert all(len(line) <= 80 for line in lines), args
        rows = [line.rstrip() for line in lines if line.startswith(("│", "┃"))]
        assert rows and all(line.endswith(("│", "┃")) for line in rows), (args, [r for r in rows if r[-1] not in "│┃"])
    names = {w for lab in json.loads(run("labs", "list", "--json")[1]) for w in lab["name"].split()}
    _, out, _ = run("labs", "compare")
    cells = [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│")]
    assert {w for c in cells for w in c.split()} <= names  # lab names wrap between words, never inside one
