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
