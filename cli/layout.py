"""Tables of sentences (the long-text tables of `labs show` and `phase`).

``common.table`` pins each column's minimum to its longest word; when rich must then shrink the
table to the terminal it can end one column wider than the screen and crop the right border.
Sentences wrap between words anyway, so these tables give rich no minimums and fit exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from phasewatch.cli.common import console, fmt


def prose_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table whose cells wrap between words and never exceed the terminal."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_header=any(columns))
    for column in columns:
        grid.add_column(column.replace("_", " "), overflow="ellipsis")
    for row in rows:
        grid.add_row(*(fmt(v) for v in row))
    console().print(grid)
