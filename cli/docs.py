"""``phasewatch docs``: the project's documents, installed with the package.

The README links to these pages; on a machine without the repository (an installed
wheel, a package index page whose relative links lead nowhere) the same text is here.
"""

from __future__ import annotations

import typer

from phasewatch.cli.common import checked
from phasewatch.registry.errors import NotFoundError


def _pages() -> dict[str, str]:
    from importlib.resources import files

    root = files("phasewatch.docs")
    return {
        p.name.removesuffix(".md").lower(): p.read_text(encoding="utf-8")
        for p in root.iterdir()
        if p.name.endswith(".md")
    }


def docs(
    topic: str | None = typer.Argument(
        None, callback=checked("KEY"), help="A page name, e.g. coupling (default: list the pages)."
    ),
) -> None:
    """Print one of the project's documents (the pages README.md links to), or list them."""
    pages = _pages()
    if topic is None:
        for name in sorted(pages):
            first = next((line.lstrip("# ").strip() for line in pages[name].splitlines() if line.strip()), "")
            print(f"{name:<14} {first}")
        return
    key = topic.lower().removesuffix(".md")
    if key not in pages:
        raise NotFoundError(f"no document {topic!r}", f"choose one of: {', '.join(sorted(pages))}")
    print(pages[key], end="")
