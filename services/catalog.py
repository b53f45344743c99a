"""The catalogue's use cases: list and show models, their correction history and aliases,
the benchmark vocabulary, and moving observations in and out (``scores import``, ``export``).

Each function takes the engine (and the clock where "today" matters), owns its one
transaction and returns the registry's typed records; ``phasewatch models``,
``benchmarks``, ``scores import`` and ``export`` are these calls plus rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasewatch.registry.db import transaction

if TYPE_CHECKING:  # the records' modules are imported by the calls that return them
    from pathlib import Path

    from sqlalchemy import Engine

    from phasewatch.registry.clock import Clock
    from phasewatch.registry.io import ImportResult
    from phasewatch.registry.queries import BenchmarkRow, ModelDetail, ModelPage
    from phasewatch.registry.releases import HistoryEntry


@dataclass(frozen=True)
class ModelFilter:
    """Which models ``models list`` shows (every field optional), and which page of them."""

    lab: str | None = None
    panel: str | None = None
    open_weight: bool | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None
    limit: int | None = None  # None: every matching model
    offset: int = 0


def list_models(engine: Engine, where: ModelFilter = ModelFilter()) -> ModelPage:
    """One page of the models matching ``where``, oldest release first, with their scores."""
    from phasewatch.registry.queries import page_models

    with transaction(engine) as session:
        return page_models(
            session,
            lab=where.lab,
            panel=where.panel,
            open_weight=where.open_weight,
            since=where.since,
            until=where.until,
            kind=where.kind,
            limit=where.limit,
            offset=where.offset,
        )


def show_model(engine: Engine, name: str) -> ModelDetail:
    """A model (any alias) with every observation and its source, conflicts and steering runs."""
    from phasewatch.registry.queries import show_model as detail_of

    with transaction(engine) as session:
        return detail_of(session, name)


def model_history(engine: Engine, name: str) -> tuple[HistoryEntry, ...]:
    """Every correction of a model, oldest first, with the old and new values."""
    from phasewatch.registry.releases import model_history as history_of

    with transaction(engine) as session:
        return tuple(history_of(session, name))


def add_alias(engine: Engine, name: str, alias: str) -> str:
    """Record ``alias`` as another name of the model ``name``; returns the model's name."""
    from phasewatch.registry.releases import add_alias as record_alias

    with transaction(engine) as session:
        return record_alias(session, name, alias)


def list_benchmarks(engine: Engine) -> tuple[BenchmarkRow, ...]:
    """Every benchmark key with its category, version, standard setting and observation count."""
    from phasewatch.registry.queries import list_benchmarks as benchmarks_of

    with transaction(engine) as session:
        return tuple(benchmarks_of(session))


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark to register: its key, what it is, and the setting the live panel accepts."""

    key: str
    name: str
    category: str
    standard_setting: str
    version: str | None = None
    url: str | None = None
    description: str | None = None
    nonstandard: tuple[str, ...] = ()


def add_benchmark(engine: Engine, spec: BenchmarkSpec) -> str:
    """Register a benchmark; returns its key (a malformed or taken key writes nothing)."""
    from phasewatch.registry.catalog import register_benchmark

    with transaction(engine) as session:
        return register_benchmark(
            session,
            spec.key,
            name=spec.name,
            category=spec.category,
            version=spec.version,
            url=spec.url,
            description=spec.description,
            standard_setting=spec.standard_setting,
            nonstandard=spec.nonstandard,
        )


def import_scores(engine: Engine, clock: Clock, path: Path) -> ImportResult:
    """Import an export file (CSV or JSON) in one transaction: a file with any bad row
    imports nothing and names the row. The file's type and outline are checked before
    the transaction opens."""
    from phasewatch.registry.io import import_rows, read_rows

    rows = read_rows(path)
    with transaction(engine) as session:
        return import_rows(session, rows, today=clock.today())


def export_observations(engine: Engine, export_format: str, panel: str | None = None) -> str:
    """Every observation (or one panel's) with its model's metadata, as CSV or JSON text
    that ``scores import`` reads back. An unknown format is refused before any read."""
    from phasewatch.registry.io import check_format, export_rows, render_export

    check_format(export_format)
    with transaction(engine) as session:
        return render_export(export_rows(session, panel), export_format, panel=panel)
