"""Steering performance on SmolLM2-135M-Instruct (CPU, or CUDA where present).

    .venv/bin/python bench/bench_steer.py [--device cpu] [--rounds 7]

1. hook overhead: forward pass with the steering hook vs without, interleaved;
2. scoring throughput: completion log-probs batched (16) vs one item at a time;
3. end to end: one `evaluate_model` with the CLI's defaults but smaller counts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from phasewatch.models.steering.data import city_pairs
from phasewatch.models.steering.evaluate import completion_logprobs
from phasewatch.models.steering.layers import add_to_residual, quarter_depth
from phasewatch.models.steering.loading import load_model, smollm2_gguf
from phasewatch.models.steering.run import SteeringConfig, evaluate_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    loaded = load_model(str(smollm2_gguf()), device=args.device)
    load_s = time.perf_counter() - start
    model, tok = loaded.model, loaded.tokenizer
    sync = torch.cuda.synchronize if loaded.device == "cuda" else (lambda: None)
    pairs = city_pairs()[:64]
    batch = tok([p.true_statement for p in pairs[:16]], return_tensors="pt", padding=True).to(loaded.device)
    vector = torch.randn(model.config.hidden_size, device=loaded.device)
    layer = quarter_depth(model)
    plain, hooked = [], []
    with torch.no_grad():
        model(**batch)
        for _ in range(args.rounds):
            sync(); t = time.perf_counter(); model(**batch); sync(); plain.append(time.perf_counter() - t)
            with add_to_residual(model, layer, vector):
                sync(); t = time.perf_counter(); model(**batch); sync(); hooked.append(time.perf_counter() - t)
    prompts, completions = [p.prompt for p in pairs], [p.true_completion for p in pairs]
    batched, single = [], []
    for _ in range(3):
        t = time.perf_counter(); completion_logprobs(model, tok, prompts, completions, 16); batched.append(time.perf_counter() - t)
        t = time.perf_counter(); completion_logprobs(model, tok, prompts, completions, 1); single.append(time.perf_counter() - t)
    t = time.perf_counter()
    evaluate_model(loaded, SteeringConfig(train_pairs=64, held_out_pairs=48, tqa_questions=20, generation_prompts=4,
                                          max_new_tokens=10, strengths=(0.1, 0.5, 2.0)))  # fmt: skip
    e2e = time.perf_counter() - t
    mp, mh = statistics.median(plain), statistics.median(hooked)
    mb, ms = statistics.median(batched), statistics.median(single)
    print(f"SmolLM2-135M-Instruct (GGUF Q4_1, dequantised) on {loaded.device}, Python {sys.version.split()[0]}, torch {torch.__version__}\n")
    print(f"model load: {load_s:.1f} s")
    print(f"forward pass, 16 statements: unhooked median {mp * 1000:.1f} ms, hooked {mh * 1000:.1f} ms "
          f"({args.rounds} interleaved rounds): overhead {100 * (mh - mp) / mp:+.1f} %")
    print(f"scoring 64 completions: batched (16) median {mb:.2f} s, one at a time {ms:.2f} s (3 rounds): {ms / mb:.1f}x")
    print(f"end to end (64 train / 48 held-out pairs, 3 strengths, 20 TruthfulQA questions, 4 generation prompts): {e2e:.1f} s")


if __name__ == "__main__":
    main()
