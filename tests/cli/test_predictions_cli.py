"""Predictions and saturation from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from phasewatch.registry.db import transaction
from phasewatch.registry.predictions import seed_predictions
from tests.cli.test_cli import run
from tests.helpers import table_counts


@pytest.fixture
def with_predictions(cli_env: str, engine: Engine) -> Engine:
    with transaction(engine) as session:
        seed_predictions(session)
    return engine


def test_list_shows_the_seven_with_deadlines_and_status(with_predictions: Engine) -> None:
    code, out, _ = run("predictions", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 7
    assert all(r["state"] in ("pending", "passed", "failed", "inconclusive", "not-yet-resolvable") for r in rows)
    assert rows[0]["deadline"] == "2026-12-31" and rows[0]["benchmark_saturation"]["swe_bench_verified"]
    code, out, _ = run("predictions", "list")
    assert code == 0 and all(f"gp-{i}" in out for i in range(1, 8))


def test_grade_as_of_names_the_five_models(with_predictions: Engine) -> None:
    code, out, _ = run("predictions", "grade", "--as-of", "2026-05-12", "--panel", "growing-pains-34",
                       "--panel", "post-cutoff-2026-04")  # fmt: skip
    assert code == 0
    assert "top-5 swe_bench_verified spread = 7 > 5 → met" in out
    for name in ("Claude Opus 4.7 87.6", "Claude Opus 4.5 80.9", "Claude Opus 4.6 80.8", "DeepSeek-V4-Pro 80.6", "Gemini 3.1 Pro 80.6"):
        assert name in out


def test_verify_ok_then_tampered(with_predictions: Engine) -> None:
    code, out, _ = run("predictions", "verify")
    assert code == 0 and "chain intact: 7 prediction rows" in out
    with with_predictions.begin() as conn:
        conn.execute(text("UPDATE predictions SET criterion = :c WHERE key = 'gp-5'"), {"c": '{"pass": {}}'})
    code, _, err = run("predictions", "verify")
    assert code == 2 and "#5 gp-5@1: content does not match its hash" in err and len(err.strip().splitlines()) == 1


def test_add_and_score(with_predictions: Engine, tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([{
        "key": "mine-1", "title": "SWE spread stays wide", "probability": 0.75,
        "criterion": {"deadline": "2026-12-31", "pass": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": ">", "value": 3},
                      "fail": {"metric": {"top_k_spread": {"benchmark": "swe_bench_verified", "k": 5}}, "op": "<", "value": 1}},
    }]))  # fmt: skip
    code, out, err = run("predictions", "add", str(path))
    assert code == 0 and "registered mine-1@1" in out, err
    code, out, _ = run("predictions", "score", "--json")
    scores = json.loads(out)
    assert scores["resolved"] == 1 and scores["brier"] == pytest.approx(0.0625)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "is not valid JSON"),
        (json.dumps({"key": "x", "title": "t", "criterion": {"deadline": "2026-12-31", "pass": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": "~", "value": 1},
                                                            "fail": {"metric": {"top_k_spread": {"benchmark": "hle", "k": 5}}, "op": ">", "value": 1}}}),
         "pass.op: '~' is not one of"),
    ],
)  # fmt: skip
def test_bad_prediction_files(with_predictions: Engine, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    before = table_counts(with_predictions)
    code, _, err = run("predictions", "add", str(path))
    assert code == 2 and message in err and table_counts(with_predictions) == before


def test_releases_add_reports_moved_predictions(with_predictions: Engine) -> None:
    code, out, err = run("releases", "add", "Frontier X", "--lab", "OpenAI", "--date", "2026-11-01",
                         "--score", "swe_bench_verified=96", "--score", "gpqa_diamond=97", "--json")  # fmt: skip
    assert code == 0, err
    moved = {m["key"]: m for m in json.loads(out)["predictions_moved"]}
    assert "gp-1" in moved  # a new top SWE score widens the top-5 spread


def test_saturation(with_predictions: Engine) -> None:
    code, out, _ = run("saturation", "--json")
    report = json.loads(out)
    assert code == 0
    spreads = {b["benchmark"]: b for b in report["benchmarks"]}
    assert spreads["swe_bench_verified"]["spread"] is not None and len(spreads["swe_bench_verified"]["top"]) == 5
    assert any(p["old"] == "swe_bench_verified" and p["new"] == "gpqa_diamond" for p in report["pairs"])
    code, _, err = run("saturation", "--as-of", "2026-05")
    assert code == 2 and "not a full date" in err
