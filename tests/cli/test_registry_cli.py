"""A living registry from the command line: identity, sanity, provenance, history, the live panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from phasewatch.cli.app import for_arguments
from tests.helpers import table_counts

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(for_arguments(args), list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-11-30")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["DeepSeek-V4-Pro (preview)", "--lab", "DeepSeek", "--date", "2026-04-24"],
            "likely a duplicate of 'DeepSeek-V4-Pro'.*after normalisation.*models alias add",
        ),
        (
            ["deepseek v4 pro-preview", "--lab", "DeepSeek", "--date", "2026-05-01"],
            "likely a duplicate of 'DeepSeek-V4-Pro'",
        ),
        (
            [
                "V4 Pro open",
                "--lab",
                "DeepSeek",
                "--date",
                "2026-04-24",
                "--open-weight",
                "--hf-repo",
                "deepseek-ai/deepseek-v4-pro",
            ],
            "same Hugging Face repo deepseek-ai/DeepSeek-V4-Pro",
        ),
        (
            [
                "Some Other Name",
                "--lab",
                "DeepSeek",
                "--date",
                "2026-04-24",
                "--score",
                "swe_bench_verified=80.6",
                "--score",
                "gpqa_diamond=90.1",
            ],
            "same lab, date and scores",
        ),
        (
            ["New Model", "--lab", "OpenAI", "--date", "2026-06-01", "--score", "gpqa_diamond=0.85"],
            "looks like a fraction; scores are percentages: write 85",
        ),
        (
            ["New Model", "--lab", "OpenAI", "--date", "2026-06-01", "--score", "swe_bench_pr=40"],
            "unknown benchmark 'swe_bench_pr'; did you mean 'swe_bench_pro'",
        ),
        (
            ["New Model", "--lab", "OpenAI", "--date", "2026-06-01", "--params-total-b", "1800000000000"],
            "looks like a raw parameter count; give billions: 1800",
        ),
        (["New Model", "--lab", "Anthropic", "--date", "2020-03-01"], "before Anthropic existed"),
        (["New Model", "--lab", "OpenAI", "--date", "2026-12-25"], "in the future"),
        (
            ["New Model", "--lab", "OpenAI", "--date", "2026-06-01", "--open-weight", "--hf-repo", "just-a-name"],
            "ORG/NAME",
        ),
        (
            [
                "New Model",
                "--lab",
                "OpenAI",
                "--date",
                "2026-06-01",
                "--score",
                "hle=30",
                "--score-source",
                "gpqa_diamond=https://x.org",
            ],
            "names gpqa_diamond, which has no --score",
        ),
    ],
)
def test_refused_releases_are_one_line_exit_2_and_write_nothing(
    cli_env: str, engine: Engine, args: list[str], message: str
) -> None:
    before = table_counts(engine)
    code, _, err = run("releases", "add", *args)
    assert code == (5 if message.startswith("unknown") else 2), err  # 5: not found
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert table_counts(engine) == before


def test_a_true_small_score_is_accepted_with_the_flag(cli_env: str) -> None:
    code, out, err = run(
        "releases",
        "add",
        "Tiny ARC",
        "--lab",
        "OpenAI",
        "--date",
        "2026-06-01",
        "--score",
        "arc_agi_2=0.8",
        "--allow-small-scores",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["scores"] == {"arc_agi_2": 0.8}


def test_per_score_provenance_and_a_separate_date_source(cli_env: str) -> None:
    code, _, err = run(
        "releases",
        "add",
        "Example 1",
        "--lab",
        "Mistral AI",
        "--date",
        "2026-07-01",
        "--score",
        "swe_bench_pro=41.2",
        "--score",
        "hle=22.5",
        "--source",
        "https://lab.example/post",
        "--date-source",
        "https://lab.example/date",
        "--score-source",
        "hle=https://third.example/hle",
        "--score-reported-by",
        "hle=third_party",
        "--score-setting",
        "hle=text-only",
        "--score-stderr",
        "hle=1.5",
    )
    assert code == 0, err
    detail = json.loads(run("models", "show", "Example 1", "--json")[1])
    assert detail["release_date_source"] == "https://lab.example/date"
    by_key = {o["benchmark"]: o for o in detail["observations"]}
    assert (by_key["swe_bench_pro"]["source_url"], by_key["swe_bench_pro"]["reported_by"]) == (
        "https://lab.example/post",
        "lab",
    )
    assert (
        by_key["hle"]["source_url"],
        by_key["hle"]["reported_by"],
        by_key["hle"]["setting"],
        by_key["hle"]["stderr"],
    ) == ("https://third.example/hle", "third_party", "text-only", 1.5)
    # the text-only HLE figure is not the benchmark's standard setting: the live panel says so and leaves it out
    live = json.loads(run("panels", "show", "frontier", "--benchmark", "hle", "--json")[1])
    assert not any(c["model"] == "Example 1" for c in live["chosen"])
    assert any(e["model"] == "Example 1" and "text-only" in e["reason"] for e in live["excluded"])


def test_scores_add_and_benchmarks_add(cli_env: str, engine: Engine) -> None:
    before = table_counts(engine)
    assert run("benchmarks", "add", "Bad Key", "--name", "x", "--category", "c", "--standard-setting", "s")[0] == 2
    assert (
        run("benchmarks", "add", "swe_bench_pro", "--name", "x", "--category", "c", "--standard-setting", "s")[0] == 2
    )
    assert table_counts(engine) == before
    code, _, err = run(
        "benchmarks",
        "add",
        "mle_bench_lite",
        "--name",
        "MLE-bench Lite",
        "--category",
        "agentic_ml",
        "--standard-setting",
        "medal rate, one attempt",
        "--nonstandard",
        "pass@k",
    )
    assert code == 0, err
    code, out, err = run(
        "scores",
        "add",
        "Claude Opus 4.6",
        "mle_bench_lite=50",
        "--source",
        "https://x.example",
        "--reported-by",
        "third_party",
        "--setting",
        "pass@k with k=8",
        "--json",
    )
    assert code == 0, err and json.loads(out)["new"] is True
    listed = {b["key"]: b for b in json.loads(run("benchmarks", "list", "--json")[1])}
    assert listed["mle_bench_lite"]["observations"] == 1 and listed["mle_bench_lite"]["nonstandard_markers"] == [
        "pass@k"
    ]
    assert listed["swe_bench_pro"]["standard_setting"]
    assert run("scores", "add", "Claude Opus 4.6", "gpqa_diamond=0.9")[0] == 2


def test_same_weights_alias_and_tier_are_counted_once(cli_env: str) -> None:
    code, _, err = run("models", "alias", "add", "DeepSeek-V4-Pro", "DeepSeek-V4-Pro (preview)")
    assert code == 0, err
    assert (
        "DeepSeek-V4-Pro (preview)"
        in json.loads(run("models", "show", "DeepSeek-V4-Pro (preview)", "--json")[1])["aliases"]
    )
    code, out, err = run(
        "releases",
        "add",
        "DeepSeek-V4-Pro Max",
        "--lab",
        "DeepSeek",
        "--date",
        "2026-04-24",
        "--open-weight",
        "--hf-repo",
        "deepseek-ai/DeepSeek-V4-Pro",
        "--same-weights-as",
        "DeepSeek-V4-Pro",
        "--score",
        "swe_bench_verified=81.0",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["same_weights_as"] == "DeepSeek-V4-Pro"
    pairs = json.loads(run("panels", "show", "frontier", "--json")[1])
    chosen_models = {c["model"] for c in pairs["chosen"]}
    assert "DeepSeek-V4-Pro" in chosen_models and "DeepSeek-V4-Pro Max" not in chosen_models
    assert any(
        e["model"] == "DeepSeek-V4-Pro Max" and "same weights as DeepSeek-V4-Pro" in e["reason"]
        for e in pairs["excluded"]
    )


def test_corrections_keep_the_old_values(cli_env: str, engine: Engine, tmp_path: Path) -> None:
    assert (
        run(
            "releases",
            "add",
            "Example 2",
            "--lab",
            "OpenAI",
            "--date",
            "2026-07",
            "--score",
            "gpqa_diamond=88.1",
            "--source",
            "https://x.example",
        )[0]
        == 0
    )
    before = table_counts(engine)
    assert run("releases", "correct", "Example 2", "--date", "2026-07-09")[0] == 2  # no --reason
    assert (
        run("releases", "correct", "Example 2", "--reason", "r", "--score", "gpqa_diamond=88.1")[0] == 2
    )  # nothing differs
    assert table_counts(engine) == before
    code, _, err = run(
        "releases",
        "correct",
        "Example 2",
        "--reason",
        "typo in the post",
        "--date",
        "2026-07-09",
        "--score",
        "gpqa_diamond=81.8",
        "--source",
        "https://x.example/erratum",
    )
    assert code == 0, err
    history = json.loads(run("models", "history", "Example 2", "--json")[1])
    assert [(h["field"], h["old"], h["new"]) for h in history] == [
        ("release_date", "2026-07", "2026-07-09"),
        ("score:gpqa_diamond", "88.1", "81.8"),
    ]
    detail = json.loads(run("models", "show", "Example 2", "--json")[1])
    assert sorted(o["value"] for o in detail["observations"]) == [81.8, 88.1]  # the old figure is kept
    live = json.loads(run("panels", "show", "frontier", "--benchmark", "gpqa_diamond", "--json")[1])
    assert [c["value"] for c in live["chosen"] if c["model"] == "Example 2"] == [81.8]
    assert any(
        e["model"] == "Example 2" and e["value"] == 88.1 and "retracted" in e["reason"] for e in live["excluded"]
    )
    assert detail["conflicts"] == {}  # a correction is history, not a disagreement between sources
    # the retraction travels with an export, and re-importing it changes nothing
    exported = [
        r for r in json.loads(run("export", "--format", "json")[1])["observations"] if r["model"] == "Example 2"
    ]
    assert {(r["value"], r["retracted_on"]) for r in exported} == {(88.1, "2026-11-30"), (81.8, None)}
    path = tmp_path / "export.json"
    path.write_text(run("export", "--format", "json")[1], encoding="utf-8")
    before = table_counts(engine)
    assert run("scores", "import", str(path))[0] == 0
    assert table_counts(engine) == before


def test_releases_list_filters(cli_env: str) -> None:
    rows = json.loads(run("releases", "list", "--since", "2026-04", "--lab", "DeepSeek", "--open-weight", "--json")[1])
    assert rows and all(r["lab"] == "DeepSeek" and r["open_weight"] and r["release_date"] >= "2026-04" for r in rows)
    assert rows == sorted(rows, key=lambda r: r["release_date"], reverse=True)
    assert json.loads(run("releases", "list", "--since", "2026-04", "--lab", "DeepSeek", "--format", "json")[1]) == rows


def test_releases_list_as_csv_and_a_bad_format(cli_env: str) -> None:
    import csv
    import io

    code, out, _ = run("releases", "list", "--lab", "DeepSeek", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    held = json.loads(run("releases", "list", "--lab", "DeepSeek", "--json")[1])
    assert code == 0 and [r["model"] for r in table] == [r["name"] for r in held]
    assert list(table[0]) == [
        "model",
        "lab",
        "released",
        "open",
        "hugging face",
        "swe_bench_verified",
        "gpqa_diamond",
        "obs",
    ]
    code, out, _ = run("releases", "list", "--lab", "DeepSeek")
    assert code == 0 and f"{len(held)} releases" in out
    code, _, err = run("releases", "list", "--format", "xml")
    assert code == 2 and err.startswith("error: --format must be table, json or csv") and err.count("\n") == 1


def test_live_panel_as_of_explains_every_value_and_freezes(cli_env: str) -> None:
    live = json.loads(run("panels", "show", "frontier", "--as-of", "2026-06-01", "--json")[1])
    assert live["as_of"] == "2026-06-01" and live["chosen"]
    assert all(c["reason"] and c["release_date"] <= "2026-06-01" for c in live["chosen"])
    keys = [(c["model"], c["benchmark"]) for c in live["chosen"]]
    assert len(keys) == len(set(keys))  # one value per model × benchmark
    later = json.loads(run("panels", "show", "frontier", "--json")[1])
    assert len(later["chosen"]) > len(live["chosen"])
    code, _, err = run("panels", "freeze", "frontier-2026-06", "--as-of", "2026-06-01")
    assert code == 0, err
    frozen = json.loads(run("panels", "show", "frontier-2026-06", "--json")[1])
    assert frozen["frozen"] is True and frozen["observations"] == len(live["chosen"])
    assert run("panels", "freeze", "frontier-2026-06", "--as-of", "2026-06-01")[0] == 2
    assert run("panels", "show", "frontier", "--prefer", "vendor")[0] == 2


def test_a_tier_of_the_same_repo_does_not_queue_a_second_steering_job(cli_env: str) -> None:
    code, out, err = run(
        "releases",
        "add",
        "Example Open 1",
        "--lab",
        "Mistral AI",
        "--date",
        "2026-08-01",
        "--open-weight",
        "--hf-repo",
        "mistralai/Example-Open-1",
        "--hf-revision",
        "abc123",
        "--json",
    )
    assert code == 0, err
    first = json.loads(out)
    assert first["steering_job"] is not None and first["steering_job_new"] is True
    code, out, err = run(
        "releases",
        "add",
        "Example Open 1 (high)",
        "--lab",
        "Mistral AI",
        "--date",
        "2026-08-01",
        "--open-weight",
        "--hf-repo",
        "mistralai/Example-Open-1",
        "--hf-revision",
        "abc123",
        "--same-weights-as",
        "Example Open 1",
        "--json",
    )
    assert code == 0, err
    second = json.loads(out)
    assert (second["steering_job"], second["steering_job_new"]) == (first["steering_job"], False)
    jobs = json.loads(run("steer", "jobs", "list", "--json")[1])
    assert sum(1 for j in jobs if j["hf_repo"] == "mistralai/Example-Open-1") == 1


@pytest.mark.slow
def test_releases_add_refit_fits_the_live_panel(fitted_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    code, out, err = run(
        "releases",
        "add",
        "Example Refit",
        "--lab",
        "OpenAI",
        "--date",
        "2026-11-01",
        "--score",
        "swe_bench_verified=82.0",
        "--score",
        "gpqa_diamond=91.0",
        "--refit",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["latest_fit"]["releases_since"] > 0 and result["refit"]["id"] > result["latest_fit"]["fit_id"]
    fits = json.loads(run("fits", "show", str(result["refit"]["id"]), "--json")[1])
    assert fits["panels"] == "frontier" and fits["n_models"] == result["refit"]["n_models"]
