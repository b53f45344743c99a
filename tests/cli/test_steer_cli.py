"""Logging an open-weight release queues a steering job that `worker --once` runs and stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasewatch.registry.jobs import DEFAULT_CONFIG
from tests.cli.test_cli import run

pytestmark = pytest.mark.slow


@pytest.fixture
def model_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("torch")
    from tests.models.steering.conftest import _tokenizer, tiny_model

    folder = tmp_path / "store" / "test-org" / "tiny-llama"
    tiny_model("llama").save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    monkeypatch.setenv("PHASEWATCH_MODELS_DIR", str(tmp_path / "store"))
    return folder


def test_release_queues_a_job_the_worker_runs_and_models_show_displays(cli_env: str, model_store: Path) -> None:
    code, out, err = run(
        "releases",
        "add",
        "Tiny Llama",
        "--lab",
        "Meta",
        "--date",
        "2026-10-01",
        "--open-weight",
        "--hf-repo",
        "test-org/tiny-llama",
        "--json",
    )
    assert code == 0, err
    job = json.loads(out)["steering_job"]
    duplicate = run(
        "releases",
        "add",
        "Tiny Llama 2",
        "--lab",
        "Meta",
        "--date",
        "2026-10-01",
        "--open-weight",
        "--hf-repo",
        "test-org/tiny-llama",
        "--json",
    )
    assert duplicate[0] == 2 and "likely a duplicate" in duplicate[2]  # the same repo under another name
    again = run(
        "releases",
        "add",
        "Tiny Llama (max)",
        "--lab",
        "Meta",
        "--date",
        "2026-10-01",
        "--open-weight",
        "--hf-repo",
        "test-org/tiny-llama",
        "--same-weights-as",
        "Tiny Llama",
        "--json",
    )
    assert json.loads(again[1])["steering_job"] == job  # a tier of the same weights: one job for the repo
    jobs = json.loads(run("steer", "jobs", "list", "--json")[1])
    assert [(j["id"], j["status"]) for j in jobs] == [(job, "queued")]
    code, out, err = run("worker", "--once", "--device", "cpu", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "done"
    detail = json.loads(run("models", "show", "Tiny Llama", "--json")[1])
    (steering,) = detail["steering"]
    assert steering["status"] == "done" and 0 <= steering["layer"] < 8
    accuracy = steering["probe_accuracy"]
    assert accuracy["n"] == DEFAULT_CONFIG["test_pairs"] and accuracy["low"] <= accuracy["value"] <= accuracy["high"]
    assert [row["strength"] for row in steering["sweep"]] == DEFAULT_CONFIG["strengths"]
    assert all(
        row["corrected"] is None or row["corrected"]["n"] <= DEFAULT_CONFIG["test_pairs"] for row in steering["sweep"]
    )
    assert steering["verdict"] and steering["mc_baseline"]["questions"] == DEFAULT_CONFIG["tqa_questions"]
    assert steering["mc_baseline"]["mc1"]["n"] == DEFAULT_CONFIG["tqa_questions"]
    assert run("worker", "--once")[1].strip() == "no job to run"


def test_retry_and_bad_job_ids(cli_env: str) -> None:
    code, _, err = run("steer", "jobs", "retry", "99")
    assert code == 5 and "no steering job #99" in err  # not found


def test_jobs_list_formats_and_a_bad_status(cli_env: str) -> None:
    for repo in ("org/a", "org/b"):
        name = repo.split("/")[1].upper()
        args = ("releases", "add", f"Model {name}", "--lab", "Meta", "--date", "2026-10-01", "--open-weight")
        assert run(*args, "--hf-repo", repo)[0] == 0
    code, out, err = run("steer", "jobs", "list", "--status", "QUEUED", "--format", "csv")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "id,model,repo @ revision,status,attempts,worker,retry after,error"
    assert [line.split(",")[1:5] for line in lines[1:]] == [
        ["Model A", "org/a @ main", "queued", "0/3"],
        ["Model B", "org/b @ main", "queued", "0/3"],
    ]
    as_json = json.loads(run("steer", "jobs", "list", "--format", "json")[1])
    assert json.loads(run("steer", "jobs", "list", "--json")[1]) == as_json  # --json stays an alias
    assert [(j["hf_repo"], j["status"], j["attempts"]) for j in as_json] == [
        ("org/a", "queued", 0),
        ("org/b", "queued", 0),
    ]
    assert json.loads(run("steer", "jobs", "list", "--status", "done", "--json")[1]) == []
    first = as_json[0]["id"]
    code, out, err = run("steer", "jobs", "show", str(first), "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[:5] == [
        "field,value",
        f"job,{first}",
        "model,Model A",
        "repo @ revision,org/a @ main",
        "status,queued",
    ]
    shown = json.loads(run("steer", "jobs", "show", str(first), "--json")[1])
    assert shown["job"] == as_json[0] and shown["result"] is None
    code, _, err = run("steer", "jobs", "show", "99")
    assert code == 5 and err.strip() == "error: no steering job #99; see `phasewatch steer jobs list`"
    code, out, err = run("steer", "jobs", "list", "--status", "bogus")
    assert (code, out) == (2, "") and err.strip().startswith(
        "error: invalid value for '--status': 'bogus' is not one of 'queued', 'running', 'done', 'failed'"
    )


def test_steer_run_takes_its_config_from_a_file_and_options(model_store: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "train_pairs": 16,
                "validation_pairs": 8,
                "test_pairs": 12,
                "random_directions": 2,
                "tqa_questions": 0,
                "generation_prompts": 2,
                "neutral_texts": 2,
                "random_weight_baseline": False,
                "strengths": [1.0],
            }
        )
    )
    code, out, err = run(
        "steer",
        "run",
        "--model",
        str(model_store),
        "--device",
        "cpu",
        "--config",
        str(config),
        "--method",
        "logistic",
        "--batch-size",
        "5",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert (
        report["config"]["batch_size"] == 5 and report["config"]["test_pairs"] == 12 and report["method"] == "logistic"
    )
    assert report["split_sizes"]["test"] == 12 and len(report["sweep"][0]["control_net"]["values"]) == 2
    assert report["random_weight_baseline"] is None and report["mc_baseline"] is None
    code, out, err = run("steer", "run", "--model", str(model_store), "--device", "cpu", "--config", str(config))
    assert code == 0, err
    assert "corrected" in out and "random control" in out and "95% CI" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strengths", "a,b"], "is not a list of numbers"),
        (["--method", "magic"], "'magic' is not one of 'auto', 'mean_diff', 'pca', 'logistic'"),
        (["--config", "/nonexistent.json"], "cannot read --config"),
    ],
)
def test_steer_run_bad_config_is_one_line(args: list[str], message: str) -> None:
    code, _, err = run("steer", "run", "--model", "x", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_steer_run_layer_out_of_range_is_one_line(model_store: Path) -> None:
    code, _, err = run("steer", "run", "--model", str(model_store), "--device", "cpu", "--layer", "99")
    assert code == 2 and "Traceback" not in err  # above the error: only transformers' weight-loading progress bar
    assert err.strip().splitlines()[-1].startswith("error: layer 99 is out of range; the model has 8 decoder layers")
