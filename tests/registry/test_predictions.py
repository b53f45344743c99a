"""The prediction registry: the seven, grading as of a date, the hash chain, user predictions, scoring."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine, func, select, text

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.predictions import (
    add_predictions,
    grade_predictions,
    movements,
    score_predictions,
    seed_predictions,
    snapshot,
    verify_chain,
)
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import Prediction, PredictionGrading
from tests.helpers import source_path, table_counts

PAPER = ("growing-pains-34", "post-cutoff-2026-04")
TODAY = dt.date(2026, 11, 30)  # the day the seven were re-expressed (revision 2)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with transaction(engine) as session:
        assert seed_predictions(session) == 14  # the seven verbatim, then their re-expression (revision 2)
        assert seed_predictions(session) == 0
    return engine


def test_the_seven_are_registered_with_deadlines(seeded: Engine) -> None:
    with transaction(seeded) as session:
        rows = grade_predictions(session, TODAY)
        before = grade_predictions(session, dt.date(2026, 11, 29))
        assert grade_predictions(session, dt.date(2026, 5, 12)) == []  # nothing was registered yet
    assert [r.key for r in rows] == [f"gp-{i}" for i in range(1, 8)]
    assert {(r.revision, r.registered_at, r.window_from) for r in rows} == {(2, "2026-11-30", "2026-05-13")}
    assert {(r.revision, r.registered_at) for r in before} == {(1, "2026-05-13")}  # as of the day before: the originals
    deadlines = {r.key: r.deadline for r in rows}
    assert deadlines["gp-1"] == "2026-12-31" and deadlines["gp-5"] == "2027-05-31" and deadlines["gp-3"] is None


def test_prediction_one_on_registration_day(seeded: Engine) -> None:
    """The paper's status file: top-5 SWE spread 7.0 pp, counting Claude Opus 4.7 (data known by 2026-05-12)."""
    paper = json.loads(source_path("cape-scaling", "frontier_34models.json").read_text())["models"]
    post = json.loads(source_path("cape-scaling", "post_cutoff_april2026.json").read_text())["models"]
    top = sorted(((m["swe"], m["name"]) for m in paper + post), key=lambda t: (-t[0], t[1]))[:5]
    with transaction(seeded) as session:
        gp1 = grade_predictions(session, dt.date(2026, 5, 13), PAPER)[0]
    fail = gp1.grade.evidence["fail"]
    assert fail["value"] == pytest.approx(top[0][0] - top[-1][0]) == pytest.approx(7.0)
    assert sorted(v for _, v in fail["models"]) == sorted(v for v, _ in top)
    assert "Claude Opus 4.7" in [name for name, _ in fail["models"]]
    assert gp1.state == "pending" and "fail condition currently holds" in gp1.note


def test_grading_as_of_a_date_is_reproducible_and_ignores_later_data(seeded: Engine) -> None:
    with transaction(seeded) as session:
        first = grade_predictions(session, dt.date(2026, 5, 13), PAPER, store=True)
        add_release(
            session,
            ReleaseRequest(
                name="Claude Opus 5",
                lab="Anthropic",
                date="2026-05-01",
                scores=(ScoreInput("swe_bench_verified", 95.0),),
            ),
            today=TODAY,
        )
        again = grade_predictions(session, dt.date(2026, 5, 13), PAPER, store=True)
        now = grade_predictions(session, TODAY, PAPER)
        # sealed only when a state changes: the second, identical grading stores nothing
        assert session.scalar(select(func.count()).select_from(PredictionGrading)) == 7
        assert verify_chain(session).ok
    assert [(r.state, r.grade.evidence) for r in first] == [(r.state, r.grade.evidence) for r in again]
    assert now[0].grade.evidence["fail"]["models"][0] == ["Claude Opus 5", 95.0]  # known from today on


def test_data_known_only_later_is_not_used_before(seeded: Engine) -> None:
    with transaction(seeded) as session:
        may = {r.name for r in snapshot(session, ("sourced-2026-11",), dt.date(2026, 5, 12))}
        november = {r.name for r in snapshot(session, ("sourced-2026-11",), TODAY)}
    assert may == set() and len(november) == 91  # the sourced panel was compiled in November


def test_first_listed_panel_wins_where_sources_disagree(seeded: Engine) -> None:
    with transaction(seeded) as session:
        paper_first = {r.name: r.scores for r in snapshot(session, ("growing-pains-34", "sourced-2026-11"), TODAY)}
        sourced_first = {r.name: r.scores for r in snapshot(session, ("sourced-2026-11", "growing-pains-34"), TODAY)}
    assert paper_first["Claude Sonnet 4.6"]["gpqa_diamond"] == 74.1
    assert sourced_first["Claude Sonnet 4.6"]["gpqa_diamond"] == 89.9


def test_raw_sql_edit_is_caught_by_verify(seeded: Engine) -> None:
    with transaction(seeded) as session:
        assert verify_chain(session).ok
    with seeded.begin() as conn:  # someone quietly moves the goalposts
        conn.execute(
            text(
                "UPDATE predictions SET statement = 'DeepSeek goes reasoning-first' WHERE key = 'gp-3' AND revision = 1"
            )
        )
    with transaction(seeded) as session:
        check = verify_chain(session)
    assert (
        not check.ok and len(check.problems) == 1 and check.problems[0].startswith("#3 gp-3@1: content does not match")
    )
    with seeded.begin() as conn:  # ... and forges its hash too: the next row's link breaks
        conn.execute(
            text("UPDATE predictions SET content_hash = :h WHERE key = 'gp-3' AND revision = 1"), {"h": "f" * 64}
        )
    with transaction(seeded) as session:
        check = verify_chain(session)
    assert check.first_altered == "#3 gp-3@1" and any("#4 gp-4@1's link no longer matches" in p for p in check.problems)


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


def test_user_predictions_revisions_and_scores(seeded: Engine) -> None:
    with transaction(seeded) as session:
        assert add_predictions(session, USER, today=TODAY) == ["my-1@1"]
        with pytest.raises(ConflictError, match="already registered"):
            add_predictions(session, USER, today=TODAY)
        assert add_predictions(session, {**USER, "probability": 0.6}, revise=True, today=TODAY) == ["my-1@2"]
        other = {
            **USER,
            "key": "my-2",
            "probability": 0.3,
            "criterion": {
                **USER["criterion"],
                "pass": {**USER["criterion"]["pass"], "op": "<", "value": 3},
                "fail": {**USER["criterion"]["fail"], "op": ">", "value": 3},
                "fail_when": "any_time",
            },
        }
        add_predictions(session, other, today=TODAY)
        assert score_predictions(session, TODAY).resolved == 0  # spreads are judged at the deadline
        scores = score_predictions(session, dt.date(2027, 1, 5))
        assert verify_chain(session).ok
    outcomes = {i["key"]: (i["probability"], i["outcome"]) for i in scores.items}
    assert outcomes == {"my-1": (0.6, 1.0), "my-2": (0.3, 0.0)}  # the latest revision counts; spread is 7 pp
    assert scores.brier == pytest.approx(((0.6 - 1) ** 2 + 0.3**2) / 2)
    assert scores.brier_skill == pytest.approx(1 - scores.brier / 0.25) and scores.baseline_log_score == pytest.approx(
        -0.693147, abs=1e-6
    )
    assert sum(b.count for b in scores.bins) == 2 and "small sample" in scores.note


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            {
                "criterion": {
                    **USER["criterion"],
                    "pass": {"metric": {"top_k_spread": {"benchmark": "swe", "k": 5}}, "op": ">", "value": 3},
                }
            },
            InvalidInputError,
            "unknown benchmark 'swe'",
        ),
        ({"probability": 1.5}, InvalidInputError, "not in (0, 1)"),
        ({"colour": "red"}, InvalidInputError, "unknown field(s) colour"),
        ({"registered_at": "2026-01-01"}, InvalidInputError, "unknown field(s) registered_at"),  # set by the program
        (
            {
                "criterion": {
                    **USER["criterion"],
                    "trend": {
                        "x": "swe_bench_verified",
                        "y": "gpqa_diamond",
                        "slope": 1,
                        "intercept": 0,
                        "source": "t",
                    },
                    "pass": {
                        "metric": {"h_field": {"lab": "Nowhere AI", "next_releases": 1}},
                        "over": "each",
                        "op": ">",
                        "value": 0,
                    },
                }
            },
            NotFoundError,
            "unknown lab 'Nowhere AI'",
        ),
    ],
)
def test_malformed_user_predictions_write_nothing(seeded: Engine, change: dict, error: type, message: str) -> None:
    before = table_counts(seeded)
    with pytest.raises(error) as raised, transaction(seeded) as session:
        add_predictions(session, {**USER, **change}, today=TODAY)
    assert message in str(raised.value) and table_counts(seeded) == before


def test_two_deepseek_releases_resolve_prediction_three(seeded: Engine) -> None:
    with transaction(seeded) as session:
        before = grade_predictions(session, TODAY)
        for name, day, swe, gpqa in (
            ("DeepSeek V5", "2026-07-01", 85.0, 88.0),
            ("DeepSeek V5.1", "2026-09-01", 86.0, 89.0),
        ):
            add_release(
                session,
                ReleaseRequest(
                    name=name,
                    lab="DeepSeek",
                    date=day,
                    scores=(ScoreInput("swe_bench_verified", swe), ScoreInput("gpqa_diamond", gpqa)),
                ),
                today=TODAY,
            )
        after = grade_predictions(session, TODAY)
    moved = {m.key: m for m in movements(before, after)}
    assert moved["gp-3"].before == "not-yet-resolvable" and moved["gp-3"].after == "passed"  # h = -1.0, -0.5
    h = [row[2] for row in next(r for r in after if r.key == "gp-3").grade.evidence["pass"]["releases"]]
    assert h == pytest.approx([88.0 - (0.513 * 85.0 + 46.4), 89.0 - (0.513 * 86.0 + 46.4)])
    assert "gp-4" not in moved


def test_prediction_rows_are_never_updated_by_the_library(seeded: Engine) -> None:
    with transaction(seeded) as session:
        add_predictions(session, USER, today=TODAY)
        add_predictions(session, {**USER, "title": "changed"}, revise=True, today=TODAY)
        revisions = list(
            session.scalars(select(Prediction).where(Prediction.key == "my-1").order_by(Prediction.revision))
        )
    assert [r.title for r in revisions] == [USER["title"], "changed"]
    assert revisions[1].supersedes_id == revisions[0].id and revisions[1].prev_hash == revisions[0].content_hash


def test_states_hold_until_the_deadline_on_the_same_data(seeded: Engine) -> None:
    """Graded on the same data at later dates, no state changes before its deadline unless
    settled; gp-5 is never passed before 2027-05-31 (and is at it, the coupling still holding)."""
    with transaction(seeded) as session:
        base = {r.key: r for r in grade_predictions(session, TODAY)}
        later = {
            day: {r.key: r for r in grade_predictions(session, day)}
            for day in (dt.date(2026, 12, 30), dt.date(2027, 3, 1), dt.date(2027, 5, 30), dt.date(2027, 5, 31))
        }
    for day, rows in later.items():
        for key, row in rows.items():
            deadline = base[key].deadline
            if deadline is None or day < dt.date.fromisoformat(deadline):
                assert (row.state, row.reason) == (base[key].state, base[key].reason), (key, day)
            else:
                assert row.state in ("passed", "failed", "inconclusive", "annulled", "ambiguous"), (key, day)
    assert base["gp-5"].state == "pending" and base["gp-5"].grade.passing is True
    assert later[dt.date(2027, 5, 30)]["gp-5"].state == "pending"
    assert (later[dt.date(2027, 5, 31)]["gp-5"].state, later[dt.date(2027, 5, 31)]["gp-5"].reason) == (
        "passed",
        "pass_at_resolution",
    )
    assert (
        later[dt.date(2026, 12, 30)]["gp-1"].state == "pending" and later[dt.date(2027, 3, 1)]["gp-1"].state == "failed"
    )
    assert later[dt.date(2027, 3, 1)]["gp-2"].state == "annulled"  # no post-registration IFEval figures bundled


def test_retrodictions_and_already_resolvable_predictions(seeded: Engine) -> None:
    settled = {
        **USER,
        "key": "done",
        "criterion": {
            "deadline": "2027-06-30",
            "pass": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": ">=", "value": 1},
            "fail": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": "<", "value": 1},
        },
    }
    past = {**USER, "key": "past", "criterion": {**USER["criterion"], "deadline": "2026-11-01"}}
    with transaction(seeded) as session:
        for entry in (settled, past):
            with pytest.raises(InvalidInputError, match="already resolvable at registration"):
                add_predictions(session, entry, today=TODAY)
        assert add_predictions(session, settled, today=TODAY, retrodiction=True) == ["done@1 (retrodiction)"]
        assert add_predictions(session, {**past, "retrodiction": True}, today=TODAY) == ["past@1 (retrodiction)"]
        scores = score_predictions(session, TODAY)
        assert verify_chain(session).ok
    assert scores.resolved == 0 and scores.left_out == {"retrodiction": 2}


def test_releases_without_scores_take_their_window_place_and_are_listed(seeded: Engine) -> None:
    """DeepSeek logs two releases without the needed scores: they are the window, listed, and
    once 90 days pass unreported the prediction is annulled, not 'none yet'."""
    with transaction(seeded) as session:
        add_release(
            session,
            ReleaseRequest(name="DeepSeek-V5", lab="DeepSeek", date="2026-06-01", scores=(ScoreInput("hle", 40.0),)),
            today=TODAY,
        )
        add_release(session, ReleaseRequest(name="DeepSeek-V5.1", lab="DeepSeek", date="2026-07-01"), today=TODAY)
        add_release(
            session,
            ReleaseRequest(
                name="DeepSeek-V6",
                lab="DeepSeek",
                date="2026-08-01",
                scores=(ScoreInput("swe_bench_verified", 85.0), ScoreInput("gpqa_diamond", 88.0)),
            ),
            today=TODAY,
        )
        late = dt.date(2099, 1, 1)  # the releases' created_at is the wall clock; grade well after it
        gp3 = next(r for r in grade_predictions(session, late) if r.key == "gp-3")
    entries = gp3.grade.evidence["pass"]["entries"]
    assert [e["name"] for e in entries] == ["DeepSeek-V5", "DeepSeek-V5.1"]
    assert all(e["status"].startswith("unresolvable") for e in entries)
    assert gp3.grade.evidence["pass"]["after_window"] == ["DeepSeek-V6"]
    assert (gp3.state, gp3.reason) == ("annulled", "unreported_scores")


def test_registration_dates_only_move_forward(seeded: Engine) -> None:
    with pytest.raises(ConflictError, match="registration dates only move forward"), transaction(seeded) as session:
        add_predictions(session, USER, today=dt.date(2026, 11, 1))  # the chain's head is dated 2026-11-30


# The bundled seven and their re-expression as hashed before the criterion tree existed:
# parsing into the tree and back must not move a single hash.
BUNDLED_HASHES = [
    "2554de0e4d99bd06888e63140314df7e7f03592fba5711de14dcea75dbe783c9",
    "9a72a098a230dfa724556d5929f14a9c0ce6ca68a164d2c5e7964f9449e558b4",
    "6fe4f1fee3f999c5978169453e2454f59f1dfa4c9807891a3b2508a5beeb5bd9",
    "77441031f635376d9b7e7a00b023e04dad8758cd4b0c88c37cdc335fc6e609e0",
    "2cadd0e06bb1dbb1fff68fabbb03693215526c18e8a9ad8fbf5a17aa4f7bba69",
    "6ce454e0473b523c709cda95c1e2e1f4be9359351522f1903dda9ce7decb0e6f",
    "93d38bbabe1df5f0288d54a4e3bc9f734a9a795063c221926b7e03b88cff581d",
    "e241fed0711488acb7adcecbea015cec2afa6822f3ee0c6891e63a90ded0f2df",
    "c3b3a7a6822c3323332f8b99a21b7a4d9ee0fcaa7331bc43a0a7921a38bd7a03",
    "50a7522496bfad94737902409ca5bcde998368654f9379a05993c9a511b28948",
    "ecad99820c05589004c513fcb797f0512b15cfb8ccc442bb4ac65a906ab5afbf",
    "c14b2b24bff8a1eed401d4fb63930020778dc6f2540dd379c9ccefa852d01e10",
    "e9ddbafbf53fa4d91945d589e63319126326c7a5dc81e2995c1a72af6c48e84c",
    "3e44d017c521982ede5dc51fbb8aeeebbb4966c599562202c798dcf061a279df",
]


def test_the_bundled_seven_hash_as_before_the_tree(seeded: Engine) -> None:
    with transaction(seeded) as session:
        hashes = list(session.scalars(select(Prediction.content_hash).order_by(Prediction.id)))
        assert hashes == BUNDLED_HASHES
        assert verify_chain(session).ok
