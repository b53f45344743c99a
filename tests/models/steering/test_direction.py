"""Direction methods, the one-pass layer sweep, validation-chosen sign and layer, raw test
accuracy and the probe baselines — on planted signals and a tiny model."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.direction import (
    METHODS,
    TruthDirection,
    all_layer_residuals,
    fit_direction,
    probe_scan,
    shuffled_label_baseline,
)
from phasewatch.models.steering.layers import capture_residual
from tests.models.steering.conftest import ARCHS, tiny_model


def _planted(n: int, d: int, direction: torch.Tensor, strength: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(n, d, generator=g) * 3  # the pair's content, shared by both statements
    noise = lambda: torch.randn(n, d, generator=g) * 0.5  # noqa: E731
    return shared + strength * direction + noise(), shared - strength * direction + noise()


@pytest.mark.parametrize("method", METHODS)
def test_each_method_recovers_a_planted_direction(method: str) -> None:
    u = torch.zeros(32)
    u[5] = 1.0
    true, false = _planted(60, 32, u, 1.0, seed=1)
    unit = fit_direction(method, true, false)
    assert unit.norm() == pytest.approx(1.0, abs=1e-5) and float(unit @ u) > 0.9


def test_layer_and_sign_are_chosen_on_validation_and_test_accuracy_is_raw() -> None:
    u = torch.zeros(16)
    u[0] = 1.0
    layers = 3

    def stack(strengths: list[float], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [_planted(40, 16, u, s, seed + i) for i, s in enumerate(strengths)]
        return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])

    train = stack([0.0, 1.0, 0.0], 10)  # the signal lives at layer 1
    val = stack([0.0, -1.0, 0.0], 20)  # validation says: flip the sign
    test = stack([0.0, 1.0, 0.0], 30)  # the test split disagrees with validation
    cells, choice = probe_scan(train, val, test)
    assert len(cells) == layers * len(METHODS) and choice.layer == 1 and choice.sign_flipped
    assert choice.validation_accuracy > 0.9
    assert choice.test.value < 0.1  # raw: reported as measured, not max(acc, 1 − acc)
    assert choice.test.n == 40 and choice.test.high < 0.2
    for method in ("mean_diff", "logistic"):
        shuffled = shuffled_label_baseline(train, stack([0.0, 1.0, 0.0], 40), test, 1, method, seed=0)
        assert 0.2 < shuffled.value < 0.8, method  # labels that carry no truth: near chance


@pytest.mark.parametrize("arch", ARCHS)
def test_one_pass_residuals_equal_each_block_output(arch: str, tiny_tokenizer) -> None:
    model = tiny_model(arch)
    texts = ["The city of Laoag is located in the Philippines.", "Paris is in France."]
    stacked = all_layer_residuals(model, tiny_tokenizer, texts, batch_size=2)
    assert stacked.shape == (8, 2, 64)
    last = [len(tiny_tokenizer(t)["input_ids"]) - 1 for t in texts]
    for layer in range(8):
        for i, text in enumerate(texts):
            with torch.no_grad(), capture_residual(model, layer) as records:
                model(**tiny_tokenizer([text], return_tensors="pt"))
            assert torch.allclose(stacked[layer, i], records[0][0, last[i]], atol=1e-5), layer


def test_direction_file_round_trip(tmp_path) -> None:
    d = TruthDirection(torch.randn(64), 3, "pca", 12.5, 0.8, 0.71, False, "org/m", "abc", "f" * 64)
    d.save(tmp_path / "d.safetensors")
    again = TruthDirection.load(tmp_path / "d.safetensors")
    assert torch.equal(again.vector, d.vector) and (again.layer, again.method, again.revision) == (3, "pca", "abc")
    assert again.metadata() == d.metadata() and float(again.metadata()["norm"]) == pytest.approx(float(d.vector.norm()))
