"""The change count: triggers count every change to the watched tables, whoever makes it,
and a grading trusts an earlier verification of the logs only while nothing changed since,
except phasewatch's own appends made under the lock."""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from phasewatch.registry import grading_inputs, predictions
from phasewatch.registry.changes import (
    DATA_TABLES,
    LOGGED_TABLE,
    WATCHED_TABLES,
    LoggedChanges,
    change_state,
    logged_changes,
    record_verified,
)
from phasewatch.registry.db import MIGRATIONS_DIR, transaction
from phasewatch.registry.errors import IntegrityError
from phasewatch.registry.predictions import (
    grade_predictions,
    grading_input,
    intact_since,
    seals_hold,
    seed_predictions,
    snapshot,
    with_models,
)
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import (
    Benchmark,
    GradingInputCache,
    Model,
    Observation,
    ObservationChange,
    PredictionGrading,
)

TODAY = dt.date(2026, 11, 30)


def _migration(revision: str = "0016") -> object:
    path = next(Path(MIGRATIONS_DIR, "versions").glob(f"{revision}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(engine: Engine) -> int:
    return _counts(engine)[0]


def _counts(engine: Engine) -> tuple[int, int]:
    with transaction(engine) as session:
        state = change_state(session)
        assert state is not None
        return state.count, state.data_count


@pytest.fixture
def graded(engine: Engine) -> Engine:
    """The bundled registry with the seven predictions graded and sealed (the logs marked verified)."""
    with transaction(engine) as session:
        if not session.scalar(select(func.count()).select_from(PredictionGrading)):
            seed_predictions(session)
        grade_predictions(session, TODAY, store=True)
    return engine


def test_the_watched_tables_are_the_ones_the_migration_watches() -> None:
    migration = _migration()
    assert set(DATA_TABLES) == set(migration.DATA)  # type: ignore[attr-defined]
    assert set(WATCHED_TABLES) == set(migration.DATA + migration.LOGS)  # type: ignore[attr-defined]


def test_every_watched_table_counts_updates_and_inserts_and_deletes_count(graded: Engine) -> None:
    engine = graded
    for table in WATCHED_TABLES:
        column = "observation_id" if table == "panel_observations" else "id"
        count, data = _counts(engine)
        with transaction(engine) as session:  # a raw statement, as any other client would send it
            session.execute(
                text(f"UPDATE {table} SET {column} = {column} WHERE {column} = (SELECT min({column}) FROM {table})")
            )
        now, data_now = _counts(engine)
        assert now > count, table
        assert (data_now > data) is (table in DATA_TABLES), table
    before = _count(engine)
    with transaction(engine) as session:
        model = session.scalar(select(Model).limit(1))
        assert model is not None
        extra = Observation(model_id=model.id, benchmark_id=1, value=1.0, reported_by="lab", fingerprint="t" * 64)
        session.add(extra)
    inserted = _count(engine)
    with transaction(engine) as session:
        session.execute(text("DELETE FROM observations WHERE id = :id"), {"id": extra.id})
    assert before < inserted < _count(engine)
    with transaction(engine) as session:  # a table no grading reads does not count
        counted = change_state(session)
        session.execute(text("UPDATE steering_jobs SET id = id"))
        assert change_state(session) == counted


def _full_verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the full verifications of both logs (:func:`predictions.verify_chain`) made."""
    calls: list[int] = []
    full = predictions.verify_chain
    monkeypatch.setattr(predictions, "verify_chain", lambda *a, **k: calls.append(1) or full(*a, **k))
    return calls


def test_a_grading_trusts_the_verification_only_while_nothing_changed(
    graded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _full_verifications(monkeypatch)
    with transaction(graded) as session:
        state = change_state(session)
        assert state is not None and state.verified  # the sealing grading carried it
        assert intact_since(session) == state.count
        grade_predictions(session, TODAY, store=True)
    assert calls == []
    with transaction(graded) as session:  # a sealed observation edited by raw SQL
        sealed = session.scalars(select(PredictionGrading.observations)).all()
        obs_id = next(pair[0] for pairs in sealed for pair in pairs)
        session.execute(text("UPDATE observations SET value = value + 1 WHERE id = :id"), {"id": obs_id})
    with pytest.raises(IntegrityError, match=f"observation #{obs_id} it rested on was altered"):
        with transaction(graded) as session:
            grade_predictions(session, TODAY, store=True)
    assert calls == [1]


def test_a_verification_is_recorded_only_if_nothing_changed_since(graded: Engine) -> None:
    with transaction(graded) as session:
        session.execute(text("UPDATE models SET id = id WHERE id = 1"))  # the mark no longer holds
    with transaction(graded) as session:
        state = change_state(session)
        assert state is not None and not state.verified
        seen = intact_since(session)
    with transaction(graded) as session:
        session.execute(text("UPDATE labs SET id = id WHERE id = 1"))  # a change after the verification
    with transaction(graded) as session:
        assert seen is not None and not record_verified(session, seen)
        now = intact_since(session)
    with transaction(graded) as session:
        assert now is not None and record_verified(session, now)
        state = change_state(session)
        assert state is not None and state.verified


def test_a_grading_input_plus_the_new_models_is_a_fresh_read(graded: Engine) -> None:
    with transaction(graded) as session:
        base = grading_input(session, TODAY, need_data=True)
        assert base.cached  # the sealing grading kept what it read: decoding is part of what is compared below
        variant = session.scalar(select(Model.name).where(Model.kind == "frontier").limit(1))
    requests = [
        ReleaseRequest(
            "Fresh Read A",
            "Google",
            "2026-11-20",
            (ScoreInput("swe_bench_verified", 81.0), ScoreInput("gpqa_diamond", 88.0), ScoreInput("hle", 30.0)),
            source_url="https://example.org/a",
            distinct=True,
        ),
        ReleaseRequest(
            "Fresh Read B", "DeepSeek", "2026-11-21", source_url="https://example.org/b", distinct=True
        ),  # scoreless: it still takes its place in DeepSeek's release window
        ReleaseRequest(
            "Fresh Read C",
            "OpenAI",
            "2026-11-22",
            (ScoreInput("swe_bench_verified", 70.0),),
            source_url="https://example.org/c",
            variant_of=variant,
            distinct=True,
        ),
    ]
    with transaction(graded) as session:
        for request in requests:
            add_release(session, request, today=TODAY)
        logged = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)  # the database stamps its own clock
        for model in session.scalars(select(Model).where(Model.name.like("Fresh Read %"))):
            model.created_at = logged
            for observation in model.observations:
                observation.created_at = logged
    with transaction(graded) as session:
        ids = session.scalars(select(Model.id).where(Model.name.like("Fresh Read %"))).all()
        incremental = with_models(session, base, ids)
        fresh = grading_input(session, TODAY, need_data=True)
    assert incremental.data == fresh.data and incremental.data_count == fresh.data_count
    assert any(r.name == "Fresh Read B" for day in fresh.data.values() for r in day)
    assert incremental.data_count != base.data_count


def _fresh_read(session: object, as_of: dt.date) -> dict:
    inputs = grading_input(session, as_of, need_data=True)  # type: ignore[arg-type]
    return {day: tuple(snapshot(session, inputs.panels, day, *inputs.needs[day])) for day in inputs.needs}  # type: ignore[arg-type]


def test_a_kept_input_is_what_a_fresh_read_gives_and_goes_when_the_data_changes(graded: Engine) -> None:
    with transaction(graded) as session:
        kept = grading_input(session, TODAY, need_data=True)
        assert kept.cached and kept.data == _fresh_read(session, TODAY)
        other_day = grading_input(session, dt.date(2026, 12, 20), need_data=True)
        assert not other_day.cached  # kept per date
    with transaction(graded) as session:
        session.execute(text("UPDATE observations SET value = value WHERE id = 1"))  # any change to the data
    with transaction(graded) as session:
        assert not grading_input(session, TODAY, need_data=True).cached


def test_a_kept_input_written_by_anyone_else_is_never_used(graded: Engine) -> None:
    """A forged cache entry (raw SQL) breaks the verified mark, so it is not read; earning
    the mark again drops every kept input, the forged one with the rest."""
    with transaction(graded) as session:
        session.execute(text("UPDATE grading_inputs SET payload = replace(payload, '\"Google\"', '\"Forged\"')"))
    with transaction(graded) as session:
        state = change_state(session)
        assert state is not None and not state.verified
        assert not grading_input(session, TODAY, need_data=True).cached
        seen = intact_since(session)
    with transaction(graded) as session:
        assert seen is not None and record_verified(session, seen)
        assert session.scalar(select(func.count()).select_from(GradingInputCache)) == 0


def _evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the criteria evaluations a grading makes (each prediction graded on data)."""
    calls: list[str] = []
    real = predictions.grade

    def counted(criterion, context, as_of):  # type: ignore[no-untyped-def]
        calls.append(as_of.isoformat())
        return real(criterion, context, as_of)

    monkeypatch.setattr(predictions, "grade", counted)
    return calls


def test_kept_grades_are_what_evaluating_a_fresh_read_gives(graded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluations = _evaluations(monkeypatch)
    with transaction(graded) as session:
        kept = grading_input(session, TODAY)
        assert kept.grades_cached and kept.data is None  # the sealing grading kept its grades: nothing read
        from_cache = grade_predictions(session, TODAY, given=kept)
        assert evaluations == []
        fresh = replace(kept, data=_fresh_read(session, TODAY), grades=None, grades_cached=False)
        evaluated = grade_predictions(session, TODAY, given=fresh)
    assert len(evaluations) == len(evaluated) == 7
    assert [r.grade for r in from_cache] == [r.grade for r in evaluated]
    assert from_cache == evaluated


def test_kept_grades_go_when_the_data_changes_and_are_kept_again(graded: Engine) -> None:
    with transaction(graded) as session:
        session.execute(text("UPDATE observations SET value = value WHERE id = 1"))
    with transaction(graded) as session:
        assert not grading_input(session, TODAY).grades_cached
        grade_predictions(session, TODAY, store=True)  # verifies, grades, keeps both
    with transaction(graded) as session:
        again = grading_input(session, TODAY)
        assert again.grades_cached and again.data is None
        assert not grading_input(session, dt.date(2026, 12, 20)).grades_cached  # kept per date


def test_kept_grades_of_another_code_version_or_revision_are_not_used(
    graded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(graded) as session:
        state = change_state(session)
        inputs = grading_input(session, TODAY)
        assert inputs.grades is not None
        revisions = set(inputs.grades)
        assert grading_inputs.cached_grades(session, state, TODAY, inputs.panels, revisions) is not None
        key, revision = min(revisions)
        other = (revisions - {(key, revision)}) | {(key, revision + 1)}
        assert grading_inputs.cached_grades(session, state, TODAY, inputs.panels, other) is None
        monkeypatch.setattr(grading_inputs, "code_version", lambda: "another version")
        assert grading_inputs.cached_grades(session, state, TODAY, inputs.panels, revisions) is None
        assert not grading_input(session, TODAY).grades_cached


def test_forged_grades_are_never_used(graded: Engine) -> None:
    with transaction(graded) as session:
        session.execute(text("UPDATE grading_inputs SET grades = replace(grades, '\"pending\"', '\"passed\"')"))
    with transaction(graded) as session:
        assert not grading_input(session, TODAY).grades_cached  # the mark no longer holds
        seen = intact_since(session)
    with transaction(graded) as session:
        assert seen is not None and record_verified(session, seen)
        assert session.scalar(select(func.count()).select_from(GradingInputCache)) == 0


def test_an_input_kept_again_keeps_the_grades_of_its_data(graded: Engine) -> None:
    """One row per data count, date and panels: a payload given without grades replaces the
    payload and leaves the grades that row held (they are of the same data)."""
    with transaction(graded) as session:
        inputs = grading_input(session, TODAY, need_data=True)
        assert inputs.grades_cached and inputs.cached and inputs.data is not None
        payload = grading_inputs.encode(inputs.needs, inputs.data)
        assert grading_inputs.remember(session, inputs.data_count, TODAY, inputs.panels, payload, None)
    with transaction(graded) as session:
        assert session.scalar(select(func.count()).select_from(GradingInputCache)) == 1
        again = grading_input(session, TODAY, need_data=True)
        assert again.grades_cached and again.cached and again.grades == inputs.grades


def test_a_kept_input_decodes_to_the_releases_it_was_encoded_from_and_back(graded: Engine) -> None:
    """Decoding gives equal releases (dates, figures in order, groups), and they encode back
    to the same bytes; a payload of another format or code version is not decoded."""
    with transaction(graded) as session:
        inputs = grading_input(session, TODAY, need_data=True)
        fresh_read = _fresh_read(session, TODAY)
    assert inputs.data is not None
    payload = grading_inputs.encode(inputs.needs, inputs.data)
    decoded = grading_inputs.decode(payload)
    assert decoded is not None
    needs, data = decoded
    assert needs == inputs.needs and data == fresh_read
    assert grading_inputs.encode(needs, data) == payload
    day = next(iter(data))
    first = data[day][0]
    assert isinstance(first.released, dt.date) and all(type(fs) is tuple for fs in first.figures.values())
    renamed = {**data, day: (replace(first, name=first.name + " (renamed)"), *data[day][1:])}
    assert grading_inputs.decode(grading_inputs.encode(needs, renamed)) == (needs, renamed)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        '{"format": 2, "code": "x", "needs": {}, "data": {"2026-11-30": [["A", "Lab", 739000, null, "A", []]]}}',
        '{"format": 3, "code": "another version", "needs": {}, "data": {}}',
    ],
    ids=["not-json", "format-2-rows", "other-code"],
)
def test_a_payload_this_version_did_not_write_is_not_decoded(payload: str) -> None:
    assert grading_inputs.decode(payload) is None


def test_a_payload_of_this_version_with_malformed_needs_is_not_decoded() -> None:
    code = grading_inputs.code_version()
    payload = f'{{"format": 3, "code": "{code}", "needs": {{"2026-11-30": [["gpqa"], [], ["extra"]]}}, "data": {{}}}}'
    assert grading_inputs.decode(payload) is None
    well_formed = payload.replace(', ["extra"]', "")
    assert grading_inputs.decode(well_formed) == ({dt.date(2026, 11, 30): (frozenset({"gpqa"}), frozenset())}, {})


# --- the observation log (migration 0017) ------------------------------------------------------


def _changes(engine: Engine) -> LoggedChanges | None:
    with transaction(engine) as session:
        return logged_changes(session, change_state(session))


def _unsealed_observation(session: Session) -> Observation:
    """An observation no grading rests on, of a frontier model, on a benchmark the criteria read."""
    sealed = {pair[0] for pairs in session.scalars(select(PredictionGrading.observations)) for pair in pairs}
    query = (
        select(Observation)
        .join(Model)
        .join(Benchmark)
        .where(Model.kind == "frontier", Benchmark.key == "swe_bench_verified", Observation.id.not_in(sealed or {0}))
    )
    found = session.scalars(query.order_by(Observation.id)).first()
    assert found is not None
    return found


def test_the_log_migration_ends_the_log_on_every_other_watched_table() -> None:
    migration = _migration("0017")
    assert set(migration.OTHERS) == set(WATCHED_TABLES) - {LOGGED_TABLE}  # type: ignore[attr-defined]


def test_every_observation_change_is_logged_and_any_other_change_ends_the_log(graded: Engine) -> None:
    assert _changes(graded) == LoggedChanges(_counts(graded)[1], frozenset(), frozenset())  # emptied by the seal
    with transaction(graded) as session:  # raw statements, as any other client would send them
        edited = _unsealed_observation(session)
        session.execute(text("UPDATE observations SET value = value + 0.5 WHERE id = :id"), {"id": edited.id})
        session.execute(
            text(
                "INSERT INTO observations (model_id, benchmark_id, value, reported_by, fingerprint, created_at) "
                "SELECT model_id, benchmark_id, value, reported_by, substr(fingerprint, 1, 59) || '-copy', created_at FROM observations "
                "WHERE id = :id"
            ),
            {"id": edited.id},
        )
        added = session.scalar(select(func.max(Observation.id)))
        session.execute(text("DELETE FROM observations WHERE id = :id"), {"id": added})
        model_id = edited.model_id
    changes = _changes(graded)
    assert changes is not None
    assert changes.altered == {edited.id, added} and changes.models == {model_id}
    with transaction(graded) as session:
        session.execute(text("UPDATE labs SET id = id WHERE id = (SELECT min(id) FROM labs)"))
    assert _changes(graded) is None  # a change the log does not name: it no longer says all
    with transaction(graded) as session:
        seen = intact_since(session)
    with transaction(graded) as session:
        assert seen is not None and record_verified(session, seen)
        assert session.scalar(select(func.count()).select_from(ObservationChange)) == 0
    assert _changes(graded) == LoggedChanges(_counts(graded)[1], frozenset(), frozenset())


def test_a_log_longer_than_its_limit_is_not_read(graded: Engine) -> None:
    with transaction(graded) as session:
        session.execute(text("UPDATE observations SET value = value WHERE id IN (SELECT id FROM observations LIMIT 3)"))
    with transaction(graded) as session:
        state = change_state(session)
        assert logged_changes(session, state, limit=6) is not None  # an update logs the row before and after
        assert logged_changes(session, state, limit=5) is None


def test_after_logged_edits_only_the_seals_resting_on_them_are_checked(
    graded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _full_verifications(monkeypatch)
    with transaction(graded) as session:
        sealed = session.scalars(select(PredictionGrading.observations)).all()
        sealed_id = next(pair[0] for pairs in sealed for pair in pairs)
        unsealed_id = _unsealed_observation(session).id
        session.execute(text("UPDATE observations SET value = value + 1 WHERE id = :id"), {"id": unsealed_id})
        session.execute(text("UPDATE observations SET value = value WHERE id = :id"), {"id": sealed_id})
    with transaction(graded) as session:
        state = change_state(session)
        assert state is not None and not state.verified
        assert seals_hold(session, {unsealed_id, sealed_id})
        assert intact_since(session, state) == state.count
    assert calls == []  # nothing a seal rests on changed its fingerprint: no full verification
    with transaction(graded) as session:
        session.execute(text("DELETE FROM observations WHERE id = :id"), {"id": sealed_id})
    with transaction(graded) as session:
        assert not seals_hold(session, {sealed_id})
        with pytest.raises(IntegrityError, match=f"observation #{sealed_id} it rested on was deleted"):
            intact_since(session)
    assert calls == [1]  # the full verification names what broke


def _one_figure_then_the_mark(engine: Engine, name: str, lab: str, benchmark: str, value: float) -> ReleaseRequest:
    """A release of one figure in no panel (deleting a panel's figure changes the panel too),
    then a sealing grading: it verifies, keeps its input and grades, and starts the log again."""
    release = ReleaseRequest(
        name, lab, "2026-11-20", (ScoreInput(benchmark, value),), source_url="https://example.org/x", distinct=True
    )
    with transaction(engine) as session:
        add_release(session, release, today=TODAY)
        grade_predictions(session, TODAY, store=True)
    return release


def test_after_logged_edits_a_grading_reads_only_their_models_again_and_sees_what_a_fresh_read_sees(
    graded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = _one_figure_then_the_mark(graded, "Logged Edit Z", "Google", "swe_bench_verified", 20.0)
    with transaction(graded) as session:
        edited = _unsealed_observation(session)
        emptied = session.scalars(select(Observation).join(Model).where(Model.name == release.name)).one()
        base = grading_input(session, TODAY, need_data=True)
        assert any(r.name == release.name for day in base.releases().values() for r in day)
        session.execute(text("UPDATE observations SET value = value - 7 WHERE id = :id"), {"id": edited.id})
        session.execute(text("DELETE FROM observations WHERE id = :id"), {"id": emptied.id})  # its release goes
        changed = {edited.model_id, emptied.model_id}
    read: list[object] = []
    real = predictions.snapshot

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        read.append(kwargs.get("models"))
        return real(*args, **kwargs)

    monkeypatch.setattr(predictions, "snapshot", counted)
    with transaction(graded) as session:
        patched = grading_input(session, TODAY, need_data=True)
    assert read and all(models is not None and set(models) == changed for models in read)
    monkeypatch.setattr(predictions, "snapshot", real)
    with transaction(graded) as session:
        assert patched.data == _fresh_read(session, TODAY) and not patched.cached
        assert patched.data != base.data
        state = change_state(session)
        assert state is not None and patched.data_count == state.data_count
    monkeypatch.setattr(predictions, "MAX_MODELS_READ_AGAIN", 1)  # too many changed models: read everything
    read.clear()
    monkeypatch.setattr(predictions, "snapshot", counted)
    with transaction(graded) as session:
        assert grading_input(session, TODAY, need_data=True).data == patched.data
    assert read and all(models is None for models in read)


def test_after_logged_edits_only_the_predictions_reading_their_releases_are_evaluated(
    graded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grades kept at the mark carry over for every prediction whose criterion reads
    neither the edited model's release before nor after (an HLE figure alone: only the
    top-10 HLE spread of gp-6 reads it); the grading equals a fresh evaluation of everything,
    also once the figure is deleted (the release read at the mark is gone)."""
    release = _one_figure_then_the_mark(graded, "Logged Edit H", "OpenAI", "hle", 41.0)
    with transaction(graded) as session:
        edited = session.scalars(select(Observation).join(Model).where(Model.name == release.name)).one()
        session.execute(text("UPDATE observations SET value = 97 WHERE id = :id"), {"id": edited.id})
    evaluations = _evaluations(monkeypatch)
    with transaction(graded) as session:
        patched = grading_input(session, TODAY)
        assert patched.grades is not None and not patched.grades_cached and len(patched.grades) == 6
        carried = grade_predictions(session, TODAY, given=patched)
        assert len(evaluations) == 1  # gp-6 alone
        fresh = replace(patched, data=_fresh_read(session, TODAY), grades=None)
        evaluated = grade_predictions(session, TODAY, given=fresh)
    assert len(evaluations) == 8
    assert carried == evaluated
    gp6 = next(r for r in carried if r.key == "gp-6")
    assert "Logged Edit H" in str(gp6.grade.evidence)  # the edited figure (97) tops the HLE spread
    with transaction(graded) as session:  # its only figure gone: the release read at the mark is what moves gp-6
        session.execute(text("DELETE FROM observations WHERE id = :id"), {"id": edited.id})
    with transaction(graded) as session:
        gone = grade_predictions(session, TODAY, given=grading_input(session, TODAY))
        assert len(evaluations) == 9
        assert gone == grade_predictions(session, TODAY, given=replace(fresh, data=_fresh_read(session, TODAY)))
    assert "Logged Edit H" not in str(next(r for r in gone if r.key == "gp-6").grade.evidence)


def test_a_grading_after_logged_edits_keeps_its_input_and_marks_the_logs_verified(graded: Engine) -> None:
    from phasewatch.services import grading

    with transaction(graded) as session:
        edited = _unsealed_observation(session)
        session.execute(text("UPDATE observations SET value = value + 2 WHERE id = :id"), {"id": edited.id})
    graded_now = grading.grade(graded, TODAY)
    with transaction(graded) as session:
        state = change_state(session)
        assert state is not None and state.verified and state.logged
        assert session.scalar(select(func.count()).select_from(ObservationChange)) == 0
        again = grading_input(session, TODAY)
        assert again.grades_cached
        fresh = grade_predictions(session, TODAY, given=replace(again, data=_fresh_read(session, TODAY), grades=None))
    assert [r.grade for r in graded_now.rows] == [r.grade for r in fresh]


@pytest.mark.parametrize("limit", [3, 2])
def test_an_import_longer_than_the_log_ends_it(graded: Engine, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    from phasewatch.registry import io

    monkeypatch.setattr(io, "MAX_LOGGED", limit)
    rows = [
        {
            "model": "Claude Opus 4.6",
            "lab": "",
            "benchmark": "hle",
            "value": f"{40 + i}.0",
            "reported_by": "third_party",
            "source_url": f"https://example.org/log-{i}",
        }
        for i in range(3)
    ]  # figures of a model already held: only observations change
    with transaction(graded) as session:
        io.import_rows(session, rows, today=TODAY)
    changes = _changes(graded)
    if limit >= len(rows):
        assert changes is not None and len(changes.models) == 1 and changes.altered == frozenset()
    else:
        assert changes is None  # the next grading verifies everything again
