"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every registry table: equal before and after means nothing was written."""
    from phasewatch.registry.schema import Base

    with engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in Base.metadata.tables}


def source_path(*parts: str) -> Path:
    """A bundled source file, read independently of the loader under test."""
    return Path(__file__).resolve().parents[1] / "registry" / "data" / "sources" / Path(*parts)
