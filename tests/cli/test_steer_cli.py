"""Logging an open-weight release queues a steering job that `worker --once` runs and stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    code, out, err = run("releases", "add", "Tiny Llama", "--lab", "Meta", "--date", "2026-10-01", "--open-weight",
                         "--hf-repo", "test-org/tiny-llama", "--json")  # fmt: skip
    assert code == 0, err
    job = json.loads(out)["steering_job"]
    again = run("releases", "add", "Tiny Llama 2", "--lab", "Meta", "--date", "2026-10-01", "--open-weight",
                "--hf-repo", "test-org/tiny-llama", "--json")  # fmt: skip
    assert json.loads(again[1])["steering_job"] == job  # same repo, revision and config: one job
    jobs = json.loads(run("steer", "jobs", "list", "--json")[1])
    assert [(j["id"], j["status"]) for j in jobs] == [(job, "queued")]
    code, out, err = run("worker", "--once", "--device", "cpu", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "done"
    detail = json.loads(run("models", "show", "Tiny Llama", "--json")[1])
    (steering,) = detail["steering"]
    assert steering["status"] == "done" and steering["layer"] == 2 and 0 <= steering["probe_accuracy"] <= 1
    assert "strength" in steering["best_net"] and steering["mc_baseline"]["questions"] == 100
    assert run("worker", "--once")[1].strip() == "no job to run"


def test_retry_and_bad_job_ids(cli_env: str) -> None:
    code, _, err = run("steer", "jobs", "retry", "99")
    assert code == 2 and "no steering job #99" in err
