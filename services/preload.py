"""What a long-lived process imports and sets up once, before it forks a child per
command (:mod:`phasewatch.cli.command_server`): the registry, its ORM mapping configured,
and the use cases registry commands call. No heavy library (pymc, arviz, torch,
transformers, pandas) is among them: a command that needs one imports it in its child."""

from __future__ import annotations

import importlib

MODULES = (
    "sqlite3",  # the default registry's driver and SQLAlchemy's dialect for it (~12 ms per command)
    "sqlalchemy.dialects.sqlite",
    "phasewatch.migrations",  # the schema check of every command
    "numpy.random",  # a release's verdict draws from the stored posterior (~20 ms with numpy.ma)
    "numpy.ma",
    "phasewatch.registry.db",
    "phasewatch.registry.schema",
    "phasewatch.registry.queries",
    "phasewatch.registry.releases",
    "phasewatch.registry.predictions",
    "phasewatch.registry.grading_inputs",
    "phasewatch.services.releases",
    "phasewatch.services.grading",
    "phasewatch.services.catalog",
    "phasewatch.models.coupling",
)


def preload() -> None:
    """Import :data:`MODULES` and configure the ORM mappers (otherwise done by each
    process's first query, ~0.05 s)."""
    for name in MODULES:
        importlib.import_module(name)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
