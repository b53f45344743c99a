"""Measuring a truth direction honestly.

For each held-out item the model scores a true and a false completion of the
same prompt by log-probability; it is *misaligned* when it prefers the false
one. Steering at strength α (α times a typical residual, added at the layer)
*corrects* a misaligned item when it then prefers the true completion, and
*breaks* an aligned one when it then prefers the false one. A random direction
of the same norm is the control. TruthfulQA MC1/MC2 are scored the standard
way. The paper's own metric — the share of generations whose text changed —
is computed too (greedy, so the change is the steering's, not sampling noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from phasewatch.models.steering.data import StatementPair
from phasewatch.models.steering.direction import TruthDirection, last_token_residuals
from phasewatch.models.steering.layers import add_to_residual

ADAPTIVE_BANDS = ((-0.1, 3.0), (0.1, 1.5), (0.3, 0.5))  # the paper's cosine bands → absolute strength; ≥ 0.3: 0


@torch.no_grad()
def completion_logprobs(model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 16) -> torch.Tensor:  # noqa: ANN001
    """Sum of log p(completion tokens | prompt) per item, batched."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        ps, cs = prompts[start : start + batch_size], completions[start : start + batch_size]
        prompt_lens = [len(ids) for ids in tokenizer(ps)["input_ids"]]
        batch = tokenizer([p + c for p, c in zip(ps, cs)], return_tensors="pt", padding=True).to(device)
        logits = model(**batch).logits
        lengths = batch["attention_mask"].sum(dim=1)
        for i, (p_len, total) in enumerate(zip(prompt_lens, lengths.tolist())):
            targets = batch["input_ids"][i, p_len:total]
            # normalise only the positions that predict the completion (not the whole vocabulary x sequence)
            logprobs = torch.log_softmax(logits[i, p_len - 1 : total - 1].float(), dim=-1)
            out.append(float(logprobs.gather(1, targets[:, None]).sum()))
    return torch.tensor(out)


def preference_margins(model, tokenizer, pairs: list[StatementPair], layer: int, vector: torch.Tensor | None,  # noqa: ANN001
                       batch_size: int = 16) -> torch.Tensor:  # fmt: skip
    """log p(true completion) − log p(false completion) per item, with ``vector`` added at ``layer``."""
    prompts = [p.prompt for p in pairs]
    with add_to_residual(model, layer, vector):
        true = completion_logprobs(model, tokenizer, prompts, [p.true_completion for p in pairs], batch_size)
        false = completion_logprobs(model, tokenizer, prompts, [p.false_completion for p in pairs], batch_size)
    return true - false


@dataclass(frozen=True)
class SweepRow:
    strength: float
    corrected: float  # share of misaligned items that now prefer the truth
    broken: float  # share of aligned items that now prefer the falsehood
    net: float  # (corrected − broken) items, as a share of all items
    control_corrected: float
    control_broken: float
    control_net: float


def _effect(base: torch.Tensor, steered: torch.Tensor) -> tuple[float, float, float]:
    misaligned, aligned = base <= 0, base > 0
    corrected = float((steered[misaligned] > 0).float().mean()) if misaligned.any() else 0.0
    broken = float((steered[aligned] <= 0).float().mean()) if aligned.any() else 0.0
    net = (corrected * int(misaligned.sum()) - broken * int(aligned.sum())) / len(base)
    return corrected, broken, net


def strength_sweep(model, tokenizer, pairs: list[StatementPair], direction: TruthDirection, strengths: list[float],  # noqa: ANN001
                   seed: int = 0, batch_size: int = 16) -> tuple[torch.Tensor, list[SweepRow]]:  # fmt: skip
    """Baseline margins and, per strength, corrected / broken / net for the direction and a
    random direction of equal norm (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    random = torch.randn(direction.vector.shape, generator=generator)
    random = random / random.norm() * direction.vector.norm()
    device = next(model.parameters()).device
    base = preference_margins(model, tokenizer, pairs, direction.layer, None, batch_size)
    rows = []
    for strength in strengths:
        steered = preference_margins(model, tokenizer, pairs, direction.layer, (strength * direction.vector).to(device), batch_size)
        control = preference_margins(model, tokenizer, pairs, direction.layer, (strength * random).to(device), batch_size)
        rows.append(SweepRow(strength, *_effect(base, steered), *_effect(base, control)))
    return base, rows


@dataclass(frozen=True)
class MultipleChoice:
    questions: int
    mc1: float
    mc2: float


@torch.no_grad()
def truthfulqa_mc(model, tokenizer, items: list[dict[str, Any]], layer: int, vector: torch.Tensor | None,  # noqa: ANN001
                  batch_size: int = 16) -> MultipleChoice:  # fmt: skip
    """MC1: the best answer has the highest log-probability; MC2: the normalised
    probability mass on the true answers (Lin et al. 2022)."""
    prompts, completions, owners = [], [], []
    for i, item in enumerate(items):
        for answer in [*item["mc1_targets"], *item["mc2_targets"]]:
            prompts.append(f"Q: {item['question']}\nA:")
            completions.append(" " + answer)
            owners.append(i)
    with add_to_residual(model, layer, vector):
        scores = completion_logprobs(model, tokenizer, prompts, completions, batch_size).tolist()
    mc1_hits, mc2_total, k = 0, 0.0, 0
    for item in items:
        n1, n2 = len(item["mc1_targets"]), len(item["mc2_targets"])
        s1, s2 = scores[k : k + n1], scores[k + n1 : k + n1 + n2]
        k += n1 + n2
        labels1, labels2 = list(item["mc1_targets"].values()), list(item["mc2_targets"].values())
        mc1_hits += int(labels1[max(range(n1), key=lambda j: s1[j])] == 1)
        probs = torch.softmax(torch.tensor(s2, dtype=torch.float64), dim=0)  # normalised in log space: no underflow
        mc2_total += float(probs[torch.tensor(labels2) == 1].sum())
    return MultipleChoice(len(items), mc1_hits / len(items), mc2_total / len(items))


def adaptive_strength(cosine: float) -> float:
    """The paper's phase-adaptive strength from the prompt's cosine with the direction."""
    for upper, strength in ADAPTIVE_BANDS:
        if cosine < upper:
            return strength
    return 0.0


@dataclass(frozen=True)
class GenerationChange:
    strategy: str
    prompts: int
    changed: float
    examples: list[dict[str, str]] = field(default_factory=list)


@torch.no_grad()
def generation_change(model, tokenizer, prompts: list[str], direction: TruthDirection, *, strength: float | None,  # noqa: ANN001
                      max_new_tokens: int = 20, seed: int = 0) -> GenerationChange:  # fmt: skip
    """The paper's metric, made deterministic: share of prompts whose greedy
    continuation changes under steering. ``strength`` None = phase-adaptive
    (absolute strength from the cosine bands on the unit direction, as the paper)."""
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    if strength is None:
        cosines = torch.nn.functional.cosine_similarity(
            last_token_residuals(model, tokenizer, prompts, direction.layer), direction.unit[None, :], dim=1
        )
        vectors = [adaptive_strength(float(c)) * direction.unit for c in cosines]
        strategy = "phase-adaptive (paper's cosine bands 3.0 / 1.5 / 0.5 / 0 on the unit direction)"
    else:
        vectors = [strength * direction.vector] * len(prompts)
        strategy = f"fixed α = {strength:g} x typical residual"
    changed, examples = 0, []
    for prompt, vector in zip(prompts, vectors):
        inputs = tokenizer(prompt, return_tensors="pt").to(device)
        kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False, "pad_token_id": tokenizer.pad_token_id}
        plain = model.generate(**inputs, **kwargs)
        with add_to_residual(model, direction.layer, vector.to(device) if vector.norm() > 0 else None):
            steered = model.generate(**inputs, **kwargs)
        a = tokenizer.decode(plain[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        b = tokenizer.decode(steered[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        changed += int(a != b)
        if len(examples) < 3:
            examples.append({"prompt": prompt, "plain": a, "steered": b})
    return GenerationChange(strategy, len(prompts), changed / len(prompts) if prompts else 0.0, examples)
