"""Docs as tests: every ```console block in README.md and docs/*.md is a real run.

A block holds commands (``$ phasewatch …``, continued with a trailing ``\\``) each
followed by the output it prints. The commands of one document run in order on
one fresh registry (SQLite in a temporary folder, the clock pinned to
:data:`DOCS_TODAY`, 100 columns), as a reader following the page would.

How output is compared:

- trailing spaces are ignored; a line holding only ``…`` stands for any number of lines;
- in a block opened with ```console approx, every number is masked (for output that
  depends on a sampler run: the lines' shape and words must still match);
- otherwise the output must match exactly, numbers included.

``python -m tests.docs.examples --write`` reruns every document and rewrites the
outputs in place (keeping an elided output's first lines and its ``…``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS_TODAY = "2026-12-01"
COLUMNS = "100"
ELISION = "…"
FENCE = re.compile(r"^```console(?P<options>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?")


@dataclass
class Example:
    """One command and the output the document shows for it."""

    command: str
    expected: list[str]
    approx: bool


@dataclass
class Block:
    start: int  # offset of the block's body in the document
    end: int
    approx: bool
    examples: list[Example] = field(default_factory=list)


def documents() -> list[Path]:
    """README.md and every page under docs/ that has a console block."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in pages if "```console" in p.read_text(encoding="utf-8")]


def parse(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        approx = "approx" in match.group("options").split()
        block = Block(match.start("body"), match.end("body"), approx)
        lines = match.group("body").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                raise ValueError(f"console block line {line!r} is not under a `$ ` command")
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command + "\n" + lines[i]
            i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            block.examples.append(Example(command, expected, approx))
        blocks.append(block)
    return blocks


def environment(workdir: Path) -> dict[str, str]:
    """A reader's shell: the project's venv first on PATH, a fresh registry, a pinned clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHASEWATCH_", "COLUMNS", "LINES"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        XDG_DATA_HOME=str(workdir / "data"),
        PHASEWATCH_TODAY=DOCS_TODAY,
        PHASEWATCH_SERVER_IDLE="60",  # a reader's command server, gone soon after the examples
        COLUMNS=COLUMNS,
        LINES="50",
        TERM="dumb",
        NO_COLOR="1",
    )
    return env


def run(command: str, workdir: Path, env: dict[str, str]) -> list[str]:
    """Run one shown command in bash; stdout and stderr together, as a terminal shows them."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    text = done.stdout
    return [line.rstrip() for line in text.replace(str(workdir), "<workdir>").splitlines()]


def normalise(line: str, approx: bool) -> str:
    line = line.rstrip()
    return NUMBER.sub("#", line) if approx else line


def matches(expected: list[str], actual: list[str], approx: bool) -> bool:
    """Does ``actual`` fit ``expected``, where a ``…`` line matches any run of lines?"""
    want = [normalise(line, approx) for line in expected]
    got = [normalise(line, approx) for line in actual]

    def fit(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i].strip() == ELISION:
            return any(fit(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and want[i] == got[j] and fit(i + 1, j + 1)

    return fit(0, 0)


def rendered(expected: list[str], actual: list[str]) -> list[str]:
    """The output to write back: all of it, or its first lines and ``…`` if the page elided it."""
    if expected and expected[-1].strip() == ELISION:
        keep = len(expected) - 1
        return [*actual[:keep], ELISION] if len(actual) > keep else actual
    return actual


@dataclass
class Mismatch:
    document: str
    command: str
    expected: list[str]
    actual: list[str]

    def __str__(self) -> str:
        return (
            f"{self.document}: `{self.command}` printed\n"
            + "\n".join(self.actual)
            + "\n--- but the page shows ---\n"
            + "\n".join(self.expected)
        )


def check_document(path: Path, *, write: bool = False) -> list[Mismatch]:
    """Run every example of one document in order on a fresh registry."""
    text = path.read_text(encoding="utf-8")
    blocks = parse(text)
    mismatches = []
    with tempfile.TemporaryDirectory(prefix="phasewatch-docs-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir)
        first = blocks[0].examples[0].command if blocks and blocks[0].examples else ""
        if not first.startswith("phasewatch init"):
            run("phasewatch init", workdir, env)
        new_bodies = []
        for block in blocks:
            body = []
            for example in block.examples:
                actual = run(example.command, workdir, env)
                if not matches(example.expected, actual, example.approx):
                    mismatches.append(Mismatch(path.name, example.command, example.expected, actual))
                body += [f"$ {example.command}", *rendered(example.expected, actual)]
            new_bodies.append("\n".join(body) + "\n")
    if write and mismatches:
        for block, body in sorted(zip(blocks, new_bodies, strict=True), key=lambda p: -p[0].start):
            text = text[: block.start] + body + text[block.end :]
        path.write_text(text, encoding="utf-8")
    return mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the outputs shown in the documents")
    parser.add_argument("pages", nargs="*", type=Path, help="only these documents")
    args = parser.parse_args()
    failed = 0
    for path in args.pages or documents():
        mismatches = check_document(path.resolve(), write=args.write)
        failed += len(mismatches)
        verb = "rewrote" if args.write else "differ"
        print(f"{path.name}: {len(mismatches)} example(s) {verb}" if mismatches else f"{path.name}: all examples match")
        if not args.write:
            for mismatch in mismatches:
                print(mismatch, end="\n\n")
    sys.exit(1 if failed and not args.write else 0)


if __name__ == "__main__":
    main()
