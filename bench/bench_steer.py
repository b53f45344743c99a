"""Steering performance on SmolLM2-135M-Instruct (CPU, or CUDA where present); run by hand.

    .venv/bin/python bench/bench_steer.py [--device cpu] [--rounds 3]

Side by side, each the median of --rounds interleaved rounds (wall and process CPU time):
1. layer sweep residuals: one pass with all hidden states vs one pass per layer (the old way);
2. TruthfulQA MC scoring, 6-shot prompt: shared prefix (KV cache) vs full sequences, padded batches;
3. greedy generation: batched (left padding) vs one prompt at a time;
4. hook overhead: a forward pass with the steering hook vs without.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

from phasewatch.models.steering.data import QA_PRIMER, city_pairs, sample, tqa_question_block, truthfulqa_items
from phasewatch.models.steering.direction import all_layer_residuals
from phasewatch.models.steering.evaluate import completion_logprobs, greedy_generate, prefix_scores
from phasewatch.models.steering.layers import add_to_residual, capture_residual, decoder_layers, quarter_depth
from phasewatch.models.steering.loading import load_model, smollm2_gguf


def timed(fn: Callable[[], object], sync: Callable[[], None]) -> tuple[float, float]:
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    loaded = load_model(str(smollm2_gguf()), device=args.device)
    load_s = time.perf_counter() - start
    model, tok = loaded.model, loaded.tokenizer
    sync = torch.cuda.synchronize if loaded.device.startswith("cuda") else (lambda: None)
    texts = [p.true_statement for p in sample(city_pairs(), 32, 0)]
    n_layers = len(decoder_layers(model))

    @torch.no_grad()
    def per_layer() -> None:
        for layer in range(n_layers):
            for s in range(0, len(texts), 16):
                batch = tok(texts[s : s + 16], return_tensors="pt", padding=True).to(loaded.device)
                with capture_residual(model, layer):
                    model(**batch)

    items = sample(truthfulqa_items(), 4, 0)
    groups = [
        (tqa_question_block(it["question"]), [" " + a for a in [*it["mc1_targets"], *it["mc2_targets"]]])
        for it in items
    ]
    full_prompts = [QA_PRIMER + middle for middle, answers in groups for _ in answers]
    full_answers = [a for _, answers in groups for a in answers]
    prompts = [p.prompt for p in sample(city_pairs(), 16, 1)]
    layer = quarter_depth(model)
    vector = torch.randn(model.config.hidden_size)
    batch = tok(texts[:16], return_tensors="pt", padding=True).to(loaded.device)

    @torch.no_grad()
    def hooked() -> None:
        with add_to_residual(model, layer, vector):
            model(**batch)

    cases = {
        f"residuals at all {n_layers} layers, 32 statements: one pass": lambda: all_layer_residuals(
            model, tok, texts, 16
        ),
        f"residuals at all {n_layers} layers, 32 statements: pass per layer (old)": per_layer,
        f"TruthfulQA MC, {len(items)} questions / {len(full_answers)} answers, 6-shot: shared prefix": lambda: (
            prefix_scores(model, tok, QA_PRIMER, groups, 16)
        ),
        f"TruthfulQA MC, {len(items)} questions / {len(full_answers)} answers, 6-shot: full sequences (old)": lambda: (
            completion_logprobs(model, tok, full_prompts, full_answers, 16)
        ),
        "greedy generation, 16 prompts x 16 tokens: batched": lambda: greedy_generate(
            model, tok, prompts, layer, None, 16, 16
        ),
        "greedy generation, 16 prompts x 16 tokens: one at a time (old)": lambda: [
            greedy_generate(model, tok, [p], layer, None, 16, 1) for p in prompts
        ],
        "forward pass, 16 statements: no hook": lambda: torch.no_grad()(model)(**batch),
        "forward pass, 16 statements: steering hook": hooked,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            results[name].append(timed(fn, sync))
    print(
        f"SmolLM2-135M-Instruct (GGUF Q4_1, dequantised, {loaded.dtype}) on {loaded.device}, Python "
        f"{sys.version.split()[0]}, torch {torch.__version__}, {torch.get_num_threads()} threads; load {load_s:.1f} s\n"
    )
    print("| case | wall median (s) | CPU median (s) | rounds |\n|---|---|---|---|")
    for name, runs in results.items():
        print(
            f"| {name} | {statistics.median(r[0] for r in runs):.2f} | {statistics.median(r[1] for r in runs):.2f} | {len(runs)} |"
        )


if __name__ == "__main__":
    main()
