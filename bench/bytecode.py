"""How the timed processes load phasewatch's own code (imported by the bench scripts).

An installed phasewatch runs from cached bytecode (``pip install`` compiles a wheel's
modules; an editable install writes ``__pycache__`` on its first run). A shell with
``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` yet instead compiles every module
phasewatch imports from source in every process, a few tenths of a second per command
on this machine. The bench scripts compile the project first (:func:`compile_project`)
and time the other way side by side (:func:`from_source`) so the two are never confused.
"""

from __future__ import annotations

import compileall
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "dashboard", "migrations", "models", "registry", "services")


def compile_project() -> None:
    """Write the bytecode of every phasewatch module, as installing the package does."""
    for package in PACKAGES:
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"could not compile {ROOT / package}")


def cached(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process that reads the cached bytecode (and may write it)."""
    return {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}


@contextmanager
def from_source(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """While open, phasewatch's ``__pycache__`` folders are moved aside and the ``env`` it
    yields keeps processes from writing them: each compiles the project from source.
    Nothing else may import phasewatch meanwhile; the folders are put back on exit."""
    aside = Path(tempfile.mkdtemp(prefix="phasewatch-pycache-"))
    moved: list[tuple[Path, Path]] = []
    try:
        for i, folder in enumerate(sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("__pycache__"))):
            target = aside / str(i)
            shutil.move(folder, target)
            moved.append((folder, target))
        yield {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    finally:
        for folder, target in moved:
            if folder.exists():
                shutil.rmtree(folder)
            shutil.move(target, folder)
        shutil.rmtree(aside, ignore_errors=True)
