"""The floors of docs/architecture.md: which package may import which.

Every import is checked, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> the phasewatch packages its modules may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "registry": {"models", "migrations"},
    "migrations": set(),  # the bottom floor: revisions never change meaning with the code above them
    "services": {"registry", "models", "migrations"},
    "dashboard": {"registry", "models", "services"},
    "cli": {"registry", "models", "services", "dashboard", "migrations"},
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "phasewatch" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(p for p in ALLOWED if (ROOT / p).is_dir()))
def test_imports_follow_the_floors(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    wrong = {
        f"{path.relative_to(ROOT)} imports phasewatch.{target}"
        for path in _modules(package)
        for target in _imported_packages(path) - allowed
    }
    assert not wrong, sorted(wrong)


def test_the_science_has_no_database_or_plotting() -> None:
    banned = ("sqlalchemy", "alembic", "typer", "rich")
    offenders = []
    for path in _modules("models"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in banned]
    assert not offenders, offenders


def _third_party_imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


def test_the_registry_runs_no_jobs() -> None:
    """registry/ holds the schema and Session-level operations: no torch, no engine worker, no
    processes, threads or signals (running jobs is services/)."""
    banned = {"torch", "transformers", "procrastinate", "multiprocessing", "subprocess", "signal", "threading"}
    offenders = [f"{path}: {name}" for path, name in _third_party_imports("registry") if name in banned]
    assert not offenders, offenders


def test_migrations_import_only_alembic_sqlalchemy_and_the_engine_schema() -> None:
    """A revision must mean the same thing whatever the code above it becomes: the standard
    library, Alembic, SQLAlchemy and Procrastinate's shipped schema, nothing of phasewatch."""
    allowed = {"alembic", "sqlalchemy", "procrastinate"} | set(sys.stdlib_module_names) | {"__future__"}
    offenders = [f"{path}: {name}" for path, name in _third_party_imports("migrations") if name not in allowed]
    assert not offenders, offenders


# --- cli/: parse, one service call, render (issue #11) -------------------------------------------

# Registry modules a command may import whole: what it needs to parse options and render
# results (errors it raises or names, enumerations for choices, the input contract, the clock
# of an entry point, dates to parse).
CLI_REGISTRY_MODULES = {"errors", "enums", "validation", "clock", "dates"}
# Names from other registry modules that are parsing, not operations: a service's request
# types with their parsers, and an option's default.
CLI_REGISTRY_NAMES: dict[str, set[str]] = {
    "releases": {"ReleaseRequest", "Correction", "parse_score", "scores_with_provenance"},
    "predictions": {"DEFAULT_PANELS"},
    "fits": {"StoredFit", "typed_result"},  # a just-stored fit as the typed record it renders (no database)
    "queries": {"as_dict"},  # records to JSON
    "philosophy": {"MIN_RELEASES_TO_RANK"},  # the rule a footnote states
}
# cli/common.py opens the engine each command hands its service (registry_engine).
CLI_COMMON = "cli/common.py"
CLI_COMMON_NAMES = {"db": {"open_registry"}}
# What opening a session or a transaction looks like in a command.
SESSION_CALLS = {
    "registry_session",
    "transaction",
    "read_transaction",
    "write_transaction",
    "Session",
    "sessionmaker",
}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def cli_violations(source: str, where: str) -> list[str]:
    """What in one cli module bypasses the services: a session or transaction opened, or an
    operation imported from the registry beyond the parse-and-render allow-list."""
    tree = ast.parse(source)
    typing_only = _type_checking_nodes(tree)
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in SESSION_CALLS and where != CLI_COMMON:
                wrong.append(f"{where}:{node.lineno} opens a session itself ({name}); call a service instead")
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "sqlalchemy" and where != CLI_COMMON:
                wrong.append(f"{where}:{node.lineno} imports {node.module}; the service owns the database")
            if parts[:2] != ["phasewatch", "registry"]:
                continue
            if len(parts) == 2:  # from phasewatch.registry import <module>
                pairs = [(alias.name, None) for alias in node.names]
            else:
                pairs = [(parts[2], alias.name) for alias in node.names]
            for module, name in pairs:
                if module in CLI_REGISTRY_MODULES:
                    continue
                allowed = CLI_REGISTRY_NAMES.get(module, set())
                if where == CLI_COMMON:
                    allowed = allowed | CLI_COMMON_NAMES.get(module, set())
                if name is None or name not in allowed:
                    wrong.append(
                        f"{where}:{node.lineno} imports phasewatch.registry.{module}"
                        + (f".{name}" if name else "")
                        + "; commands reach the registry through services/"
                    )
        elif isinstance(node, ast.Import):
            wrong += [
                f"{where}:{node.lineno} imports {alias.name}"
                for alias in node.names
                if alias.name.startswith(("phasewatch.registry.", "sqlalchemy")) and where != CLI_COMMON
            ]
    return wrong


def test_cli_commands_call_services_not_the_registry() -> None:
    """Every command is parse -> one service call -> render: no cli module opens a session or a
    transaction, and none imports a registry operation (only errors, enums, validation, the clock,
    dates and a service's request types)."""
    wrong = []
    for path in _modules("cli"):
        where = str(path.relative_to(ROOT))
        wrong += cli_violations(path.read_text(encoding="utf-8"), where)
    assert not wrong, wrong


def test_the_cli_guard_catches_a_command_that_opens_a_session() -> None:
    """The guard above fails on what it is there to stop (so its passing means something)."""
    command = (
        "from phasewatch.cli.common import registry_session\n"
        "from phasewatch.registry.queries import list_models\n"
        "def list_():\n"
        "    with registry_session() as session:\n"
        "        return list_models(session)\n"
    )
    found = cli_violations(command, "cli/example.py")
    assert any("opens a session itself (registry_session)" in w for w in found), found
    assert any("phasewatch.registry.queries" in w for w in found), found
    engine = "from phasewatch.registry.db import open_registry, transaction\nwith transaction(open_registry()): pass\n"
    assert len(cli_violations(engine, "cli/example.py")) == 3  # two names imported from db, and the transaction
    parse_only = "from phasewatch.registry.releases import parse_score\nfrom phasewatch.registry import enums\n"
    assert cli_violations(parse_only, "cli/example.py") == []


def test_no_command_helper_opens_a_session() -> None:
    """Every command is on a service: cli/common.py offers the engine, never a session."""
    assert "def registry_session" not in (ROOT / CLI_COMMON).read_text(encoding="utf-8")
