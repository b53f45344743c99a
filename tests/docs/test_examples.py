"""The sample outputs in README.md and docs/ are what the program prints today."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.examples import ELISION, ROOT, check_document, documents, matches, parse


def test_matching_rules() -> None:
    assert matches(["a 1", ELISION, "z"], ["a 1", "b", "c", "z"], approx=False)
    assert not matches(["a 1", "z"], ["a 2", "z"], approx=False)
    assert matches(["a 1.5 [0.2, 3]"], ["a 7.25 [1.0, 9]"], approx=True)
    assert not matches(["a 1.5"], ["b 1.5"], approx=True)
    assert not matches(["a", ELISION], [], approx=False)


def test_parse_reads_commands_continuations_and_outputs() -> None:
    text = "x\n```console approx\n$ phasewatch a \\\n    --b\nout 1\n$ phasewatch c\n```\n"
    (block,) = parse(text)
    assert block.approx
    assert [(e.command, e.expected) for e in block.examples] == [
        ("phasewatch a \\\n    --b", ["out 1"]),
        ("phasewatch c", []),
    ]


def test_readme_has_examples() -> None:
    assert ROOT / "README.md" in documents()


@pytest.mark.slow
@pytest.mark.parametrize("page", documents(), ids=lambda p: p.name)
def test_examples_match_a_real_run(page: Path) -> None:
    mismatches = check_document(page)
    assert not mismatches, (
        "\n\n".join(map(str, mismatches)) + "\n\n(refresh with `python -m tests.docs.examples --write`)"
    )
