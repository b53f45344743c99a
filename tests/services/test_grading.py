"""Grading as a service, called from Python: grade, list, show, verify, head, register,
score, saturation; gradings stored only on a state change; grading reads only what the
criteria name and gets exactly what it would from the whole registry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.models.criteria import Context, grade
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import IntegrityError, InvalidInputError, NotFoundError
from phasewatch.registry.predictions import (
    DEFAULT_PANELS,
    criterion_of,
    current_predictions,
    seed_predictions,
    snapshot,
)
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import PredictionGrading
from phasewatch.services import grading
from tests.helpers import table_counts

TODAY = dt.date(2026, 11, 30)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with transaction(engine) as session:
        seed_predictions(session)
    return engine


def _gradings(engine: Engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(PredictionGrading)) or 0


def _log(engine: Engine, name: str, lab: str, day: str, **scores: float) -> None:
    with transaction(engine) as session:
        request = ReleaseRequest(
            name=name, lab=lab, date=day, scores=tuple(ScoreInput(k, v) for k, v in scores.items())
        )
        add_release(session, request, today=TODAY)


def test_grade_returns_typed_rows_and_stores_only_state_changes(seeded: Engine) -> None:
    first = grading.grade(seeded, TODAY)
    assert first.as_of == TODAY and first.panels == DEFAULT_PANELS
    assert [r.key for r in first.rows] == [f"gp-{i}" for i in range(1, 8)]
    assert all(r.revision == 2 and r.criterion is not None for r in first.rows)
    assert first.stored == 7 == _gradings(seeded)  # a first grading of each is a change from nothing
    again = grading.grade(seeded, TODAY)
    assert again.stored == 0 and _gradings(seeded) == 7  # nothing changed: nothing written
    assert [(r.state, r.grade.evidence) for r in again.rows] == [(r.state, r.grade.evidence) for r in first.rows]
    # a release that moves no state writes no grading either
    _log(seeded, "Quiet Model", "Meta", "2026-10-01", mmlu_pro=50.0)
    assert grading.grade(seeded, TODAY).stored == 0 and _gradings(seeded) == 7
    # one that resolves gp-3 (two DeepSeek releases below the trend) writes exactly one
    _log(seeded, "DeepSeek V5", "DeepSeek", "2026-07-01", swe_bench_verified=85.0, gpqa_diamond=88.0)
    _log(seeded, "DeepSeek V5.1", "DeepSeek", "2026-09-01", swe_bench_verified=86.0, gpqa_diamond=89.0)
    moved = grading.grade(seeded, TODAY)
    assert moved.stored == 1 and _gradings(seeded) == 8
    assert [r.key for r in moved.rows if r.stored] == ["gp-3"]
    assert next(r for r in moved.rows if r.key == "gp-3").state == "passed"


def test_grading_without_store_writes_nothing(seeded: Engine) -> None:
    before = table_counts(seeded)
    result = grading.grade(seeded, TODAY, store=False)
    assert result.stored == 0 and table_counts(seeded) == before


def test_reading_only_the_named_benchmarks_changes_nothing(seeded: Engine) -> None:
    """The criteria see exactly what they would on the whole registry, including a lab's
    release that has figures only on benchmarks no criterion reads (gp-4's window)."""
    _log(seeded, "Gemini 4 Flash", "Google", "2026-10-01", mmlu_pro=70.0)
    _log(seeded, "DeepSeek V5", "DeepSeek", "2026-07-01", swe_bench_verified=85.0, gpqa_diamond=88.0)
    for day in (dt.date(2026, 5, 13), TODAY, dt.date(2027, 1, 5)):
        result = grading.grade(seeded, day, store=False)
        with transaction(seeded) as session:
            current = {p.key: p for p in current_predictions(session, day)}
            for row in result.rows:
                criterion = criterion_of(current[row.key])
                on = criterion.evaluation_date(day)
                whole = tuple(snapshot(session, DEFAULT_PANELS, on))  # every benchmark, every model
                full = grade(criterion, Context(whole, dt.date.fromisoformat(row.window_from), on), day)
                assert (full.state, full.evidence, full.observations) == (
                    row.state,
                    row.grade.evidence,
                    row.grade.observations,
                ), (day, row.key)
    gp4 = next(r for r in grading.grade(seeded, TODAY, store=False).rows if r.key == "gp-4")
    entries = gp4.grade.evidence["pass"]["entries"]
    assert [e["name"] for e in entries] == ["Gemini 4 Flash"]
    assert entries[0]["status"].startswith("awaiting scores")


def test_list_carries_the_saturation_state_of_each_benchmark_read(seeded: Engine) -> None:
    listing = grading.list_predictions(seeded, TODAY)
    assert len(listing.rows) == 7
    read = {b for r in listing.rows for b in r.benchmarks}
    assert read == {"swe_bench_verified", "gpqa_diamond", "hle", "ifeval"}
    assert set(listing.saturation) == read
    full = {b.benchmark: b.state for b in grading.saturation(seeded, TODAY).benchmarks}
    assert listing.saturation == {b: full[b] for b in read}  # the same pipeline as `saturation`
    assert _gradings(seeded) == 0  # listing stores nothing


def test_show_verify_head_register_and_score(seeded: Engine, tmp_path: Path) -> None:
    record = grading.show(seeded, "gp-3")
    assert [r.revision for r in record.revisions] == [1, 2] and record.gradings == ()
    assert record.latest.description.startswith("passes if h of each of DeepSeek's next 2 releases < 0")
    with pytest.raises(NotFoundError):
        grading.show(seeded, "gp-99")
    check = grading.verify(seeded)
    assert check.ok and check.rows == 14
    point = grading.head(seeded, TODAY, tmp_path / "cp.json")
    assert point.head == check.head and point.predictions == 14
    assert json.loads(point.path.read_text())["head"] == check.head
    assert grading.verify(seeded, checkpoint=point.path).ok
    with pytest.raises(InvalidInputError, match="no such folder"):
        grading.head(seeded, TODAY, tmp_path / "missing" / "cp.json")
    mine = {
        "key": "mine-1",
        "title": "SWE-bench top-5 stays above 3 pp",
        "probability": 0.75,
        "criterion": {
            "deadline": "2026-12-31",
            "pass": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": ">", "value": 3},
            "fail": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": "<", "value": 1},
        },
    }
    assert grading.register(seeded, mine, TODAY) == ("mine-1@1",)
    assert grading.show(seeded, "mine-1").latest.criterion == mine["criterion"]
    scores = grading.score(seeded, dt.date(2027, 1, 5))
    assert scores.resolved == 1 and scores.items[0]["key"] == "mine-1"
    assert scores.brier == pytest.approx((0.75 - 1.0) ** 2)  # 7.0 pp > 3 at the deadline: passed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"criterion": {"benchmark": ["swe"]}}, "criterion: unknown field(s) 'benchmark'"),
        ({"source": {"a": 1}}, "the source must be a non-empty string"),
        ({"title": "x" * 201}, "the title is 201 characters, over 200"),
        ({"key": "evil\x1b[2J"}, "the key contains control characters"),
        ({"probability": float("nan")}, "probability must be a finite number"),
        ({"retrodiction": "yes"}, "retrodiction must be true or false"),
    ],
)
def test_bad_registrations_are_one_line_and_write_nothing(seeded: Engine, change: dict, message: str) -> None:
    spread = {"top_k_spread": {"benchmark": "hle", "k": 5}}
    entry = {
        "key": "x-1",
        "title": "t",
        "criterion": {
            "deadline": "2026-12-31",
            "pass": {"metric": spread, "op": "<", "value": 1},
            "fail": {"metric": spread, "op": ">", "value": 1},
        },
        **change,
    }
    before = table_counts(seeded)
    with pytest.raises(InvalidInputError) as raised:
        grading.register(seeded, entry, TODAY)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert table_counts(seeded) == before


def test_a_list_valued_benchmark_name_is_one_line(seeded: Engine) -> None:
    entry = {
        "key": "x-1",
        "title": "t",
        "criterion": {
            "deadline": "2026-12-31",
            "pass": {"metric": {"top_k_spread": {"benchmark": ["swe"], "k": 5}}, "op": "<", "value": 1},
            "fail": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": ">", "value": 1},
        },
    }
    with pytest.raises(InvalidInputError, match=r"pass.metric.top_k_spread.benchmark: expected a benchmark key"):
        grading.register(seeded, entry, TODAY)


def test_grading_refuses_a_broken_log(seeded: Engine) -> None:
    with seeded.begin() as conn:
        conn.exec_driver_sql("UPDATE predictions SET title = 'forged' WHERE id = 3")
    with pytest.raises(IntegrityError):
        grading.grade(seeded, TODAY)
    with pytest.raises(IntegrityError):
        grading.list_predictions(seeded, TODAY)
    assert not grading.verify(seeded).ok
