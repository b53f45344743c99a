"""Measuring a truth direction: corrected / broken / net against a distribution of
random directions, side effects on neutral text, TruthfulQA MC1/MC2 with the standard
6-shot prompt, and the paper's "changed" rate — every rate with n and a 95 % interval.

An item (a held-out city) is scored by its *length-normalised* margin: mean log-prob
per token of the true completion minus that of the false one. It is misaligned when
the margin is ≤ 0. Steering at α (α × a typical residual, added at the layer at every
position) *corrects* a misaligned item when its margin turns positive and *breaks* an
aligned one when it turns ≤ 0.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch

from phasewatch.models.steering.data import QA_PRIMER, StatementPair, tqa_question_block
from phasewatch.models.steering.layers import add_to_residual, input_device
from phasewatch.models.steering.stats import (
    Estimate,
    Rate,
    Spread,
    bootstrap_mean,
    empirical_p,
    mcnemar_exact,
    spread,
    wilson,
)

ADAPTIVE_BANDS = ((-0.1, 3.0), (0.1, 1.5), (0.3, 0.5))  # the paper's cosine bands → absolute strength; ≥ 0.3: 0


@torch.no_grad()
def score_completions(
    model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of log p(completion tokens | prompt) and the number of completion tokens, per
    item, in right-padded batches."""
    device = input_device(model)
    sums, counts = [], []
    for start in range(0, len(prompts), batch_size):
        ps, cs = prompts[start : start + batch_size], completions[start : start + batch_size]
        prompt_lens = [len(ids) for ids in tokenizer(ps)["input_ids"]]
        batch = tokenizer([p + c for p, c in zip(ps, cs, strict=False)], return_tensors="pt", padding=True).to(device)
        logits = model(**batch).logits
        lengths = batch["attention_mask"].sum(dim=1)
        for i, (p_len, total) in enumerate(zip(prompt_lens, lengths.tolist(), strict=False)):
            targets = batch["input_ids"][i, p_len:total]
            logprobs = torch.log_softmax(logits[i, p_len - 1 : total - 1].float(), dim=-1)
            sums.append(float(logprobs.gather(1, targets[:, None]).sum()))
            counts.append(total - p_len)
    return torch.tensor(sums, dtype=torch.float64), torch.tensor(counts, dtype=torch.float64)


def completion_logprobs(
    model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 16
) -> torch.Tensor:
    """Sum of log p(completion | prompt) per item."""
    return score_completions(model, tokenizer, prompts, completions, batch_size)[0]


@torch.no_grad()
def prefix_scores(
    model, tokenizer, prefix: str, groups: list[tuple[str, list[str]]], batch_size: int = 16
) -> list[list[float]]:
    """Sum log p(completion | prefix + middle) for each group's completions, encoding the
    shared ``prefix`` once and each ``middle`` once (key/value cache), then the group's
    completions in batches on a copy of that cache. Pieces are tokenised separately
    (prefix with the tokenizer's special tokens, the rest without)."""
    device = input_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def ids(text: str, special: bool = False) -> list[int]:
        return tokenizer(text, add_special_tokens=special)["input_ids"]

    prefix_ids = torch.tensor([ids(prefix, True)], device=device)
    prefix_cache = model(input_ids=prefix_ids, use_cache=True).cache
    out: list[list[float]] = []
    for middle, completions in groups:
        middle_ids = torch.tensor([ids(middle)], device=device)
        context = prefix_ids.shape[1] + middle_ids.shape[1]
        step = model(
            input_ids=middle_ids,
            cache=copy.deepcopy(prefix_cache),
            use_cache=True,
            attention_mask=torch.ones(1, context, dtype=torch.long, device=device),
        )
        first = torch.log_softmax(step.logits[0, -1].float(), dim=-1)
        cache = step.cache
        scores: list[float] = []
        encoded = [ids(c) for c in completions]
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            width = max(len(c) for c in chunk)
            tokens = torch.full((len(chunk), width), pad, dtype=torch.long, device=device)
            mask = torch.zeros((len(chunk), context + width), dtype=torch.long, device=device)
            mask[:, :context] = 1
            for i, c in enumerate(chunk):
                tokens[i, : len(c)] = torch.tensor(c, device=device)
                mask[i, context : context + len(c)] = 1
            repeated = copy.deepcopy(cache)
            repeated.batch_repeat_interleave(len(chunk))
            logits = model(input_ids=tokens, cache=repeated, attention_mask=mask, use_cache=True).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for i, c in enumerate(chunk):
                total = float(first[c[0]])
                if len(c) > 1:
                    total += float(
                        logprobs[i, torch.arange(len(c) - 1, device=device), torch.tensor(c[1:], device=device)].sum()
                    )
                scores.append(total)
        out.append(scores)
    return out


def pair_margins(
    model, tokenizer, pairs: list[StatementPair], layer: int, vector: torch.Tensor | None, batch_size: int = 16
) -> torch.Tensor:
    """Length-normalised margin per item: mean log-prob per token of the true completion
    minus that of the false one, with ``vector`` added at ``layer``. Each forward pass
    scores ``batch_size`` pairs, their true and false completions side by side (half as
    many passes as scoring them separately; padding is masked, so the scores are the same)."""
    prompts = [p.prompt for p in pairs for _ in range(2)]
    completions = [c for p in pairs for c in (p.true_completion, p.false_completion)]
    with add_to_residual(model, layer, vector):
        sums, counts = score_completions(model, tokenizer, prompts, completions, 2 * batch_size)
    return sums[0::2] / counts[0::2] - sums[1::2] / counts[1::2]


@torch.no_grad()
def next_token_logprobs(
    model, tokenizer, texts: list[str], layer: int, vector: torch.Tensor | None, batch_size: int = 16
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per text: log-softmax of the next-token distribution at each position [T−1, V] and the actual next tokens."""
    device = input_device(model)
    out = []
    with add_to_residual(model, layer, vector):
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
            logits = model(**batch).logits
            for i, length in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
                out.append(
                    (
                        torch.log_softmax(logits[i, : length - 1].float(), dim=-1).cpu(),
                        batch["input_ids"][i, 1:length].cpu(),
                    )
                )
    return out


def side_effects(
    base: list[tuple[torch.Tensor, torch.Tensor]], steered: list[tuple[torch.Tensor, torch.Tensor]], seed: int = 0
) -> tuple[Estimate, Estimate]:
    """KL(unsteered ‖ steered) of the next-token distribution (nats per position) and the
    change in cross-entropy on the text's own next tokens, each averaged per text, with
    bootstrap intervals over texts."""
    kls, ces = [], []
    for (p, targets), (q, _) in zip(base, steered, strict=False):
        kls.append(float((p.exp() * (p - q)).sum(-1).mean()))
        ce_p = -p.gather(1, targets[:, None]).mean()
        ce_q = -q.gather(1, targets[:, None]).mean()
        ces.append(float(ce_q - ce_p))
    return bootstrap_mean(kls, seed=seed), bootstrap_mean(ces, seed=seed)


@dataclass(frozen=True)
class Effect:
    corrected: Rate  # of misaligned items, how many now prefer the truth
    broken: Rate  # of aligned items, how many now prefer the falsehood
    net: Estimate  # (corrected − broken) items / all items, paired bootstrap
    mcnemar_p: float  # exact, corrected vs broken counts
    margin_change: Estimate  # mean change of the length-normalised margin, paired bootstrap


def effect(base: torch.Tensor, steered: torch.Tensor, seed: int = 0) -> Effect:
    misaligned, aligned = base <= 0, base > 0
    fixed = misaligned & (steered > 0)
    broke = aligned & (steered <= 0)
    per_item = (fixed.double() - broke.double()).tolist()
    b, c = int(fixed.sum()), int(broke.sum())
    return Effect(
        wilson(b, int(misaligned.sum())),
        wilson(c, int(aligned.sum())),
        bootstrap_mean(per_item, seed=seed),
        mcnemar_exact(b, c),
        bootstrap_mean((steered - base).tolist(), seed=seed),
    )


@dataclass(frozen=True)
class SweepRow:
    strength: float
    corrected: Rate
    broken: Rate
    net: float  # = net_interval.value, a plain number for summaries
    net_interval: Estimate
    mcnemar_p: float
    margin_change: Estimate
    control_corrected: Rate  # pooled over the random directions (each item counted once per direction)
    control_broken: Rate
    control_net: Spread  # one net per random direction
    control_margin_change: Spread
    p_net: float  # empirical: share of random directions with net ≥ the direction's
    p_margin: float
    kl: Estimate | None
    ce_change: Estimate | None
    control_kl: Spread | None
    beats_control: bool
    verdict: str


def random_directions(shape: torch.Size, norm: float, count: int, seed: int) -> list[torch.Tensor]:
    """``count`` seeded Gaussian directions of the given norm."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        v = torch.randn(shape, generator=generator)
        out.append(v / v.norm() * norm)
    return out


def verdict(
    row_net: Estimate,
    p_net: float,
    controls: int,
    strength: float,
    control: Spread,
    kl: Estimate | None,
    control_kl: Spread | None,
) -> tuple[bool, str]:
    """Beats the control when the net's 95 % interval is above 0 and no more than 5 % of
    random directions do as well (empirical p ≤ 0.05; needs ≥ 19 directions to be possible)."""
    beats = row_net.low > 0 and p_net <= 0.05
    words = (
        f"At α = {strength:g} steering {'beat' if beats else 'did not beat'} the random control: net "
        f"{row_net.text()} against {controls} random directions (median {control.median:+.1%}, range "
        f"{control.low:+.1%} to {control.high:+.1%}; empirical p = {p_net:.2f}, smallest possible "
        f"{1 / (controls + 1):.2f})."
    )
    if kl is not None and control_kl is not None and control_kl.values:
        words += f" KL on neutral text {kl.value:.3f} nats vs random {control_kl.median:.3f}."
    return beats, words


def strength_sweep(
    model,
    tokenizer,
    pairs: list[StatementPair],
    layer: int,
    vector: torch.Tensor,
    strengths: list[float],
    *,
    controls: int = 19,
    seed: int = 0,
    batch_size: int = 16,
    neutral: list[str] | None = None,
) -> tuple[torch.Tensor, list[SweepRow]]:
    """Baseline margins and one row per strength: the direction's effect, the same for
    ``controls`` random directions of equal norm (a distribution), side effects on
    ``neutral`` text, and a verdict."""
    device = input_device(model)
    randoms = random_directions(vector.shape, float(vector.norm()), controls, seed)
    base = pair_margins(model, tokenizer, pairs, layer, None, batch_size)
    neutral = neutral or []
    neutral_base = next_token_logprobs(model, tokenizer, neutral, layer, None, batch_size) if neutral else None
    rows = []
    for strength in strengths:
        steered = pair_margins(model, tokenizer, pairs, layer, (strength * vector).to(device), batch_size)
        mine = effect(base, steered, seed)
        ctrl = [
            effect(base, pair_margins(model, tokenizer, pairs, layer, (strength * r).to(device), batch_size), seed)
            for r in randoms
        ]
        kl = ce = control_kl = None
        if neutral_base is not None:
            kl, ce = side_effects(
                neutral_base,
                next_token_logprobs(model, tokenizer, neutral, layer, (strength * vector).to(device), batch_size),
                seed,
            )
            control_kl = spread(
                [
                    side_effects(
                        neutral_base,
                        next_token_logprobs(model, tokenizer, neutral, layer, (strength * r).to(device), batch_size),
                        seed,
                    )[0].value
                    for r in randoms
                ]
            )
        control_net = spread([e.net.value for e in ctrl])
        p_net = empirical_p(mine.net.value, control_net.values)
        beats, words = verdict(mine.net, p_net, controls, strength, control_net, kl, control_kl)
        rows.append(
            SweepRow(
                strength,
                mine.corrected,
                mine.broken,
                mine.net.value,
                mine.net,
                mine.mcnemar_p,
                mine.margin_change,
                wilson(sum(e.corrected.k for e in ctrl), sum(e.corrected.n for e in ctrl)),
                wilson(sum(e.broken.k for e in ctrl), sum(e.broken.n for e in ctrl)),
                control_net,
                spread([e.margin_change.value for e in ctrl]),
                p_net,
                empirical_p(mine.margin_change.value, [e.margin_change.value for e in ctrl]),
                kl,
                ce,
                control_kl,
                beats,
                words,
            )
        )
    return base, rows


@dataclass(frozen=True)
class MultipleChoice:
    questions: int
    mc1: Rate
    mc2: Estimate
    mc1_hits: list[int] = field(repr=False)
    mc2_items: list[float] = field(repr=False)


@torch.no_grad()
def truthfulqa_mc(
    model,
    tokenizer,
    items: list[dict[str, Any]],
    layer: int,
    vector: torch.Tensor | None,
    batch_size: int = 16,
    seed: int = 0,
) -> MultipleChoice:
    """MC1 (the best answer has the highest summed log-prob) and MC2 (normalised probability
    mass on true answers), with the standard 6-shot QA preamble encoded once."""
    groups = [
        (tqa_question_block(item["question"]), [" " + a for a in [*item["mc1_targets"], *item["mc2_targets"]]])
        for item in items
    ]
    with add_to_residual(model, layer, vector):
        scores = prefix_scores(model, tokenizer, QA_PRIMER, groups, batch_size)
    return mc_from_scores(items, scores, seed)


def mc_from_scores(items: list[dict[str, Any]], scores: list[list[float]], seed: int = 0) -> MultipleChoice:
    """MC1 and MC2 from each question's answer log-probs (mc1 answers first, then mc2's)."""
    hits, mc2 = [], []
    for item, s in zip(items, scores, strict=True):
        n1 = len(item["mc1_targets"])
        s1, s2 = s[:n1], s[n1:]
        labels1, labels2 = list(item["mc1_targets"].values()), list(item["mc2_targets"].values())
        hits.append(int(labels1[max(range(n1), key=lambda j: s1[j])] == 1))
        probs = torch.softmax(torch.tensor(s2, dtype=torch.float64), dim=0)  # normalised in log space: no underflow
        mc2.append(float(probs[torch.tensor(labels2) == 1].sum()))
    return MultipleChoice(len(items), wilson(sum(hits), len(hits)), bootstrap_mean(mc2, seed=seed), hits, mc2)


@dataclass(frozen=True)
class MultipleChoiceChange:
    mc1_difference: Estimate  # steered − unsteered, paired bootstrap
    mc1_mcnemar_p: float  # questions newly right vs newly wrong
    mc2_difference: Estimate


def mc_change(base: MultipleChoice, steered: MultipleChoice, seed: int = 0) -> MultipleChoiceChange:
    gained = sum(1 for a, b in zip(base.mc1_hits, steered.mc1_hits, strict=False) if b > a)
    lost = sum(1 for a, b in zip(base.mc1_hits, steered.mc1_hits, strict=False) if b < a)
    return MultipleChoiceChange(
        bootstrap_mean([b - a for a, b in zip(base.mc1_hits, steered.mc1_hits, strict=False)], seed=seed),
        mcnemar_exact(gained, lost),
        bootstrap_mean([b - a for a, b in zip(base.mc2_items, steered.mc2_items, strict=False)], seed=seed),
    )


def adaptive_strength(cosine: float) -> float:
    """The paper's phase-adaptive strength from the prompt's cosine with the direction."""
    for upper, strength in ADAPTIVE_BANDS:
        if cosine < upper:
            return strength
    return 0.0


@torch.no_grad()
def greedy_generate(
    model,
    tokenizer,
    prompts: list[str],
    layer: int,
    vector: torch.Tensor | None,
    max_new_tokens: int,
    batch_size: int = 16,
) -> list[str]:
    """Greedy continuations, batched with left padding; ``vector`` [d] or [n, d] (one per prompt)."""
    device = input_device(model)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    texts: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            inputs = tokenizer(chunk, return_tensors="pt", padding=True).to(device)
            v = vector[start : start + len(chunk)] if vector is not None and vector.dim() == 2 else vector
            with add_to_residual(model, layer, v):
                generated = model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
            width = inputs["input_ids"].shape[1]
            texts += [tokenizer.decode(row[width:], skip_special_tokens=True) for row in generated]
    finally:
        tokenizer.padding_side = side
    return texts


@dataclass(frozen=True)
class GenerationChange:
    strategy: str
    changed: Rate  # the paper's "corrected": steered greedy text ≠ unsteered
    control_changed: Rate | None  # the same with a random direction of equal norm (fixed strength only)
    examples: list[dict[str, str]] = field(default_factory=list)


def generation_change(
    model,
    tokenizer,
    prompts: list[str],
    layer: int,
    vector: torch.Tensor,
    *,
    strength: float | None,
    residuals: torch.Tensor | None = None,
    control: torch.Tensor | None = None,
    max_new_tokens: int = 20,
    batch_size: int = 16,
) -> GenerationChange:
    """The paper's metric, made deterministic: share of prompts whose greedy continuation
    changes under steering. ``strength`` None = phase-adaptive (absolute strength from the
    cosine bands on the unit direction, as the paper; ``residuals`` are the prompts' last-token
    residuals at the layer)."""
    device = input_device(model)
    plain = greedy_generate(model, tokenizer, prompts, layer, None, max_new_tokens, batch_size)
    unit = vector / vector.norm()
    control_rate = None
    if strength is None:
        assert residuals is not None, "phase-adaptive strength needs the prompts' residuals"
        cosines = torch.nn.functional.cosine_similarity(residuals, unit[None, :], dim=1)
        per_prompt = torch.stack([adaptive_strength(float(c)) * unit for c in cosines]).to(device)
        steered = greedy_generate(model, tokenizer, prompts, layer, per_prompt, max_new_tokens, batch_size)
        strategy = "phase-adaptive (paper's cosine bands 3.0 / 1.5 / 0.5 / 0 on the unit direction)"
    else:
        steered = greedy_generate(
            model, tokenizer, prompts, layer, (strength * vector).to(device), max_new_tokens, batch_size
        )
        strategy = f"fixed α = {strength:g} x typical residual"
        if control is not None:
            ctrl = greedy_generate(
                model, tokenizer, prompts, layer, (strength * control).to(device), max_new_tokens, batch_size
            )
            control_rate = wilson(sum(a != b for a, b in zip(plain, ctrl, strict=False)), len(prompts))
    changed = sum(a != b for a, b in zip(plain, steered, strict=False))
    examples = [
        {"prompt": p, "plain": a, "steered": b} for p, a, b in list(zip(prompts, plain, steered, strict=False))[:3]
    ]
    return GenerationChange(strategy, wilson(changed, len(prompts)), control_rate, examples)
