"""Direction, its file, and the honest metrics on a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from phasewatch.models.steering.data import city_pairs, split_by_city, truthfulqa_items
from phasewatch.models.steering.direction import TruthDirection, compute_direction
from phasewatch.models.steering.evaluate import adaptive_strength, completion_logprobs, strength_sweep, truthfulqa_mc
from tests.models.steering.conftest import tiny_model


def test_city_pairs_split_by_city_never_overlap() -> None:
    pairs = city_pairs()
    train, held = split_by_city(pairs)
    assert len(pairs) > 1000 and 0.15 < len(held) / len(pairs) < 0.35
    assert not {p.city for p in train} & {p.city for p in held}
    assert all(p.true_completion != p.false_completion and p.prompt.endswith("located in") for p in pairs[:50])
    assert len(truthfulqa_items()) == 817


def test_direction_is_scaled_sign_checked_and_saved(tiny_tokenizer, tmp_path: Path) -> None:
    model = tiny_model("llama")
    train, held = split_by_city(city_pairs())
    direction = compute_direction(model, tiny_tokenizer, train[:40], held[:20], 2, model_name="tiny")
    assert direction.vector.norm() == pytest.approx(direction.typical_norm, rel=1e-4)
    assert 0.5 <= direction.held_out_accuracy <= 1.0
    direction.save(tmp_path / "d.safetensors")
    again = TruthDirection.load(tmp_path / "d.safetensors")
    assert torch.equal(again.vector, direction.vector) and again.layer == 2 and again.data_hash == direction.data_hash


def test_batched_scoring_equals_one_at_a_time(tiny_tokenizer) -> None:
    model = tiny_model("gpt_neox")
    pairs = city_pairs()[:12]
    prompts, completions = [p.prompt for p in pairs], [p.true_completion for p in pairs]
    batched = completion_logprobs(model, tiny_tokenizer, prompts, completions, batch_size=6)
    single = completion_logprobs(model, tiny_tokenizer, prompts, completions, batch_size=1)
    assert torch.allclose(batched, single, atol=1e-4)


def test_sweep_accounts_for_every_item_and_zero_strength_changes_nothing(tiny_tokenizer) -> None:
    model = tiny_model("gpt2")
    train, held = split_by_city(city_pairs())
    direction = compute_direction(model, tiny_tokenizer, train[:30], held[:20], 2, model_name="tiny")
    base, rows = strength_sweep(model, tiny_tokenizer, held[:20], direction, [0.0, 1.0], seed=1)
    zero, strong = rows
    assert zero.corrected == zero.broken == zero.net == zero.control_net == 0.0
    misaligned = int((base <= 0).sum())
    assert strong.net == pytest.approx((strong.corrected * misaligned - strong.broken * (20 - misaligned)) / 20)


def test_truthfulqa_scores_are_shares(tiny_tokenizer) -> None:
    result = truthfulqa_mc(tiny_model("opt"), tiny_tokenizer, truthfulqa_items()[:5], 2, None)
    assert result.questions == 5 and 0 <= result.mc1 <= 1 and 0 < result.mc2 < 1


def test_phase_adaptive_bands() -> None:
    assert [adaptive_strength(c) for c in (-0.5, -0.1, 0.0, 0.2, 0.3, 0.9)] == [3.0, 1.5, 1.5, 0.5, 0.0, 0.0]
