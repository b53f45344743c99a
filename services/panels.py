"""The panels' use cases: list and show the named, frozen panels; select the live
``frontier`` panel (as of a date, with a reporter precedence); freeze it into a panel.

Each function takes the engine, owns its one transaction and returns the registry's
typed records; ``phasewatch panels`` is these calls plus rendering.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasewatch.registry.db import transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.registry.frontier import LiveSelection
    from phasewatch.registry.queries import PanelSummary


def is_live(name: str) -> bool:
    """Whether ``name`` is the live panel (``frontier`` or ``frontier@YYYY-MM-DD``) rather than a frozen one."""
    from phasewatch.registry.frontier import is_live as live

    return live(name)


def list_panels(engine: Engine) -> tuple[PanelSummary, ...]:
    """Every frozen panel with its size, benchmarks and licence."""
    from phasewatch.registry.queries import list_panels as panels_of

    with transaction(engine) as session:
        return tuple(panels_of(session))


def show_panel(engine: Engine, name: str) -> PanelSummary:
    """One frozen panel: its description, source, licence and counts per benchmark and subset."""
    from phasewatch.registry.queries import show_panel as panel_of

    with transaction(engine) as session:
        return panel_of(session, name)


def live_panel(
    engine: Engine,
    name: str = "frontier",
    *,
    as_of: dt.date | None = None,
    prefer: str | None = None,
    benchmarks: tuple[str, ...] | None = None,
) -> LiveSelection:
    """The live panel: every value that enters and why, and every figure left out.

    ``as_of`` (default: the date in ``frontier@YYYY-MM-DD``, else everything held) limits
    it to what was known then; ``prefer`` is the reporter precedence (``third_party,lab``);
    ``benchmarks`` (any alias) keeps only those.
    """
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.frontier import live_as_of, parse_precedence, select_frontier

    day = as_of or live_as_of(name)
    with transaction(engine) as session:
        if benchmarks:
            benchmarks = tuple(Catalog(session).benchmark(b).key for b in benchmarks)
        return select_frontier(session, as_of=day, precedence=parse_precedence(prefer), benchmarks=benchmarks)


@dataclass(frozen=True)
class FrozenPanel:
    """A panel frozen from the live one: its name and what it holds."""

    panel: str
    models: int
    observations: int


def freeze(
    engine: Engine,
    name: str,
    *,
    source: str = "frontier",
    as_of: dt.date | None = None,
    prefer: str | None = None,
    description: str | None = None,
) -> FrozenPanel:
    """Snapshot the live panel ``source`` (as of ``as_of``, else its own date, else
    everything held) into the panel ``name``, which never changes after."""
    from phasewatch.registry.errors import InvalidInputError
    from phasewatch.registry.frontier import freeze_panel, live_as_of, parse_precedence

    if not is_live(source):
        raise InvalidInputError(
            f"cannot freeze from {source!r}", "use --from frontier (frozen panels are already frozen)"
        )
    day = as_of or live_as_of(source)
    with transaction(engine) as session:
        return FrozenPanel(
            *freeze_panel(session, name, as_of=day, precedence=parse_precedence(prefer), description=description)
        )
