"""Every bad input answered in one line, on SQLite and on PostgreSQL (issue #16).

Each case runs the CLI in-process on an initialised registry and checks the
contract: the documented exit code, exactly one line on stderr starting
``error:``, no traceback, and every table's rows identical before and after.
The table has two parts: hand-written cases (the reliability probe's list and the
semantic errors: unknown names, conflicts, out-of-range values) and one generated
case per option and argument of every command, with a value of the wrong kind for
its type (a word for a number, NaN for a float, a choice not offered, a terminal
escape for text, a system path for a file). A command added without bad-input
cases, or an option whose bad value is accepted, fails here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.main import get_command
from typer.testing import CliRunner

from phasewatch.cli.app import app, for_arguments

ESCAPE = "Evil\x1b[2J\x1b[31mRED"
LONG = "x" * 10_000
TREE = get_command(app)


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments, the exit code, a phrase the error line must hold."""

    args: tuple[str, ...]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    xfail: str | None = None  # "fixed on branch hN": another helper's fix
    also: tuple[str, ...] = ()  # more phrases the line must hold (the option's name)

    @property
    def id(self) -> str:
        shown = " ".join(a if len(a) <= 24 else a[:20] + "…" for a in self.args)
        return shown.encode("unicode_escape").decode("ascii")


def C(
    *args: str,
    code: int = 2,
    says: str = "",
    env: dict[str, str] | None = None,
    xfail: str | None = None,
    also: tuple[str, ...] = (),
) -> Case:
    return Case(tuple(args), code, says, env or {}, xfail, also)


ADD = ("releases", "add")
REL = ("--lab", "Google", "--date", "2026-05-01")
CLASSIFY = ("phase", "classify", "--hellaswag", "50", "--truthfulqa", "40")


# {tmp} is a folder holding the files below; {file} an existing plain file.
def _prediction(key: str = "t-1", benchmark: Any = "swe_bench_verified", value: Any = 2, **extra: Any) -> dict:
    """A well-formed prediction (as in docs/predictions.md) but for what ``extra`` and the arguments change."""
    spread = {"metric": {"top_k_spread": {"benchmark": benchmark, "k": 5}}, "op": "<", "value": value}
    fail = {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": ">", "value": 50}
    criterion = {"deadline": "2027-12-31", "pass": spread, "fail": fail}
    return {"key": key, "title": "a test prediction", "statement": "s", "criterion": criterion, **extra}


# {tmp} is a folder holding the files below; {file} an existing plain file.
FILES: dict[str, Any] = {
    "bench_list.json": _prediction(benchmark=["swe"]),
    "source_object.json": _prediction(source={"a": 1}),
    "nan_threshold.json": json.dumps(_prediction(value=1.5)).replace("1.5", "NaN"),
    "long_key.json": _prediction(key="k" * 500),
    "escape_title.json": _prediction(title=ESCAPE),
    "not_json.json": "{ this is not json",
    "bad_row.csv": "model,lab,benchmark,value,reported_by\nClaude Opus 4.6,Anthropic,hle,130,lab\n",
    "long_name.csv": f"model,lab,benchmark,value,reported_by\n{'m' * 300},Anthropic,hle,30,lab\n",
    "escape_name.csv": f"model,lab,benchmark,value,reported_by\n{ESCAPE},Anthropic,hle,30,lab\n",
    "nan_value.csv": "model,lab,benchmark,value,reported_by\nClaude Opus 4.6,Anthropic,hle,nan,lab\n",
    "file": "an existing file\n",
    "config_list.json": "[1, 2]",
}

CASES: list[Case] = [
    # --- the reliability probe (issue #16) ---
    C("export", "--out", "{tmp}/missing/x.csv", says="does not exist"),
    C("export", "--out", "{tmp}", says="is a folder"),
    C("export", "--out", "/proc", says="system path"),
    C("export", "--out", "/proc/x.csv", says="system path"),
    C("report", "--out", "{file}", says="is a file"),
    C("report", "--out", "/proc/report", says="system path"),
    C("predictions", "add", "{tmp}/bench_list.json", says="benchmark"),
    C("predictions", "add", "{tmp}/source_object.json", says="source must be"),
    C("predictions", "add", "{tmp}/nan_threshold.json", says="not a finite number"),
    C("predictions", "add", "{tmp}/long_key.json", says="500 characters"),
    C("predictions", "add", "{tmp}/escape_title.json", says="control character"),
    C(
        "models",
        "list",
        says="malformed database URL",
        env={"PHASEWATCH_DATABASE_URL": "postgresql+psycopg://postgres:S3cretPW@localhost:abc/db"},
    ),
    C(
        "models",
        "list",
        says="***",
        env={"PHASEWATCH_DATABASE_URL": "postgresql+psycopg//postgres:S3cretPW@localhost/db"},
    ),
    C("coverage", "lfo", "--cutoff", "2000-01", says="cutoff 2000-01 leaves 0 releases before"),
    C(*ADD, LONG, *REL, says="10,000 characters"),
    C("labs", "add", LONG, says="10,000 characters"),
    C("labs", "add", "New Lab", "--alias", LONG, says="10,000 characters"),
    C(*ADD, "X1", *REL, "--family", LONG, says="10,000 characters"),
    C(*ADD, "X1", *REL, "--tier", "T" * 51, says="at most 50"),
    C(*ADD, "X1", *REL, "--tier", ESCAPE, says="control character"),
    C("releases", "correct", "Claude Opus 4.6", "--reason", "r", "--tier", "T" * 51, says="at most 50"),
    C("releases", "correct", "Claude Opus 4.6", "--reason", "r", "--tier", "Opus", says="nothing to correct"),
    C(*ADD, "X1", *REL, "--open-weight", "--hf-repo", "org/x1", "--hf-revision", "r" * 500, says="500 characters"),
    C(*ADD, ESCAPE, *REL, says="control character"),
    C("labs", "add", ESCAPE, says="control character"),
    C("models", "alias", "add", "Claude Opus 4.6", ESCAPE, says="control character"),
    C("models", "list", "--kind", "huge", says="'huge' is not one of 'frontier', 'base'"),
    C("steer", "jobs", "list", "--status", "bogus", says="is not one of 'queued'"),
    C(*CLASSIFY, "--params-b", "inf", says="not a finite number"),
    C(*CLASSIFY, "--params-b", "abc", says="--params-b"),
    C("worker", "--device", "tpu", says="unknown --device"),
    C("worker", "--lease-seconds", "0", says="--lease-seconds"),
    C("worker", "--lease-seconds", "nan", says="--lease-seconds"),
    C("worker", "--poll-seconds", "-1", says="--poll-seconds"),
    C("steer", "run", "--model", "x", "--tqa-questions", "5000", says="--tqa-questions"),
    C("db", "downgrade", "base", says="not confirmed"),
    C("db", "downgrade", "0007", says="hub_repos"),
    # --- not found: exit 5 ---
    C("models", "show", "Claude Opus 9", code=5, says="unknown model"),
    C("models", "history", "Claude Opus 9", code=5, says="unknown model"),
    C("models", "alias", "add", "Claude Opus 9", "CO9", code=5, says="unknown model"),
    C("models", "list", "--lab", "Nowhere Labs", code=5, says="unknown lab"),
    C("models", "list", "--panel", "growing-pains", code=5, says="did you mean 'growing-pains-34'"),
    C("labs", "show", "Nowhere Labs", code=5, says="unknown lab"),
    C("labs", "hub", "set", "Nowhere Labs", "someorg", code=5, says="unknown lab"),
    C("releases", "list", "--lab", "Nowhere Labs", code=5, says="unknown lab"),
    C("releases", "check", "Claude Opus 9", code=5, says="unknown model"),
    C("releases", "correct", "Claude Opus 9", "--reason", "typo", "--date", "2026-01-01", code=5, says="unknown"),
    C(*ADD, "X1", "--lab", "Gogle", "--date", "2026-05-01", code=5, says="did you mean 'Google'"),
    C(*ADD, "X1", *REL, "--score", "mmlu_pr=80", code=5, says="unknown benchmark"),
    C("scores", "add", "Claude Opus 9", "hle=40", code=5, says="unknown model"),
    C("scores", "add", "Claude Opus 4.6", "nope=40", code=5, says="unknown benchmark"),
    C("panels", "show", "nope", code=5, says="unknown panel"),
    C("predictions", "show", "nope-1", code=5, says="nope-1"),
    C("steer", "jobs", "retry", "999", code=5, says="999"),
    C("fit", "--panel", "nope", code=5, says="unknown panel"),
    C("phase", "families", "--panel", "nope", code=5, says="unknown panel"),
    C("export", "--panel", "nope", code=5, says="unknown panel"),
    C("docs", "nope", code=5, says="nope"),
    # --- bad values: exit 2 ---
    C(*ADD, "X1", *REL, "--score", "gpqa_diamond=101", says="outside [0, 100]"),
    C(*ADD, "X1", *REL, "--score", "gpqa_diamond=nan", says="gpqa_diamond"),
    C(*ADD, "X1", *REL, "--score", "gpqa_diamond", says="gpqa_diamond"),
    C(*ADD, "X1", "--lab", "Google", "--date", "May 2026", says="malformed release date"),
    C(*ADD, "X1", "--lab", "Google", "--date", "2999-01-01", says="in the future"),
    C(*ADD, "Claude Opus 4.6", "--lab", "Anthropic", "--date", "2026-02-05", says="already exists"),
    C(*ADD, "X1", *REL, "--params-total-b", "1e9", says="params"),
    C(*ADD, "X1", *REL, "--params-total-b", "-5", says="params"),
    C(*ADD, "X1", *REL, "--open-weight", "--hf-repo", "not-a-repo", says="ORG/NAME"),
    C(*ADD, "X1", *REL, "--reported-by", "someone", says="'someone' is not one of 'lab'"),
    C(*ADD, "X1", *REL, "--kind", "huge", says="'huge' is not one of"),
    C(*ADD, "X1", *REL, "--source", "https://e.org/" + "a" * 3000, says="characters"),
    C(*ADD, "X1", *REL, "--score-setting", "gpqa_diamond=" + "s" * 11_000, says="characters"),
    C("releases", "correct", "Claude Opus 4.6", "--reason", "nothing", says="nothing to correct"),
    C("releases", "correct", "Claude Opus 4.6", "--reason", "x", "--params-total-b", "nan", says="not a finite"),
    C("releases", "list", "--since", "yesterday", says="--since"),
    C("scores", "add", "Claude Opus 4.6", "hle=140", says="outside [0, 100]"),
    C("scores", "add", "Claude Opus 4.6", "hle=nan", says="hle"),
    C("scores", "add", "Claude Opus 4.6", "hle=40", "--stderr", "inf", says="not a finite"),
    C("scores", "add", "Claude Opus 4.6", "hle=40", "--reported-by", "me", says="is not one of"),
    C("scores", "import", "/nonexistent/scores.csv", says="no such file"),
    C("scores", "import", "{tmp}/bad_row.csv", says="row 1: score 130"),
    C("scores", "import", "{tmp}/long_name.csv", says="300 characters"),
    C("scores", "import", "{tmp}/escape_name.csv", says="control character"),
    C("scores", "import", "{tmp}/nan_value.csv", says="nan"),
    C("scores", "import", "{tmp}", says="{tmp}"),
    C("predictions", "add", "{tmp}/not_json.json", says="JSON"),
    C("predictions", "add", "/nonexistent/p.json", says="/nonexistent/p.json"),
    C("predictions", "list", "--as-of", "2026-13-01", says="2026-13-01"),
    C("predictions", "grade", "--as-of", "soon", says="soon"),
    C("predictions", "score", "--as-of", "soon", says="soon"),
    C("predictions", "verify", "--checkpoint", "/nonexistent/c.json", says="/nonexistent/c.json"),
    C("predictions", "verify", "--checkpoint", "{tmp}/not_json.json", says="not valid JSON"),
    C("predictions", "head", "--out", "{tmp}", says="is a folder"),
    C("predictions", "head", "--out", "{tmp}/missing/c.json", says="does not exist"),
    C("saturation", "--as-of", "soon", says="soon"),
    C("labs", "add", "New Lab", "--alias", "Google", says="Google"),
    C("labs", "hub", "set", "Google", ESCAPE, says="control character"),
    C("benchmarks", "add", "swe_bench_verified", "--name", "x", "--category", "c", "--standard-setting", "s"),
    C("benchmarks", "add", "new_b", "--name", "x", "--category", "c", "--standard-setting", "s", "--url", LONG),
    C("panels", "freeze", "growing-pains-34", says="growing-pains-34"),
    C("panels", "freeze", "new-panel", "--from", "nope", says="nope"),
    C("panels", "show", "frontier", "--as-of", "soon", says="soon"),
    C("panels", "show", "frontier", "--prefer", "me,lab", says="me"),
    C("fit", "--draws", "10", says="--draws"),
    C("fit", "--chains", "1", says="--chains"),
    C("fit", "--target-accept", "2", says="--target-accept"),
    C("fit", "--target-accept", "nan", says="--target-accept"),
    C("fit", "--link", "probit", says="'probit' is not one of"),
    C("fit", "--pooling", "some", says="'some' is not one of"),
    C("fit", "--sampler", "stan", says="'stan' is not one of 'nutpie', 'pymc'"),
    C("fit", "--x", "nope", code=5, says="unknown benchmark"),
    C("coverage", "bogus", says="'bogus' is not one of 'loo', 'lfo', 'holdout'"),
    C("coverage", "lfo", "--cutoff", "soon", says="soon"),
    C("fits", "show", "abc", says="'fit_id'"),
    C("fits", "matrix", "--min-models", "abc", says="--min-models"),
    C("fits", "matrix", "--method", "bogus", says="'bogus' is not one of 'both', 'joint', 'pairwise'"),
    C("fits", "matrix", "--method", "joint", code=5, says="no joint coupling matrix is stored"),
    C("fit-matrix", "--panel", "growing-pains-34", says="fitted on the live panel, not 'growing-pains-34'"),
    C("fit-matrix", "--panel", "frontier@soon", says="soon"),
    C("fit-matrix", "--min-models", "3", says="--min-models"),
    C("fit-matrix", "--min-models", "100000", says="lower --min-models"),
    C("fit-matrix", "--draws", "10", says="--draws"),
    C("fit-matrix", "--chains", "1", says="--chains"),
    C("fit-matrix", "--target-accept", "2", says="--target-accept"),
    C("predict", "--lab", "Google", "--x-score", "inf", says="not a finite"),
    C("analyze", "--lab", "Google", "--x", "nan", "--y", "50", says="not a finite"),
    C("phase", "family", "Pythia-deduped", "--resamples", "-1", says="--resamples"),
    C("phase", "nc", "--families", "Nope", code=5, says="no family 'Nope'"),
    C("phase", "reproduce", "--seed", "abc", says="--seed"),
    C(*CLASSIFY, "--params-b", "7", "--d-model", "abc", says="--d-model"),
    C(*CLASSIFY, "--params-b", "-7", says="params"),
    C("steer", "run", "--model", "x", "--dtype", "int3", says="'int3' is not one of"),
    C("steer", "run", "--model", "x", "--method", "magic", says="'magic' is not one of"),
    C("steer", "run", "--model", "x", "--device", "tpu", says="unknown --device"),
    C("steer", "run", "--model", "x", "--config", "/nonexistent/c.json", says="/nonexistent/c.json"),
    C("steer", "run", "--model", "x", "--save-dir", "{file}", says="is a file"),
    C("steer", "run", "--model", "x", "--train-pairs", "1", says="--train-pairs"),
    C("steer", "jobs", "retry", "abc", says="'job_id'"),
    C("worker", "--heartbeat-seconds", "-1", says="--heartbeat-seconds"),
    C("worker", "--stalled-seconds", "inf", says="--stalled-seconds"),
    C("watch", "--every", "nan", says="--every"),
    C("watch", "--org", ESCAPE, says="control character"),
    C("init", "--format", "xml", says="--format"),
    C("db", "upgrade", "nope", says="nope"),
    C("db", "current", "--format", "yaml", says="--format"),
    C("doctor", "--format", "yaml", says="--format"),
    C("models", "nope", says="no such command 'nope'"),
    C("models", "show", says="missing argument 'name'"),
    C("releases", "add", "X1", says="missing option '--lab'"),
    C("nope", says="no such command 'nope'"),
    C("labs", "list", "--bogus", says="no such option: --bogus"),
    C("labs", "hub", "list", "extra", says="unexpected extra argument"),
    C("benchmarks", "list", "--format", "xml", says="--format must be table, json or csv"),
    C("fits", "list", "--json", "extra", says="unexpected extra argument"),
    C("fit-server", "stop", "now", says="unexpected extra argument"),
    C("fit-server", "status", "--format", "xml", says="--format"),
    C("server", "stop", "now", says="unexpected extra argument"),
    C("server", "status", "--format", "xml", says="--format"),
    C("panels", "list", "--json=yes", says="--json"),
    C("db", "downgrade", ESCAPE, says="control character"),
    C("db", "downgrade", "0042", says="0042"),
    C("--nope", says="no such option"),
]

# What a command needs besides the option under test (the bad value comes last, so it wins).
REQUIRED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("releases", "add"): ("X1", "--lab", "Google", "--date", "2026-05-01"),
    ("releases", "correct"): ("Claude Opus 4.6", "--reason", "r"),
    ("steer", "run"): ("--model", "x"),
    ("phase", "classify"): ("--params-b", "7", "--hellaswag", "50", "--truthfulqa", "40"),
    ("analyze",): ("--lab", "Google", "--x", "50", "--y", "50"),
    ("predict",): ("--lab", "Google", "--x-score", "50"),
    ("benchmarks", "add"): ("new_b", "--name", "x", "--category", "c", "--standard-setting", "s"),
    ("scores", "add"): ("Claude Opus 4.6", "hle=40"),
    ("coverage",): ("lfo",),
}

# Options whose every value is acceptable (flags, or text the command only stores or matches).
NO_BAD_VALUE = {"--help", "--version", "--install-completion", "--show-completion"}


def _bad_value(param: Any) -> tuple[str, str]:
    """A wrong value for ``param`` (by its declared type) and a phrase the error must hold
    (text gets a terminal escape, which the line must show escaped, beside the option's name)."""
    annotation = param.type_descriptor.annotation
    args = getattr(annotation, "__args__", ())
    inner = args[0] if args else annotation
    option = isinstance(param, TyperOption)
    if inner is int:
        return "abc", param.opts[0] if option else f"'{param.name}'"
    if inner is float:
        return "nan", param.opts[0] if option else f"'{param.name}'"
    if isinstance(inner, type) and issubclass(inner, Path):
        return "/proc/phasewatch-bad", "/proc/phasewatch-bad"
    if isinstance(inner, type) and issubclass(inner, str) and inner is not str:  # an enumeration
        return "bogus", "'bogus' is not one of"
    return ESCAPE, param.opts[0] if option else param.name.upper()


def _commands(command: Any = TREE, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _case(args: tuple[str, ...], param: Any) -> Case:
    value, says = _bad_value(param)
    if value == ESCAPE:
        return C(*args, value, says=repr(ESCAPE)[1:-1], also=(says,))
    return C(*args, value, says=says)


def _generated() -> list[Case]:
    """One case per option and argument that takes a value: its bad value, alone."""
    cases = []
    for path, command in _commands():
        params = [p for p in command.params if not getattr(p, "is_flag", False)]
        arguments = [p for p in params if isinstance(p, TyperArgument)]
        for param in params:
            if isinstance(param, TyperOption):
                if param.opts[0] in NO_BAD_VALUE:
                    continue
                cases.append(_case((*path, *REQUIRED.get(path, ()), param.opts[0]), param))
            else:
                position = arguments.index(param)
                before = ["Claude Opus 4.6" if a.name in ("name", "model") else "x" for a in arguments[:position]]
                cases.append(_case((*path, *before), param))
    return cases


ALL_CASES = CASES + _generated()


def _command_of(args: tuple[str, ...]) -> tuple[str, ...]:
    command, path = TREE, []
    for arg in args:
        if not isinstance(command, TyperGroup) or arg not in command.commands:
            break
        command, path = command.commands[arg], [*path, arg]
    return tuple(path)


def test_every_command_and_option_has_bad_input_cases() -> None:
    covered = {_command_of(case.args) for case in ALL_CASES}
    commands = dict(_commands())
    assert not set(commands) - covered, sorted(set(commands) - covered)
    for path, command in commands.items():
        options = {o for case in ALL_CASES if _command_of(case.args) == path for o in case.args if o.startswith("-")}
        missing = {
            p.opts[0]
            for p in command.params
            if isinstance(p, TyperOption) and not p.is_flag and p.opts[0] not in NO_BAD_VALUE
        } - options
        assert not missing, (path, sorted(missing))
    assert len(ALL_CASES) >= 160, len(ALL_CASES)


# --- the registries: one per backend, shared by every case (the dump shows nothing changed) ---


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])],
)
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("bad-input") / "registry.db"
        shutil.copy(request.getfixturevalue("seeded_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    from tests.conftest import _create_pg_database

    server = request.getfixturevalue("pg_server")
    yield f"{server}/{_create_pg_database(server, request.getfixturevalue('seeded_pg_template'))}"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-files")
    for name, content in FILES.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return folder


_engines: dict[str, Any] = {}


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order: equal dumps, equal databases."""
    from phasewatch.registry.schema import Base

    engine = _engines.setdefault(url, create_engine(url))
    with engine.connect() as conn:
        dumped = {}
        for name, table in [*Base.metadata.tables.items()]:
            key = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
            dumped[name] = [tuple(row) for row in conn.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY {key}')]
        dumped["alembic_version"] = [tuple(r) for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
        return dumped


_baseline: dict[str, dict[str, list[tuple[str, ...]]]] = {}


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in ALL_CASES])
def test_bad_input_is_one_line_with_its_exit_code_and_changes_nothing(
    case: Case, registry: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _baseline.setdefault(registry, dump(registry))
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", registry)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(files)
    args = [a.replace("{tmp}", str(files)).replace("{file}", str(files / "file")) for a in case.args]
    result = CliRunner().invoke(for_arguments(args), args)
    err = result.stderr
    lines = err.strip().splitlines()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == case.code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.says.replace("{tmp}", str(files)) in lines[0]
    assert all(phrase in lines[0] for phrase in case.also)
    assert "Traceback" not in err and "S3cretPW" not in err
    assert dump(registry) == before


def test_json_output_never_holds_nan(capsys: pytest.CaptureFixture[str]) -> None:
    """`labs compare --json` and every other JSON output: a NaN is null with a note (JSON has no NaN)."""
    from phasewatch.cli.common import print_json

    print_json({"labs": [{"lab": "A", "mean_h": float("nan"), "slope": 0.5}], "p": [float("inf")]})
    data = json.loads(capsys.readouterr().out)  # a strict parser: NaN would not parse back as null
    assert data["labs"][0]["mean_h"] is None and data["labs"][0]["mean_h_note"].startswith("NaN")
    assert data["labs"][0]["slope"] == 0.5 and data["p"] == [None]


def test_zero_byte_database_is_refused_and_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", f"sqlite:///{empty}")
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and "empty file" in result.stderr
    assert empty.stat().st_size == 0
