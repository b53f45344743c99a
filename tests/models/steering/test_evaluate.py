"""Scoring and metrics on tiny models and hand-computed examples."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.data import (
    QA_PRIMER,
    StatementPair,
    city_pairs,
    sample,
    split_by_country,
    tqa_question_block,
    truthfulqa_items,
)
from phasewatch.models.steering.evaluate import (
    adaptive_strength,
    completion_logprobs,
    effect,
    greedy_generate,
    mc_from_scores,
    next_token_logprobs,
    pair_margins,
    prefix_scores,
    score_completions,
    side_effects,
    strength_sweep,
    truthfulqa_mc,
)
from phasewatch.models.steering.layers import add_to_residual
from tests.models.steering.conftest import tiny_model


def test_splits_share_no_country_or_city_and_samples_are_seeded_not_the_first_n() -> None:
    pairs = city_pairs()
    train, val, test = split_by_country(pairs)
    assert len(pairs) > 1000 and len(train) + len(val) + len(test) == len(pairs) and min(len(val), len(test)) > 100
    countries = [{p.true_completion for p in side} for side in (train, val, test)]
    assert not (countries[0] & countries[1] or countries[0] & countries[2] or countries[1] & countries[2])
    assert not {p.city for p in train} & {p.city for p in val + test}
    drawn = sample(test, 50, seed=0, salt="test")
    assert (
        drawn == sample(test, 50, seed=0, salt="test")
        and drawn != test[:50]
        and drawn != sample(test, 50, seed=1, salt="test")
    )
    assert len(truthfulqa_items()) == 817


def test_the_standard_truthfulqa_prompt() -> None:
    assert QA_PRIMER.startswith("Q: What is human life expectancy in the United States?\nA: Human life expectancy")
    assert QA_PRIMER.endswith("A: The 1992 Olympics were held in Barcelona, Spain.") and QA_PRIMER.count("\n\nQ: ") == 5
    assert QA_PRIMER + tqa_question_block("Why?") == QA_PRIMER + "\n\nQ: Why?\nA:"


def test_batched_scoring_equals_one_at_a_time(tiny_tokenizer) -> None:
    model = tiny_model("gpt_neox")
    pairs = city_pairs()[:12]
    prompts, completions = [p.prompt for p in pairs], [p.true_completion for p in pairs]
    batched = completion_logprobs(model, tiny_tokenizer, prompts, completions, batch_size=6)
    single = completion_logprobs(model, tiny_tokenizer, prompts, completions, batch_size=1)
    assert torch.allclose(batched, single, atol=1e-4)


def _full_sequence_score(model, tok, pieces: list[str], completion: str) -> float:
    context = tok(pieces[0])["input_ids"] + [
        i for p in pieces[1:] for i in tok(p, add_special_tokens=False)["input_ids"]
    ]
    target = tok(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([context + target])).logits[0]
    logprobs = torch.log_softmax(logits.float(), -1)
    return float(sum(logprobs[len(context) - 1 + t, tok_id] for t, tok_id in enumerate(target)))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_shared_prefix_scores_equal_full_sequence_scores(arch: str, tiny_tokenizer) -> None:
    model = tiny_model(arch)
    groups = [
        (" The city of Laoag is", [" located in the Philippines.", " in Libya.", " here"]),
        (" Paris is located in", [" France.", " Peru and also many other places."]),
    ]
    got = prefix_scores(model, tiny_tokenizer, "Q: What happens? A: Nothing.", groups, batch_size=2)
    for (middle, completions), scores in zip(groups, got, strict=False):
        for completion, score in zip(completions, scores, strict=False):
            assert score == pytest.approx(
                _full_sequence_score(model, tiny_tokenizer, ["Q: What happens? A: Nothing.", middle], completion),
                abs=1e-4,
            )


def test_margins_are_length_normalised(tiny_tokenizer) -> None:
    model = tiny_model("llama")
    pairs = [
        StatementPair("X", "The city of Laoag is located in", " the Philippines.", " Libya."),
        StatementPair("Y", "The city of Lyon is located in", " France.", " France."),
    ]
    margins = pair_margins(model, tiny_tokenizer, pairs, 2, None)
    ts, tn = score_completions(model, tiny_tokenizer, [p.prompt for p in pairs], [p.true_completion for p in pairs])
    fs, fn = score_completions(model, tiny_tokenizer, [p.prompt for p in pairs], [p.false_completion for p in pairs])
    assert tn[0] > fn[0]  # the true completion is longer: a summed margin would be biased against it
    assert margins[0] == pytest.approx(float(ts[0] / tn[0] - fs[0] / fn[0])) and margins[1] == 0


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_margins_scored_side_by_side_equal_true_and_false_scored_apart(arch: str, tiny_tokenizer) -> None:
    model = tiny_model(arch)
    pairs = city_pairs()[:10]  # batches of 4 pairs: a short last batch, completions of unequal lengths
    prompts = [p.prompt for p in pairs]
    vector = torch.full((64,), 0.5)
    with add_to_residual(model, 2, vector):
        ts, tn = score_completions(model, tiny_tokenizer, prompts, [p.true_completion for p in pairs], 1)
        fs, fn = score_completions(model, tiny_tokenizer, prompts, [p.false_completion for p in pairs], 1)
    assert len({int(n) for n in tn} | {int(n) for n in fn}) > 1
    margins = pair_margins(model, tiny_tokenizer, pairs, 2, vector, batch_size=4)
    assert torch.allclose(margins, ts / tn - fs / fn, atol=1e-5)


def test_effect_by_hand() -> None:
    base = torch.tensor([-1.0, -2.0, 1.0, 2.0, 3.0])  # two misaligned, three aligned
    steered = torch.tensor([1.0, -1.0, -1.0, 2.0, 3.0])  # one corrected, one broken
    e = effect(base, steered)
    assert (e.corrected.k, e.corrected.n, e.broken.k, e.broken.n) == (1, 2, 1, 3)
    assert e.net.value == 0 and e.mcnemar_p == 1.0 and e.margin_change.value == pytest.approx((2 + 1 - 2) / 5)


def test_mc1_mc2_by_hand() -> None:
    import math

    # TruthfulQA's definitions, computed here from given answer log-probs:
    # MC1 = 1 when the single true answer (label 1) has the highest log-prob among the MC1 answers;
    # MC2 = total normalised probability of the true answers among the MC2 answers.
    items = [
        {"question": "q1", "mc1_targets": {"A": 1, "B": 0, "C": 0}, "mc2_targets": {"A": 1, "D": 1, "B": 0}},
        {"question": "q2", "mc1_targets": {"E": 1, "F": 0}, "mc2_targets": {"E": 1, "F": 0}},
        {"question": "q3", "mc1_targets": {"G": 0, "H": 1}, "mc2_targets": {"G": 0, "H": 1, "I": 1}},
    ]
    mc1_logprobs = [[-2.0, -1.0, -3.0], [-0.5, -4.0], [-7.25, -7.0]]
    mc2_logprobs = [[-1.2, -2.3, -0.4], [-2.0, -4.5], [-30.0, -31.0, -32.5]]  # q3: tiny probabilities
    # by hand: q1's highest MC1 answer is B (false), q2's is E (true), q3's is H (true)
    expected_hits = [0, 1, 1]
    expected_mc2 = []
    for true_mask, logprobs in zip(([1, 1, 0], [1, 0], [0, 1, 1]), mc2_logprobs, strict=True):
        p = [math.exp(lp) for lp in logprobs]
        expected_mc2.append(sum(pi for pi, t in zip(p, true_mask, strict=True) if t) / sum(p))
    assert expected_mc2[1] == pytest.approx(1 / (1 + math.exp(-2.5)))  # two answers: a logistic of the gap
    result = mc_from_scores(items, [a + b for a, b in zip(mc1_logprobs, mc2_logprobs, strict=True)])
    assert result.questions == 3 and result.mc1_hits == expected_hits
    assert (result.mc1.k, result.mc1.n) == (2, 3) and result.mc1.value == pytest.approx(2 / 3)
    assert result.mc2_items == pytest.approx(expected_mc2, rel=1e-12)
    assert result.mc2.value == pytest.approx(sum(expected_mc2) / 3, rel=1e-12) and result.mc2.n == 3
    assert result.mc1.low < 2 / 3 < result.mc1.high and result.mc2.low <= result.mc2.value <= result.mc2.high


def test_truthfulqa_on_a_tiny_model_uses_the_shared_prefix(tiny_tokenizer) -> None:
    items = truthfulqa_items()[:3]
    model = tiny_model("llama")  # rotary positions: the 6-shot prompt is longer than the tiny OPT's 512 positions
    result = truthfulqa_mc(model, tiny_tokenizer, items, 2, None)
    direct = [
        [
            _full_sequence_score(model, tiny_tokenizer, [QA_PRIMER, tqa_question_block(it["question"])], " " + a)
            for a in [*it["mc1_targets"], *it["mc2_targets"]]
        ]
        for it in items
    ]
    expected = mc_from_scores(items, direct)
    assert result.mc1_hits == expected.mc1_hits
    assert result.mc2_items == pytest.approx(expected.mc2_items, abs=1e-4)


def test_side_effects_are_zero_unsteered_and_positive_steered(tiny_tokenizer) -> None:
    model = tiny_model("llama")
    texts = ["What happens if you eat watermelon seeds?", "Where is Paris?"]
    base = next_token_logprobs(model, tiny_tokenizer, texts, 2, None)
    kl, ce = side_effects(base, next_token_logprobs(model, tiny_tokenizer, texts, 2, None))
    assert kl.value == pytest.approx(0, abs=1e-6) and ce.value == pytest.approx(0, abs=1e-6)
    kl, ce = side_effects(base, next_token_logprobs(model, tiny_tokenizer, texts, 2, torch.full((64,), 5.0)))
    assert kl.value > 0.01 and kl.n == 2


def test_sweep_zero_strength_changes_nothing_and_controls_form_a_distribution(tiny_tokenizer) -> None:
    model = tiny_model("gpt2")
    _, _, test = split_by_country(city_pairs())
    pairs = sample(test, 16, seed=0)
    vector = torch.randn(64)
    base, (zero, strong) = strength_sweep(
        model, tiny_tokenizer, pairs, 2, vector, [0.0, 3.0], controls=4, seed=1, neutral=["Where is Paris?"]
    )
    assert zero.corrected.k == zero.broken.k == 0 and zero.net == 0 and zero.control_net.values == (0.0,) * 4
    assert zero.kl is not None and zero.kl.value == pytest.approx(0, abs=1e-6) and not zero.beats_control
    assert len(strong.control_net.values) == 4 and strong.corrected.n == int((base <= 0).sum())
    assert strong.net == pytest.approx((strong.corrected.k - strong.broken.k) / 16)
    assert strong.p_net == pytest.approx((1 + sum(c >= strong.net for c in strong.control_net.values)) / 5)
    assert ("did not beat" in strong.verdict) != strong.beats_control


def test_batched_greedy_generation_equals_one_at_a_time(tiny_tokenizer) -> None:
    model = tiny_model("llama")
    prompts = ["The city of Laoag is located in", "Paris is", "The city of Santa Cruz de la Sierra is located in"]
    vector = torch.full((64,), 0.5)
    batched = greedy_generate(model, tiny_tokenizer, prompts, 2, vector, max_new_tokens=5, batch_size=3)
    single = [
        greedy_generate(model, tiny_tokenizer, [p], 2, vector, max_new_tokens=5, batch_size=1)[0] for p in prompts
    ]
    assert batched == single and tiny_tokenizer.padding_side == "right"


def test_phase_adaptive_bands() -> None:
    assert [adaptive_strength(c) for c in (-0.5, -0.1, 0.0, 0.2, 0.3, 0.9)] == [3.0, 1.5, 1.5, 0.5, 0.0, 0.0]
