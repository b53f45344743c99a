"""Option values coerced without pydantic (cli/coercion.py) give what Typer's own pydantic
coercion gives, value for value and message for message, on every option of the app."""

from __future__ import annotations

import subprocess
import sys
from enum import Enum
from typing import Any

import pytest
from typer._click.core import Command, Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param as typer_runtime_param
from typer.core import TyperArgument, TyperOption
from typer.main import get_command

from phasewatch.cli import coercion
from phasewatch.cli.app import app, for_arguments

TEXTS = ["x", "", " 5", "5", "-1", "+7", "007", "1_000", "1.5", "-2.5e-3", "1e3", ".5", "5.", "inf", "nan", "abc", "٣"]


def _parameters() -> list[tuple[str, Command, Any]]:
    found = []

    def walk(command: Command, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        for param in command.params:
            if isinstance(param, TyperOption | TyperArgument):
                found.append((" ".join([*path, param.name or ""]), command, param))

    walk(get_command(app), [])
    return found


def _samples(param: Any) -> list[Any]:
    descriptor = param.type_descriptor
    values: list[Any] = [True, False] if descriptor.annotation is bool else list(TEXTS)
    for choice in descriptor.choices or ():
        text = choice.value if isinstance(choice, Enum) else str(choice)
        values += [text, text.upper(), choice]
    info = descriptor.parameter_info
    for bound in (info.min, info.max):
        if bound is not None:
            values += [str(bound), str(bound - 1), str(bound + 1), bound]
    if param.multiple or param.nargs == -1:
        return [tuple(values[i : i + 3]) for i in range(0, len(values), 3)]
    return values


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        result = runtime._coerce_value(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    return "value", (type(result).__name__, repr(result))  # repr: nan equals nan


@pytest.mark.parametrize(("where", "command", "param"), _parameters(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_option_coerces_as_typer_does(where: str, command: Command, param: Any) -> None:
    ctx = Context(command)
    ours, theirs = coercion.runtime_param(param.type_descriptor), typer_runtime_param(param.type_descriptor)
    for value in _samples(param):
        assert _outcome(ours, value, param, ctx) == _outcome(theirs, value, param, ctx), (where, value)


def test_plain_values_never_build_a_pydantic_adapter() -> None:
    command = get_command(app).commands["models"].commands["list"]  # type: ignore[attr-defined]
    ctx = Context(command)
    by_name = {p.name: p for p in command.params}
    plain = {"limit": "25", "offset": "-0", "kind": "FRONTIER", "lab": "Google", "json_": True}
    for name, value in plain.items():
        runtime = coercion.runtime_param(by_name[name].type_descriptor)
        assert isinstance(runtime, coercion.PlainRuntimeParam), name
        runtime._coerce_value(value, param=by_name[name], ctx=ctx)
        assert runtime._typer == [], name  # coerced here, without Typer's adapter
    limit = coercion.runtime_param(by_name["limit"].type_descriptor)
    with pytest.raises(BadParameter, match="valid integer"):
        limit._coerce_value("ten", param=by_name["limit"], ctx=ctx)
    assert len(limit._typer) == 1  # an error is worded by Typer's adapter


@pytest.mark.parametrize(
    ("argv", "group"),
    [(["releases", "add", "X"], "releases"), (["fit-matrix"], "fit-matrix"), (["labs", "hub"], "labs")],
)
def test_a_command_builds_only_its_own_group(argv: list[str], group: str) -> None:
    lean = get_command(for_arguments(argv))
    assert list(lean.commands) == [group]  # type: ignore[attr-defined]
    assert get_command(app).commands[group].name == lean.commands[group].name  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["relases", "add"], ["-x"]])
def test_help_versions_and_typos_get_the_whole_tree(argv: list[str]) -> None:
    assert for_arguments(argv) is app


def test_a_registry_command_imports_no_pydantic(cli_env: str) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['phasewatch', 'models', 'list', '--limit', '3', '--kind', 'frontier', '--json']\n"
        "try:\n    runpy.run_module('phasewatch.cli', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
        "print('PYDANTIC', 'pydantic' in sys.modules, code, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "PYDANTIC False 0" in done.stderr, done.stderr[-500:]
    assert done.stdout.count('"name"') == 3
