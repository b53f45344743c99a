"""``phasewatch docs`` serves the pages the README links to."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from phasewatch.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def test_lists_every_page_and_prints_one() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["docs"])
    assert listing.exit_code == 0
    names = {line.split()[0] for line in listing.output.splitlines()}
    assert names == {p.stem.lower() for p in (ROOT / "docs").glob("*.md")}
    page = runner.invoke(app, ["docs", "coupling"])
    assert page.output == (ROOT / "docs" / "coupling.md").read_text(encoding="utf-8")


def test_unknown_page_is_one_line_and_exit_5() -> None:
    result = CliRunner().invoke(app, ["docs", "nope"])
    assert result.exit_code == 5  # not found
    assert result.output.count("\n") == 1 and result.output.startswith("error: no document 'nope'")
