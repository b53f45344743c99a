"""Predictions and saturation from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from phasewatch.models.criteria import STATES
from phasewatch.registry.db import transaction
from phasewatch.registry.predictions import seed_predictions
from tests.cli.test_cli import run
from tests.helpers import table_counts

TODAY = "2026-11-30"


@pytest.fixture
def with_predictions(cli_env: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("PHASEWATCH_TODAY", TODAY)  # the day the seven were re-expressed
    with transaction(engine) as session:
        seed_predictions(session)
    return engine


def test_list_shows_the_seven_with_deadlines_and_status(with_predictions: Engine) -> None:
    code, out, _ = run("predictions", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 7
    assert all(r["state"] in STATES and r["reason"] for r in rows)
    assert rows[0]["deadline"] == "2026-12-31" and rows[0]["benchmark_saturation"]["swe_bench_verified"]
    code, out, _ = run("predictions", "list")
    assert code == 0 and all(f"gp-{i}" in out for i in range(1, 8))


def test_grade_as_of_names_the_five_models(with_predictions: Engine) -> None:
    code, out, _ = run(
        "predictions", "grade", "--as-of", "2026-05-13", "--panel", "growing-pains-34", "--panel", "post-cutoff-2026-04"
    )
    assert code == 0
    assert "top-5 swe_bench_verified spread = 7 > 5 → met" in out
    for name in (
        "Claude Opus 4.7 87.6",
        "Claude Opus 4.5 80.9",
        "Claude Opus 4.6 80.8",
        "DeepSeek-V4-Pro 80.6",
        "Gemini 3.1 Pro 80.6",
    ):
        assert name in out


def test_verify_ok_then_tampered(with_predictions: Engine) -> None:
    code, out, _ = run("predictions", "verify")
    assert code == 0 and "chain intact: 14 prediction rows" in out
    with with_predictions.begin() as conn:
        conn.execute(
            text("UPDATE predictions SET criterion = :c WHERE key = 'gp-5' AND revision = 1"), {"c": '{"pass": {}}'}
        )
    code, _, err = run("predictions", "verify")
    assert code == 3 and "#5 gp-5@1: content does not match its hash" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("predictions", "grade")  # grading refuses a broken log, with the integrity exit code
    assert code == 3 and "first at #5 gp-5@1" in err
    assert run("predictions", "list")[0] == 3 and run("predictions", "score")[0] == 3


def test_head_checkpoint_and_expect_head(with_predictions: Engine, tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    code, out, err = run("predictions", "head", "--out", str(path))
    assert code == 0, err
    head = out.split()[1]
    saved = json.loads(path.read_text())
    assert saved["head"] == head and saved["date"] == TODAY and saved["predictions"]["count"] == 14
    code, out, _ = run("predictions", "verify", "--expect-head", head)
    assert code == 0 and "matches the published head" in out
    assert run("predictions", "verify", "--checkpoint", str(path))[0] == 0
    with with_predictions.begin() as conn:  # truncation: invisible inside the database, caught against the head
        conn.execute(text("DELETE FROM predictions WHERE id = 14"))
    assert run("predictions", "verify")[0] == 0
    code, _, err = run("predictions", "verify", "--expect-head", head)
    assert code == 3 and "not found in the logs" in err
    code, _, err = run("predictions", "verify", "--checkpoint", str(path))
    assert code == 3 and "prediction #14: removed since the checkpoint" in err
    path.write_text("{}")
    code, _, err = run("predictions", "verify", "--checkpoint", str(path))
    assert code == 2 and "not a phasewatch checkpoint" in err


def test_add_and_score(with_predictions: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            [
                {
                    "key": "mine-1",
                    "title": "SWE spread stays wide",
                    "probability": 0.75,
                    "criterion": {
                        "deadline": "2026-12-31",
                        "pass": {
                            "metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}},
                            "op": ">",
                            "value": 3,
                        },
                        "fail": {
                            "metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}},
                            "op": "<",
                            "value": 1,
                        },
                    },
                }
            ]
        )
    )
    code, out, err = run("predictions", "add", str(path))
    assert code == 0 and "registered mine-1@1" in out, err
    assert json.loads(run("predictions", "score", "--json")[1])["resolved"] == 0  # a spread waits for its deadline
    monkeypatch.setenv("PHASEWATCH_TODAY", "2027-01-05")
    code, out, _ = run("predictions", "score", "--json")
    scores = json.loads(out)
    assert scores["resolved"] == 1 and scores["brier"] == pytest.approx(0.0625) and scores["baseline_brier"] == 0.25


SETTLED = {
    "key": "done",
    "title": "someone reports HLE",
    "probability": 0.9,
    "criterion": {
        "deadline": "2027-06-30",
        "pass": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": ">=", "value": 1},
        "fail": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": "<", "value": 1},
    },
}


def test_a_prediction_already_resolvable_is_refused_unless_a_retrodiction(
    with_predictions: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "settled.json"
    path.write_text(json.dumps(SETTLED))
    before = table_counts(with_predictions)
    code, _, err = run("predictions", "add", str(path))
    assert code == 2 and "already resolvable at registration (passed" in err and "--retrodiction" in err
    assert table_counts(with_predictions) == before
    code, out, err = run("predictions", "add", str(path), "--retrodiction")
    assert code == 0 and "registered done@1 (retrodiction)" in out, err
    scores = json.loads(run("predictions", "score", "--json")[1])
    assert scores["resolved"] == 0 and scores["left_out"] == {"retrodiction": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "is not valid JSON"),
        (
            json.dumps(
                {
                    "key": "x",
                    "title": "t",
                    "criterion": {
                        "deadline": "2026-12-31",
                        "pass": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": "~", "value": 1},
                        "fail": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": ">", "value": 1},
                    },
                }
            ),
            "pass.op: '~' is not one of",
        ),
        (
            json.dumps(
                {
                    "key": "x",
                    "title": "t",
                    "criterion": {
                        "deadline": "2026-12-31",
                        "pass": {"metric": {"top_k_spread": {"benchmark": ["swe"], "k": 5}}, "op": "<", "value": 1},
                        "fail": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": ">", "value": 1},
                    },
                }
            ),
            "pass.metric.top_k_spread.benchmark: expected a benchmark key",
        ),
        (
            '{"key": "x", "title": "t", "criterion": {"deadline": "2026-12-31", '
            '"pass": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": "<", "value": NaN}, '
            '"fail": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": ">", "value": 1}}}',
            "pass.value: nan is not a finite number",
        ),
        (
            json.dumps(
                {
                    "key": "x",
                    "title": "t",
                    "source": {"a": 1},
                    "criterion": {
                        "deadline": "2026-12-31",
                        "pass": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": "<", "value": 1},
                        "fail": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": ">", "value": 1},
                    },
                }
            ),
            "the source must be a non-empty string",
        ),
    ],
)
def test_bad_prediction_files(with_predictions: Engine, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    before = table_counts(with_predictions)
    code, _, err = run("predictions", "add", str(path))
    assert code == 2 and message in err and table_counts(with_predictions) == before
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize("command", [("predictions", "list"), ("predictions", "grade"), ("saturation",)])
def test_csv_output_has_one_row_per_item(with_predictions: Engine, command: tuple[str, ...]) -> None:
    import csv
    import io

    code, out, err = run(*command, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    if command[-1] == "saturation":
        assert {r["benchmark"] for r in rows} >= {"swe_bench_verified", "gpqa_diamond", "hle", "ifeval"}
    else:
        assert [r["key"] for r in rows] == [f"gp-{i}@2" if command[-1] == "list" else f"gp-{i}" for i in range(1, 8)]
        assert {r.get("state") or r["status"].split(" ")[0] for r in rows} <= set(STATES)
    code, _, err = run(*command, "--format", "yaml")
    assert code == 2 and err.startswith("error: --format must be table, json or csv")


def test_releases_add_reports_moved_predictions(with_predictions: Engine) -> None:
    code, out, err = run(
        "releases",
        "add",
        "Frontier X",
        "--lab",
        "OpenAI",
        "--date",
        "2026-11-01",
        "--score",
        "swe_bench_verified=96",
        "--score",
        "gpqa_diamond=97",
        "--json",
    )
    assert code == 0, err
    moved = {m["key"]: m for m in json.loads(out)["predictions_moved"]}
    assert "gp-1" in moved  # a new top SWE score widens the top-5 spread


def _later_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What is logged after the as-of date: a release dated before it, a prediction, stored gradings."""
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-10")
    code, _, err = run(
        "releases",
        "add",
        "Frontier Late",
        "--lab",
        "OpenAI",
        "--date",
        "2026-06-15",
        "--score",
        "swe_bench_verified=97",
        "--score",
        "gpqa_diamond=40",
        "--score",
        "hle=60",
        "--score",
        "ifeval=50",
    )
    assert code == 0, err
    path = tmp_path / "later.json"
    path.write_text(
        json.dumps(
            {
                **SETTLED,
                "key": "later",
                "criterion": {
                    **SETTLED["criterion"],
                    "pass": {"metric": {"count": {"benchmarks": ["hle"]}}, "op": ">=", "value": 500},
                },
            }
        )
    )
    assert run("predictions", "add", str(path))[0] == 0
    assert run("predictions", "grade")[0] == 0


@pytest.mark.parametrize(
    "command",
    [("predictions", "grade"), ("predictions", "list"), ("predictions", "score"), ("saturation",)],
)
def test_as_of_is_exact_whatever_is_logged_later(
    with_predictions: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    args = (*command, "--as-of", "2026-11-30", "--json")
    code, first, err = run(*args)
    assert code == 0, err
    _later_data(tmp_path, monkeypatch)
    code, again, err = run(*args)
    assert code == 0, err
    assert json.loads(again) == json.loads(first)
    code, now, _ = run(*command, "--json")
    assert json.loads(now) != json.loads(first) or command == ("predictions", "score")  # the later data is seen now


def test_saturation_history_is_what_was_known_then(
    with_predictions: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hindsight: the 2026-09-30 point of today's history is the spread an as-of 2026-09-30 run gave."""
    _later_data(tmp_path, monkeypatch)
    now = json.loads(run("saturation", "--json")[1])
    then = json.loads(run("saturation", "--as-of", "2026-09-30", "--json")[1])
    past = {b["benchmark"]: b for b in then["benchmarks"]}
    assert past
    for current in now["benchmarks"]:
        point = next(h for h in current["history"] if h["date"] == "2026-09-30")
        then_b = past.get(current["benchmark"], {"spread": None, "n": 0})
        assert (point["spread"], point["n"]) == (then_b["spread"], then_b["n"]), current["benchmark"]


def test_saturation(with_predictions: Engine) -> None:
    code, out, _ = run("saturation", "--json")
    report = json.loads(out)
    assert code == 0
    spreads = {b["benchmark"]: b for b in report["benchmarks"]}
    assert spreads["swe_bench_verified"]["spread"] is not None and len(spreads["swe_bench_verified"]["top"]) == 5
    assert any(p["old"] == "swe_bench_verified" and p["new"] == "gpqa_diamond" for p in report["pairs"])
    code, _, err = run("saturation", "--as-of", "2026-05")
    assert code == 2 and "not a full date" in err


def test_past_every_deadline_each_dated_prediction_is_resolved(
    with_predictions: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock moved past the last deadline (2027-12-31): every prediction judged at a date
    is resolved; one judged when a lab's release window closes waits for those releases."""
    from phasewatch.models.criteria import RESOLVED

    monkeypatch.setenv("PHASEWATCH_TODAY", "2028-01-15")
    code, out, err = run("predictions", "grade", "--json")
    assert code == 0, err
    rows = json.loads(out)
    rows = rows if isinstance(rows, list) else rows["predictions"]
    assert len(rows) == 7
    listed = {r["key"]: r for r in json.loads(run("predictions", "list", "--json")[1])}
    for row in rows:
        deadline = listed[row["key"]]["deadline"]
        if deadline is not None and "release window" not in row["note"] + json.dumps(row):
            assert deadline <= "2028-01-15" and row["state"] in RESOLVED, row
        else:
            assert row["state"] in RESOLVED or row["state"] == "not-yet-resolvable", row
    assert sum(r["state"] in RESOLVED for r in rows) >= 5
    code, out, _ = run("predictions", "score", "--json")  # the paper's seven carry no probability: none is scored
    assert code == 0 and json.loads(out)["note"] == "no resolved prediction carries a probability"
