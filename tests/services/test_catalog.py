"""The catalogue's use cases called from Python (no CLI): queries return what is stored,
registrations write their row, and a refused one writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.releases import Correction
from phasewatch.registry.schema import Benchmark, Lab, Model, Observation
from phasewatch.services import catalog
from phasewatch.services.releases import correct_release
from tests.helpers import table_counts

CLOCK = FrozenClock(dt.datetime(2026, 12, 1, 12, 0))


def _lab_models(engine: Engine, lab: str) -> set[str]:
    with transaction(engine) as session:
        return set(session.scalars(select(Model.name).join(Lab, Model.lab_id == Lab.id).where(Lab.name == lab)))


def test_list_models_filters_and_pages_as_stored(engine: Engine) -> None:
    stored = _lab_models(engine, "Anthropic")
    assert len(stored) > 3
    page = catalog.list_models(engine, catalog.ModelFilter(lab="Anthropic"))
    assert {r.name for r in page.rows} == stored and page.total == len(stored) and page.remaining == 0
    assert all(r.lab == "Anthropic" for r in page.rows)
    dates = [r.release_date or "" for r in page.rows]
    assert dates == sorted(dates)  # oldest release first
    second = catalog.list_models(engine, catalog.ModelFilter(lab="Anthropic", limit=2, offset=2))
    assert [r.name for r in second.rows] == [r.name for r in page.rows[2:4]]
    assert (second.total, second.remaining) == (len(stored), len(stored) - 4)
    with pytest.raises(InvalidInputError, match="--limit"):
        catalog.list_models(engine, catalog.ModelFilter(limit=-1))


def test_show_model_returns_every_stored_observation(engine: Engine) -> None:
    with transaction(engine) as session:
        name = session.scalar(select(Model.name).where(Model.open_weight.is_(False)).order_by(Model.id))
        assert name is not None
        count = session.scalar(select(func.count()).select_from(Observation).join(Model).where(Model.name == name))
    detail = catalog.show_model(engine, name)
    assert detail.name == name and len(detail.observations) == count
    with pytest.raises(NotFoundError, match="unknown model"):
        catalog.show_model(engine, "No Such Model 9")


def test_an_alias_is_written_and_resolves_and_a_taken_name_writes_nothing(engine: Engine) -> None:
    first, second = sorted(_lab_models(engine, "OpenAI"))[:2]
    assert catalog.add_alias(engine, first, "The First One") == first
    assert catalog.show_model(engine, "the first one").name == first
    before = table_counts(engine)
    with pytest.raises(ConflictError):
        catalog.add_alias(engine, first, second)  # another model's name
    assert table_counts(engine) == before


def test_history_lists_the_corrections_with_old_and_new_values(engine: Engine) -> None:
    name = sorted(_lab_models(engine, "OpenAI"))[0]
    assert catalog.model_history(engine, name) == ()
    correct_release(engine, CLOCK, name, Correction(open_weight=True, reason="weights published"))
    (entry,) = catalog.model_history(engine, name)
    assert (entry.field, entry.new, entry.reason) == ("open_weight", "yes", "weights published")
    assert entry.old != entry.new


def test_a_benchmark_is_registered_and_a_malformed_or_taken_key_writes_nothing(engine: Engine) -> None:
    spec = catalog.BenchmarkSpec("my_bench", "My bench", "coding", "pass@1, no tools", nonstandard=("with tools",))
    assert catalog.add_benchmark(engine, spec) == "my_bench"
    listed = {b.key: b for b in catalog.list_benchmarks(engine)}
    assert listed["my_bench"].standard_setting == "pass@1, no tools" and listed["my_bench"].observations == 0
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Benchmark)) == len(listed)
    before = table_counts(engine)
    with pytest.raises(InvalidInputError, match="malformed benchmark key"):
        catalog.add_benchmark(engine, catalog.BenchmarkSpec("Bad Key", "x", "coding", "y"))
    with pytest.raises(ConflictError, match="already exists"):
        catalog.add_benchmark(engine, catalog.BenchmarkSpec("my_bench", "x", "coding", "y"))
    assert table_counts(engine) == before


def test_an_export_imports_back_as_already_present_and_a_bad_row_imports_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    text = catalog.export_observations(engine, "csv", "growing-pains-34")
    rows = text.splitlines()
    with transaction(engine) as session:
        held = session.scalar(select(func.count()).select_from(Observation))
    assert 1 < len(rows) <= held + 1  # a header, then one line per observation of the panel
    path = tmp_path / "panel.csv"
    path.write_text(text, encoding="utf-8")
    before = table_counts(engine)
    result = catalog.import_scores(engine, CLOCK, path)
    assert (result.rows, result.new_observations, result.new_models) == (len(rows) - 1, 0, 0)
    assert table_counts(engine) == before
    header, first, *rest = rows
    bad = tmp_path / "bad.csv"
    value = header.split(",").index("value")
    cells = first.split(",")
    cells[value] = "130"  # out of range, in the first row
    bad.write_text("\n".join([header, ",".join(cells), *rest]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="row 1"):
        catalog.import_scores(engine, CLOCK, bad)
    assert table_counts(engine) == before
    with pytest.raises(InvalidInputError, match="unknown export format"):
        catalog.export_observations(engine, "xml")
