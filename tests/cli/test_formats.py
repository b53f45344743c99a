"""Every query takes ``--format csv`` and ``--format json``: the whole command tree is walked, every
command that does not write is run on one demo-like registry (bundled data + a stored fit), and
its output must parse (CSV with a header; JSON with no NaN or Infinity)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer.main

from phasewatch.cli.app import app
from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.predictions import seed_predictions
from tests.cli.test_cli import run

pytestmark = pytest.mark.slow

Path_ = tuple[str, ...]

# Commands that write (the database, a file or a queue): not queries, so not run here.
WRITERS: dict[Path_, str] = {
    ("init",): "creates or upgrades the database and loads the bundled data",
    ("db", "upgrade"): "migrates the schema",
    ("db", "downgrade"): "migrates the schema",
    ("fit-server", "stop"): "stops the local fit server process (no registry query)",
    ("server", "stop"): "stops the command server process (no registry query)",
    ("labs", "add"): "registers a lab or its aliases",
    ("labs", "hub", "set"): "replaces a lab's Hub organisations",
    ("models", "alias", "add"): "adds a model alias",
    ("releases", "add"): "logs a release and stores its verdict",
    ("releases", "correct"): "corrects a model and logs the edit",
    ("releases", "check"): "stores a verdict for the release",
    ("scores", "add"): "adds an observation",
    ("scores", "import"): "imports observations",
    ("panels", "freeze"): "stores a frozen panel",
    ("benchmarks", "add"): "registers a benchmark",
    ("fit",): "samples and stores a fit",
    ("fit-matrix",): "samples and stores the joint coupling matrix",
    ("fits", "compare"): "samples and stores every fit it compares",
    ("coverage",): "refits and stores a coverage check",
    ("predictions", "add"): "appends to the hash-chained prediction log",
    ("predictions", "grade"): "seals gradings into the log",
    ("predictions", "head"): "writes a dated checkpoint file",
    ("steer", "run"): "queues a steering job",
    ("steer", "jobs", "retry"): "requeues a job",
    ("worker",): "runs queued jobs and stores their results",
    ("watch",): "registers new Hub releases and queues their jobs",
    ("report",): "writes the dashboard folder",
}
# Commands that read no registry at all.
NOT_QUERIES: dict[Path_, str] = {
    ("docs",): "prints one of the bundled documents (markdown, not a table)",
    ("steer", "jobs", "show"): "needs a queued job; tests/cli/test_steer_cli.py shows one in every format",
}

# Arguments a query needs; `phase nc`, `phase reproduce` and `phase family` also store or run a small
# bootstrap (a few resamples here: their output, not their precision, is under test).
ARGS: dict[Path_, tuple[str, ...]] = {
    ("labs", "show"): ("Anthropic",),
    ("panels", "show"): ("growing-pains-34",),
    ("models", "show"): ("Claude Opus 4.6",),
    ("models", "history"): ("Claude Opus 4.6",),
    ("predictions", "show"): ("gp-1",),
    ("phase", "family"): ("Pythia-deduped", "--resamples", "50"),
    ("phase", "nc"): ("--resamples", "50"),
    ("phase", "reproduce"): ("--resamples", "50"),
    ("phase", "classify"): ("--params-b", "6.9", "--hellaswag", "76", "--truthfulqa", "36"),
    ("analyze",): ("--lab", "Anthropic", "--x", "80", "--y", "85"),
    ("predict",): ("--lab", "Anthropic", "--x-score", "80"),
}
# A second case for a command with two shapes of output.
EXTRA_CASES: list[tuple[Path_, tuple[str, ...]]] = [(("panels", "show"), ("frontier", "--excluded"))]

# Query commands that other branches convert to --format in parallel; the marks go at merge
# (strict: they fail loudly once the command passes).
CONVERTED_ELSEWHERE: dict[Path_, str] = {}


def _leaves(command: click.Command, prefix: Path_ = ()) -> Iterator[Path_]:
    sub = getattr(command, "commands", None)
    if sub is None:
        yield prefix
        return
    for name, child in sorted(sub.items()):
        yield from _leaves(child, (*prefix, name))


ALL = list(_leaves(typer.main.get_command(app)))
QUERIES = [p for p in ALL if p not in WRITERS and p not in NOT_QUERIES]
CASES = [(p, ARGS.get(p, ())) for p in QUERIES] + EXTRA_CASES


def _case(path: Path_, args: tuple[str, ...], fmt: str) -> object:
    marks = []
    if path in CONVERTED_ELSEWHERE:
        branch = CONVERTED_ELSEWHERE[path]
        marks.append(pytest.mark.xfail(strict=True, reason=f"`{' '.join(path)}` converted on branch {branch}"))
    return pytest.param(path, args, fmt, marks=marks, id=f"{' '.join((*path, *args))} --format {fmt}")


@pytest.fixture(scope="module")
def demo_registry(fitted_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One registry for the module: the bundled data, the seven predictions and a stored, accepted fit."""
    path = tmp_path_factory.mktemp("formats") / "demo.db"
    shutil.copy(fitted_sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with transaction(engine) as session:
        seed_predictions(session)  # what `init` adds beyond the template: the seven, for `predictions show`
    engine.dispose()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEWATCH_DATABASE_URL", url)
        patch.setenv("PHASEWATCH_TODAY", "2026-12-01")
        yield url


def test_every_command_is_classified_and_the_lists_are_current() -> None:
    known = set(ALL)
    stale = [p for p in [*WRITERS, *NOT_QUERIES, *ARGS, *CONVERTED_ELSEWHERE] if p not in known]
    assert not stale, f"no such command any more: {stale}"
    assert not set(CONVERTED_ELSEWHERE) & set(WRITERS)
    assert len(QUERIES) >= 25  # the walk found the tree


def _no_nan(constant: str) -> None:
    raise ValueError(f"JSON holds {constant}")


@pytest.mark.parametrize(("path", "args", "fmt"), [_case(p, a, f) for p, a in CASES for f in ("csv", "json")])
def test_every_query_takes_format_csv_and_json(
    demo_registry: str, path: Path_, args: tuple[str, ...], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", demo_registry)
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-01")
    code, out, err = run(*path, *args, "--format", fmt)
    assert code == 0, err
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows and rows[0] and all(h.strip() for h in rows[0]), f"no header: {out[:200]!r}"
        assert all(len(r) == len(rows[0]) for r in rows), "ragged CSV"
    else:
        json.loads(out, parse_constant=_no_nan)
