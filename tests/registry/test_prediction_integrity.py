"""A log that catches every edit: twenty kinds of raw-SQL tampering, each caught
against the published head (and most without it); forks and cascades refused by
the database; grading refuses a broken log; concurrent registrations on
PostgreSQL leave one valid chain."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sqlite3
from collections.abc import Callable
from contextlib import nullcontext

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.errors import IntegrityError
from phasewatch.registry.predictions import (
    GENESIS,
    add_predictions,
    chain_hash,
    checkpoint_of,
    content_of,
    grade_predictions,
    grading_content,
    seed_predictions,
    verify_chain,
)
from phasewatch.registry.schema import Observation, Prediction, PredictionGrading

TODAY = dt.date(2026, 11, 30)
PUBLISHED_ON = dt.date(2026, 12, 5)
USER = {
    "key": "my-1",
    "title": "SWE top-5 spread stays above 3 pp",
    "probability": 0.8,
    "criterion": {
        "deadline": "2026-12-31",
        "pass": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": ">", "value": 3},
        "fail": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": "<", "value": 1},
    },
}


@pytest.fixture
def published(engine: Engine) -> tuple[Engine, dict]:
    """Seven + re-expression + one user prediction, gradings sealed on two dates, a checkpoint published."""
    with transaction(engine) as session:
        seed_predictions(session)
        add_predictions(session, USER, today=TODAY)
        grade_predictions(session, TODAY, store=True)
        grade_predictions(session, dt.date(2027, 1, 5), store=True)
        checkpoint = checkpoint_of(session, PUBLISHED_ON)
        assert verify_chain(session, checkpoint["head"], checkpoint).ok
        assert checkpoint["predictions"]["count"] == 15 and checkpoint["gradings"]["count"] > 8
    return engine, checkpoint


def raw(engine: Engine) -> sqlite3.Connection:
    """The attacker's own connection: plain sqlite3, foreign keys not enforced."""
    return sqlite3.connect(engine.url.database, isolation_level=None)


def _rehash_predictions(engine: Engine, start_id: int, *, seal_gradings: bool = False) -> None:
    """Recompute every prediction hash from ``start_id`` on (the algorithm is public)."""
    with transaction(engine) as session:
        rows = list(session.scalars(select(Prediction).order_by(Prediction.id)))
        by_id = {r.id: r for r in rows}
        previous = None
        for row in rows:
            if row.id >= start_id:
                row.prev_hash = previous.content_hash if previous else GENESIS
                sup = by_id.get(row.supersedes_id)
                row.content_hash = chain_hash(
                    content_of(row, f"{sup.key}@{sup.revision}" if sup else None), row.prev_hash
                )
                session.flush()
            previous = row
        if seal_gradings:
            _reseal(session, by_id)


def _reseal(session, by_id: dict) -> None:
    previous = None
    for g in session.scalars(select(PredictionGrading).order_by(PredictionGrading.id)):
        g.prediction_hash = by_id[g.prediction_id].content_hash
        g.prev_hash = previous.content_hash if previous else GENESIS
        g.content_hash = chain_hash(grading_content(g), g.prev_hash)
        session.flush()
        previous = g


def _edit_criterion(engine: Engine, row_id: int, change: Callable[[dict], None]) -> None:
    with raw(engine) as conn:
        criterion = json.loads(conn.execute("SELECT criterion FROM predictions WHERE id = ?", (row_id,)).fetchone()[0])
        change(criterion)
        conn.execute("UPDATE predictions SET criterion = ? WHERE id = ?", (json.dumps(criterion), row_id))


def _gp1_fail_to_50(criterion: dict) -> None:
    criterion["fail"]["value"] = 50


def _append_forged(engine: Engine, day: str) -> None:
    with transaction(engine) as session:
        head = session.scalar(select(Prediction).order_by(Prediction.id.desc()).limit(1))
        row = Prediction(
            key="forged",
            revision=1,
            title="t",
            statement="s",
            criterion=USER["criterion"],
            registered_at=dt.date.fromisoformat(day),
            deadline=dt.date(2026, 12, 31),
            probability=0.9,
            source=None,
            retrodiction=False,
            supersedes_id=None,
            prev_hash=head.content_hash,
        )
        row.content_hash = chain_hash(content_of(row, None), row.prev_hash)
        session.add(row)


def _used_observation(engine: Engine) -> int:
    with transaction(engine) as session:
        return max(i for g in session.scalars(select(PredictionGrading)) for i, _ in g.observations)


def _sql(*statements: str) -> Callable[[Engine], None]:
    def run(engine: Engine) -> None:
        with raw(engine) as conn:
            for statement in statements:
                conn.execute(statement)

    return run


def _edit_last_and_rehash(engine: Engine) -> None:
    _sql("UPDATE predictions SET probability = 0.99 WHERE id = (SELECT max(id) FROM predictions)")(engine)
    _rehash_predictions(engine, 15)


def _rewrite_from_middle(engine: Engine) -> None:
    _edit_criterion(engine, 8, _gp1_fail_to_50)
    _rehash_predictions(engine, 8)


def _backdate_and_rehash(engine: Engine) -> None:
    _sql("UPDATE predictions SET registered_at = '2026-05-01' WHERE id = 9")(engine)
    _rehash_predictions(engine, 9)


def _edit_last_grading_and_rehash(engine: Engine) -> None:
    with transaction(engine) as session:
        last = session.scalar(select(PredictionGrading).order_by(PredictionGrading.id.desc()).limit(1))
        last.state = "ambiguous"
        last.content_hash = chain_hash(grading_content(last), last.prev_hash)


def _full_rewrite(engine: Engine) -> None:
    _edit_criterion(engine, 8, _gp1_fail_to_50)
    _rehash_predictions(engine, 1, seal_gradings=True)


def _edit_observation(engine: Engine) -> None:
    _sql(f"UPDATE observations SET value = value + 1 WHERE id = {_used_observation(engine)}")(engine)


def _delete_observation(engine: Engine) -> None:
    obs = _used_observation(engine)
    _sql(f"DELETE FROM panel_observations WHERE observation_id = {obs}", f"DELETE FROM observations WHERE id = {obs}")(
        engine
    )


# kind -> (tampering, caught without the published head too?, the first row the check file names)
TAMPERING: dict[str, tuple[Callable[[Engine], None], bool, str]] = {
    "edit a middle row's statement": (_sql("UPDATE predictions SET statement = 'x' WHERE id = 3"), True, "#3 gp-3@1"),
    "change gp-1's fail threshold 5 -> 50": (lambda e: _edit_criterion(e, 8, _gp1_fail_to_50), True, "#8 gp-1@2"),
    "edit a row and forge its hash": (
        _sql("UPDATE predictions SET title = 'x', content_hash = 'ab' WHERE id = 4"),
        True,
        "#4 gp-4@1",
    ),
    "delete the newest row": (_sql("DELETE FROM predictions WHERE id = 15"), True, "prediction #15"),  # it was graded
    "delete the last two rows": (_sql("DELETE FROM predictions WHERE id >= 14"), True, "prediction #14"),
    "edit the last row and recompute its hash": (
        _edit_last_and_rehash,
        True,
        "#15 my-1@1",
    ),  # its gradings no longer match
    "rewrite the chain from a middle row on": (_rewrite_from_middle, True, "#8 gp-1@2"),
    "append a back-dated prediction with a correct hash": (lambda e: _append_forged(e, "2026-06-01"), True, ""),
    "append a prediction dated before the checkpoint": (lambda e: _append_forged(e, "2026-12-01"), False, ""),
    "delete every row": (_sql("DELETE FROM prediction_gradings", "DELETE FROM predictions"), False, "prediction #1"),
    "delete a middle row": (_sql("DELETE FROM predictions WHERE id = 5"), True, "prediction #5"),
    "move a registration date back and recompute": (_backdate_and_rehash, True, "#9 gp-2@2"),
    "swap two rows' contents": (
        _sql(
            "UPDATE predictions SET id = -1 WHERE id = 2",
            "UPDATE predictions SET id = 2 WHERE id = 3",
            "UPDATE predictions SET id = 3 WHERE id = -1",
        ),
        True,
        "#2 gp-3@1",
    ),
    "edit a grading's state": (
        _sql("UPDATE prediction_gradings SET state = 'passed' WHERE id = 2"),
        True,
        "grading #2",
    ),
    "delete a middle grading": (_sql("DELETE FROM prediction_gradings WHERE id = 3"), True, "grading #3"),
    "delete the newest grading": (
        _sql("DELETE FROM prediction_gradings WHERE id = (SELECT max(id) FROM prediction_gradings)"),
        False,
        "grading #",
    ),
    "edit the newest grading and recompute its hash": (_edit_last_grading_and_rehash, False, "grading #"),
    "edit a score observation a grading used": (_edit_observation, True, ""),
    "delete a score observation a grading used": (_delete_observation, True, ""),
    "rewrite both logs consistently from the first row": (_full_rewrite, False, "#8 gp-1@2"),
}


def test_there_are_twenty_kinds() -> None:
    assert len(TAMPERING) == 20


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_each_tampering_is_caught_against_the_published_head(
    published: tuple[Engine, dict], kind: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the attacker's raw connection here is sqlite3")
    engine, checkpoint = published
    tamper, caught_inside, first = TAMPERING[kind]
    tamper(engine)
    with transaction(engine) as session:
        alone = verify_chain(session)
        against_head = verify_chain(session, checkpoint["head"])
        against_file = verify_chain(session, checkpoint["head"], checkpoint)
    assert not against_head.ok or not against_file.ok, kind
    assert not against_file.ok, kind
    assert alone.ok is not caught_inside, (kind, alone.problems)
    if first:
        assert first in " ".join(against_file.problems), (kind, against_file.problems)
    with pytest.raises(IntegrityError) if caught_inside else nullcontext(), transaction(engine) as session:
        grade_predictions(session, TODAY, store=True)


def test_a_deleted_middle_row_is_named_not_the_next_one(published: tuple[Engine, dict], backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("raw sqlite3 edit")
    engine, _ = published
    _sql("DELETE FROM predictions WHERE id = 5")(engine)
    with transaction(engine) as session:
        check = verify_chain(session)
    assert check.problems[0].startswith("prediction row(s) #5 after #4 gp-4@1 removed")


def test_the_threshold_edit_makes_grading_refuse_with_exit_three(published: tuple[Engine, dict], backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("raw sqlite3 edit")
    engine, _ = published
    _edit_criterion(engine, 8, _gp1_fail_to_50)
    with pytest.raises(IntegrityError) as raised, transaction(engine) as session:
        grade_predictions(session, TODAY, store=True)
    assert raised.value.exit_code == 3 and "#8 gp-1@2" in str(raised.value)


def test_forks_and_cascades_are_refused_by_the_database(published: tuple[Engine, dict]) -> None:
    engine, _ = published
    with pytest.raises(DBIntegrityError), engine.begin() as conn:  # a second row on the same predecessor
        conn.execute(
            text(
                "INSERT INTO predictions (key, revision, title, statement, criterion, registered_at, "
                "retrodiction, prev_hash, content_hash) SELECT 'fork', 1, title, statement, criterion, "
                "registered_at, retrodiction, prev_hash, 'f' || substr(content_hash, 2) FROM predictions WHERE id = 2"
            )
        )
    with pytest.raises(DBIntegrityError), engine.begin() as conn:  # gradings are never cascaded away
        conn.execute(text("DELETE FROM predictions WHERE id = 8"))
    with transaction(engine) as session:
        assert verify_chain(session).ok


def _register(url: str, worker: int, count: int, barrier) -> None:
    engine = make_engine(url)
    barrier.wait()
    for i in range(count):
        with transaction(engine) as session:
            add_predictions(session, {**USER, "key": f"w{worker}-{i}"}, today=TODAY)
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_registrations_make_one_chain(pg_server: str, new_registry: Callable[[], str], backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the race needs PostgreSQL")
    url = new_registry()
    engine = make_engine(url)
    with transaction(engine) as session:
        seed_predictions(session)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_register, args=(url, w, 6, barrier)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    with transaction(engine) as session:
        check = verify_chain(session)
        prevs = list(session.scalars(select(Prediction.prev_hash)))
    engine.dispose()
    assert check.ok, check.problems
    assert check.rows == 14 + 18 and len(set(prevs)) == len(prevs)


def test_an_intact_log_verifies_against_an_older_published_head(published: tuple[Engine, dict]) -> None:
    """Legitimate appends after publication do not break the published head."""
    engine, checkpoint = published
    with transaction(engine) as session:
        add_predictions(session, {**USER, "key": "my-2"}, today=PUBLISHED_ON)
        grade_predictions(session, PUBLISHED_ON, store=True)
        assert verify_chain(session, checkpoint["head"], checkpoint).ok


def test_sealed_observations_are_the_ones_used(published: tuple[Engine, dict]) -> None:
    engine, _ = published
    with transaction(engine) as session:
        gradings = list(session.scalars(select(PredictionGrading)))
        ids = {i for g in gradings for i, _ in g.observations}
        found = set(session.scalars(select(Observation.id).where(Observation.id.in_(ids))))
    assert ids and ids == found


def test_migration_0007_keeps_old_hashes_and_seals_old_gradings(empty_url: str) -> None:
    """A registry written before 0007 (NULL first link, unsealed gradings) verifies after the upgrade."""
    from phasewatch.registry.db import downgrade, upgrade

    engine = make_engine(empty_url)
    upgrade(engine, "0005")
    rows, prev = [], None
    for i in (1, 2):
        row = Prediction(
            key=f"old-{i}",
            revision=1,
            title="t",
            statement="s",
            criterion=USER["criterion"],
            registered_at=dt.date(2026, 5, 13),
            deadline=dt.date(2026, 12, 31),
            probability=0.5,
            source=None,
            retrodiction=False,
            prev_hash=prev,
        )
        row.content_hash = chain_hash(content_of(row, None), prev)
        rows.append(row)
        prev = row.content_hash
    with engine.begin() as conn:
        for i, row in enumerate(rows, start=1):
            conn.execute(
                text(
                    "INSERT INTO predictions (id, key, revision, title, statement, criterion, registered_at, "
                    "deadline, probability, prev_hash, content_hash) VALUES (:id, :key, 1, 't', 's', :c, "
                    "'2026-05-13', '2026-12-31', 0.5, :prev, :h)"
                ),
                {
                    "id": i,
                    "key": row.key,
                    "c": json.dumps(USER["criterion"]),
                    "prev": row.prev_hash,
                    "h": row.content_hash,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO prediction_gradings (prediction_id, as_of, state, panels, evidence) "
                    "VALUES (:id, '2026-06-01', 'pending', 'p', :e)"
                ),
                {"id": i, "e": json.dumps({"note": "x"})},
            )
    upgrade(engine)
    with transaction(engine) as session:
        check = verify_chain(session)
        first = session.scalar(select(Prediction).where(Prediction.id == 1))
    assert check.ok, check.problems
    assert (check.rows, check.gradings, first.prev_hash) == (2, 2, GENESIS)
    downgrade(engine, "0005")  # and back, the gradings kept
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prediction_gradings")).scalar_one() == 2
    engine.dispose()


def test_fingerprint_is_the_sha256_of_the_canonical_parts() -> None:
    """The direct writer of a fingerprint's JSON equals the definition, sha256 of
    ``canonical(parts)``, on text that JSON must escape (quotes, backslashes, control
    characters, non-ASCII, brackets) and on edge values, so seals made before it verify."""
    import hashlib
    import random
    from types import SimpleNamespace

    from phasewatch.registry.predictions import canonical, observation_fingerprint

    def defined(o: SimpleNamespace) -> str:
        parts = [
            o.model_id,
            o.benchmark_id,
            repr(float(o.value)),
            None if o.stderr is None else repr(float(o.stderr)),
            o.setting,
            o.source_url,
            o.reported_by,
            o.retrieved_on.isoformat() if o.retrieved_on else None,
        ]
        return hashlib.sha256(canonical(parts).encode()).hexdigest()

    alphabet = 'ab "\\\n\t\x01\x1f\x7fé☃𝄞],[{}:'
    draw = random.Random(20261201)

    def text_or_none() -> str | None:
        return None if draw.random() < 0.2 else "".join(draw.choice(alphabet) for _ in range(draw.randint(0, 9)))

    values = [0.0, -0.0, 1e-300, 1e300, 0.1 + 0.2, 70.5, float("inf"), 12]
    for _ in range(3000):
        o = SimpleNamespace(
            model_id=draw.randint(1, 10**7),
            benchmark_id=draw.randint(1, 200),
            value=draw.choice([*values, draw.random() * 100]),
            stderr=None if draw.random() < 0.5 else draw.choice([*values, draw.random()]),
            setting=text_or_none(),
            source_url=text_or_none(),
            reported_by=text_or_none(),
            retrieved_on=None if draw.random() < 0.3 else dt.date(2025, 1, 1) + dt.timedelta(draw.randint(0, 900)),
        )
        assert observation_fingerprint(o) == defined(o)
