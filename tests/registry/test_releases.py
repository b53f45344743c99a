"""Logging releases: valid ones are stored whole, bad ones change nothing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.catalog import Catalog
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError, PhasewatchError
from phasewatch.registry.queries import show_model
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release, parse_score
from phasewatch.registry.schema import Model, ModelName
from tests.helpers import table_counts

TODAY = dt.date(2026, 11, 23)


def _request(**changes: object) -> ReleaseRequest:
    fields: dict[str, object] = {
        "name": "Gemini 3.5 Pro",
        "lab": "Google DeepMind",
        "date": "2026-06-10",
        "scores": (ScoreInput("swe_bench_verified", 83.1), ScoreInput("gpqa_diamond", 95.0)),
        "source_url": "https://example.org/gemini-3-5",
    }
    fields.update(changes)
    return ReleaseRequest(**fields)  # type: ignore[arg-type]


def test_release_is_stored_with_its_scores_and_provenance(engine: Engine) -> None:
    with transaction(engine) as session:
        result = add_release(session, _request(open_weight=True, hf_repo="google/gemini-3.5"), today=TODAY)
    assert result.lab == "Google" and result.release_date == "2026-06-10"
    with transaction(engine) as session:
        detail = show_model(session, "gemini 3.5 pro")
    assert detail.hf_repo == "google/gemini-3.5" and detail.open_weight is True
    assert {(o.benchmark, o.value, o.reported_by, o.retrieved_on) for o in detail.observations} == {
        ("swe_bench_verified", 83.1, "lab", "2026-11-23"),
        ("gpqa_diamond", 95.0, "lab", "2026-11-23"),
    }
    assert all(o.source_url == "https://example.org/gemini-3-5" for o in detail.observations)


def test_year_precise_release_stays_a_year(engine: Engine) -> None:
    with transaction(engine) as session:
        add_release(session, _request(date="2026", scores=()), today=TODAY)
        detail = show_model(session, "Gemini 3.5 Pro")
    assert (detail.release_date, detail.release_date_precision) == ("2026", "year")


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"lab": "Gogle"}, NotFoundError, "did you mean 'Google'"),
        ({"scores": (ScoreInput("swe_bench_verifed", 80.0),)}, NotFoundError, "did you mean 'swe_bench_verified'"),
        ({"scores": (ScoreInput("gpqa_diamond", 100.5),)}, InvalidInputError, r"outside \[0, 100\]"),
        ({"scores": (ScoreInput("gpqa_diamond", -1.0),)}, InvalidInputError, r"outside \[0, 100\]"),
        ({"date": "10/06/2026"}, InvalidInputError, "malformed release date"),
        ({"date": "2026-02-30"}, InvalidInputError, "invalid release date"),
        ({"date": "2026-12-01"}, InvalidInputError, "in the future"),
        ({"name": "Claude Opus 4.6"}, ConflictError, "already exists"),
        ({"name": "  claude   OPUS 4.6 "}, ConflictError, "already exists"),
        ({"name": "GPT-5"}, ConflictError, "already exists"),  # an alias of GPT-5 (thinking)
        ({"hf_repo": "google/x"}, InvalidInputError, "not marked open-weight"),
        ({"open_weight": True, "hf_repo": "not a repo"}, InvalidInputError, "malformed Hugging Face repo"),
        ({"reported_by": "blog"}, InvalidInputError, "unknown reporter"),
        ({"params_total_b": -3.0}, InvalidInputError, "must be positive"),
        ({"variant_of": "Nonexistent 9"}, NotFoundError, "unknown model"),
    ],
)
def test_bad_release_is_rejected_and_writes_nothing(
    engine: Engine, changes: dict[str, object], error: type[PhasewatchError], message: str
) -> None:
    before = table_counts(engine)
    with pytest.raises(error, match=message):
        with transaction(engine) as session:
            add_release(session, _request(**changes), today=TODAY)
    assert table_counts(engine) == before


@pytest.mark.parametrize("text", ["swe_bench_verified", "=80", "gpqa_diamond=high"])
def test_malformed_score_arguments(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_score(text)


def test_unique_constraint_stops_a_writer_that_missed_the_other(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the pre-check reads stale data, the database keeps one model."""
    with transaction(engine) as session:
        add_release(session, _request(), today=TODAY)
    monkeypatch.setattr(Catalog, "find_model", lambda self, name: None)  # as if it had read before the commit
    monkeypatch.setattr("phasewatch.registry.releases.find_duplicate", lambda *a, **k: None)  # likewise
    with pytest.raises(ConflictError, match="another writer"):
        with transaction(engine) as session:
            add_release(session, _request(), today=TODAY)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Model).where(Model.name == "Gemini 3.5 Pro")) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_writers_add_one_release(engine: Engine) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []

    def write() -> None:
        barrier.wait()
        try:
            with transaction(engine) as session:
                add_release(session, _request(), today=TODAY)
            outcomes.append("added")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["conflict"] * (writers - 1)
    with transaction(engine) as session:
        assert (
            session.scalar(select(func.count()).select_from(ModelName).where(ModelName.name_key == "gemini 3.5 pro"))
            == 1
        )
