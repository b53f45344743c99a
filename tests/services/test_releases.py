"""The release use cases called from Python, as a web page or a script would: no CLI."""

from __future__ import annotations

import datetime as dt
import multiprocessing

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.errors import ConflictError, NotFoundError
from phasewatch.registry.predictions import seed_predictions
from phasewatch.registry.releases import Correction, ReleaseRequest, ScoreInput
from phasewatch.registry.schema import Model, PredictionGrading, ReleaseVerdict, SteeringJob
from phasewatch.services.releases import check_release, correct_release, list_releases, log_release
from tests.helpers import table_counts

CLOCK = FrozenClock(dt.datetime(2026, 11, 30, 12, 0))


def _request(name: str = "Frontier X", **changes: object) -> ReleaseRequest:
    fields: dict[str, object] = {
        "name": name,
        "lab": "OpenAI",
        "date": "2026-11-01",
        "scores": (ScoreInput("swe_bench_verified", 96.0), ScoreInput("gpqa_diamond", 97.0)),
        "source_url": "https://example.org/frontier-x",
    }
    fields.update(changes)
    return ReleaseRequest(**fields)  # type: ignore[arg-type]


def test_log_release_stores_it_and_queues_one_steering_job(engine: Engine) -> None:
    logged = log_release(engine, CLOCK, _request(open_weight=True, hf_repo="openai/frontier-x"))
    release = logged.release
    assert (release.model, release.lab, release.release_date) == ("Frontier X", "OpenAI", "2026-11-01")
    assert release.scores == {"swe_bench_verified": 96.0, "gpqa_diamond": 97.0}
    assert release.steering_job is not None and release.steering_job_new
    assert logged.verdict is None and logged.staleness is None  # the seeded registry holds no fit
    with transaction(engine) as session:
        model = session.scalar(select(Model).where(Model.name == "Frontier X"))
        assert model is not None and model.open_weight and len(model.observations) == 2
        assert session.scalar(select(func.count()).select_from(SteeringJob)) == 1
    assert list_releases(engine, lab="OpenAI", since="2026-11")[0].name == "Frontier X"


def test_a_duplicate_is_refused_with_nothing_written(engine: Engine) -> None:
    log_release(engine, CLOCK, _request())
    before = table_counts(engine)
    with pytest.raises(ConflictError, match="already exists"):
        log_release(engine, CLOCK, _request("frontier  x"))
    with pytest.raises(ConflictError, match="likely a duplicate"):  # same lab, date and scores
        log_release(engine, CLOCK, _request("Frontier X (preview)"))
    with pytest.raises(NotFoundError, match="unknown lab"):
        log_release(engine, CLOCK, _request("Frontier Y", lab="Nowhere Labs"))
    assert table_counts(engine) == before


def test_moved_predictions_are_reported_and_their_gradings_sealed(engine: Engine) -> None:
    with transaction(engine) as session:
        seed_predictions(session)
    logged = log_release(engine, CLOCK, _request())
    moved = {m.key: m for m in logged.moved}
    assert "gp-1" in moved  # a new top SWE score widens the top-5 spread
    with transaction(engine) as session:
        sealed = session.scalars(select(PredictionGrading).where(PredictionGrading.as_of == CLOCK.today())).all()
    assert sealed, "the gradings that changed state are stored"
    again = log_release(engine, CLOCK, _request("Frontier Z", date="2026-10-01", scores=()))
    assert all(m.key != "gp-1" or m.before == m.after for m in again.moved)


@pytest.mark.slow
def test_the_verdict_is_stored_once_and_check_reads_it_back(fitted_engine: Engine) -> None:
    logged = log_release(
        fitted_engine,
        CLOCK,
        _request(
            "Claude Opus 4.7 (relog)",
            lab="Anthropic",
            date="2026-04-16",
            scores=(ScoreInput("swe_bench_verified", 87.6), ScoreInput("gpqa_diamond", 94.2)),
            distinct=True,
        ),
    )
    verdict = logged.verdict
    assert verdict is not None and verdict.check.inside and verdict.check.lab == "Anthropic"
    assert logged.staleness is not None and logged.staleness.fit_id == verdict.fit_id
    with transaction(fitted_engine) as session:
        stored = session.scalars(select(ReleaseVerdict)).all()
    assert len(stored) == 1 and stored[0].fit_id == verdict.fit_id
    assert stored[0].h_mean == pytest.approx(verdict.check.h.mean) and stored[0].inside
    assert check_release(fitted_engine, "Claude Opus 4.7 (relog)") == verdict  # deterministic: stored once
    with transaction(fitted_engine) as session:
        assert session.scalar(select(func.count()).select_from(ReleaseVerdict)) == 1


def test_a_correction_is_one_transaction_with_history(engine: Engine) -> None:
    log_release(engine, CLOCK, _request())
    changes = correct_release(
        engine, CLOCK, "Frontier X", Correction(scores=(ScoreInput("gpqa_diamond", 91.0),), reason="typo")
    )
    assert [(c.field, c.old, c.new) for c in changes] == [("score:gpqa_diamond", "97", "91")]


def _race(url: str, name: str, barrier, outcomes) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    request = _request(name)
    barrier.wait()
    try:
        log_release(engine, CLOCK, request)
        outcomes.put("added")
    except ConflictError:
        outcomes.put("conflict")
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("names", [("Race Model",) * 6, ("Race Model", "race-model", "RACE MODEL (preview)") * 2])
def test_racing_processes_log_one_model(db_url: str, names: tuple[str, ...]) -> None:
    """Six processes log one release at once (the same name, or look-alike names the
    identity check treats as one): exactly one model, every other writer refused."""
    context = multiprocessing.get_context("spawn")
    barrier, outcomes = context.Barrier(len(names)), context.Queue()
    workers = [context.Process(target=_race, args=(db_url, name, barrier, outcomes)) for name in names]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    results = sorted(outcomes.get(timeout=5) for _ in workers)
    assert results == ["added"] + ["conflict"] * (len(names) - 1)
    engine = make_engine(db_url)
    with transaction(engine) as session:
        races = session.scalars(select(Model.name).where(Model.name.ilike("%race%model%"))).all()
    engine.dispose()
    assert len(races) == 1


def test_a_release_on_a_quiet_registry_reuses_its_reads(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """No other writer between the reads and the write: the logs known intact stay known
    intact (nothing re-verified), the grades before are the ones the last grading kept, the
    grading after is the one before plus the new model, evaluated once for the predictions
    that read the release (the others keep their grades before), and what it seals and
    keeps equals a fresh grading of the database."""
    from phasewatch.registry import grading_inputs, predictions
    from phasewatch.registry.changes import change_state
    from phasewatch.services import grading, releases

    with transaction(engine) as session:
        seed_predictions(session)
    grading.grade(engine, CLOCK.today())  # seals, verifies, marks, keeps its input and grades
    evaluations: list[tuple[tuple[str, ...], tuple[str, ...]]] = []  # each evaluated criterion's benchmarks, labs
    evaluate = predictions.grade

    def counted(criterion, *rest):
        evaluations.append((tuple(criterion.benchmarks()), tuple(criterion.labs())))
        return evaluate(criterion, *rest)

    monkeypatch.setattr(predictions, "grade", counted)
    verified: list[int] = []
    full = predictions.verify_chain
    monkeypatch.setattr(predictions, "verify_chain", lambda *a, **k: verified.append(1) or full(*a, **k))
    fresh_reads: list[int] = []
    read = releases.grading_input
    monkeypatch.setattr(releases, "grading_input", lambda *a, **k: fresh_reads.append(1) or read(*a, **k))
    log_release(engine, CLOCK, _request("Quiet One", lab="DeepSeek", date="2026-11-29"))  # SWE-bench and GPQA
    assert verified == [] and fresh_reads == [1]  # the before read only
    # Evaluated once after the release (SWE-bench and GPQA figures, by DeepSeek): the top-5 spreads
    # (gp-1), DeepSeek's next releases (gp-3) and r(SWE-bench, GPQA) (gp-5); not those needing a
    # figure it lacks (IFEval: gp-2, gp-6; HLE: gp-7) nor Google's next releases (gp-4).
    both = ("gpqa_diamond", "swe_bench_verified")
    assert sorted(evaluations) == [(both, ()), (both, ()), (both, ("DeepSeek",))]
    with transaction(engine) as session:
        state = change_state(session)
        assert state is not None and state.verified
    kept = grading.grade(engine, CLOCK.today())
    assert kept.stored == 0 and len(evaluations) == 3  # the release kept its grades: nothing evaluated
    monkeypatch.setattr(grading_inputs, "code_version", lambda: "another")  # nothing kept is used now
    fresh = grading.grade(engine, CLOCK.today())
    assert fresh.stored == 0 and len(evaluations) == 10  # the seals match a fresh grading of the database
    assert fresh.rows == kept.rows


def test_a_writer_between_the_reads_and_the_write_means_a_fresh_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phasewatch.services import grading, releases

    with transaction(engine) as session:
        seed_predictions(session)
    grading.grade(engine, CLOCK.today())
    fresh_reads: list[int] = []
    read = releases.grading_input
    monkeypatch.setattr(releases, "grading_input", lambda *a, **k: fresh_reads.append(1) or read(*a, **k))
    original = releases.write_transaction
    interloped: list[str] = []

    def with_an_interloper(bound: Engine):  # another writer commits just before this one takes the lock
        if not interloped:
            interloped.append("Interloper")
            monkeypatch.setattr(releases, "write_transaction", original)
            log_release(engine, CLOCK, _request("Interloper", lab="Google", date="2026-11-28"))
            monkeypatch.setattr(releases, "write_transaction", with_an_interloper)
        return original(bound)

    monkeypatch.setattr(releases, "write_transaction", with_an_interloper)
    logged = log_release(engine, CLOCK, _request("Second One", lab="DeepSeek", date="2026-11-29"))
    assert interloped and logged.release.model == "Second One"
    assert len(fresh_reads) == 3  # the interloper's before; ours before, and ours after (read again)
    assert grading.grade(engine, CLOCK.today()).stored == 0
