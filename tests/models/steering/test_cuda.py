"""On a CUDA machine: bf16 on the GPU scores like fp32 on the CPU, and hooks work there. Skips without CUDA."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.data import city_pairs
from phasewatch.models.steering.evaluate import completion_logprobs
from phasewatch.models.steering.layers import add_to_residual
from tests.models.steering.conftest import tiny_model

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_bf16_cuda_scores_match_fp32_cpu(tiny_tokenizer) -> None:
    pairs = city_pairs()[:16]
    prompts, completions = [p.prompt for p in pairs], [p.true_completion for p in pairs]
    model = tiny_model("llama")
    cpu = completion_logprobs(model, tiny_tokenizer, prompts, completions)
    gpu_model = model.to("cuda", dtype=torch.bfloat16)
    gpu = completion_logprobs(gpu_model, tiny_tokenizer, prompts, completions)
    assert torch.allclose(cpu, gpu, rtol=0.05, atol=0.5)
    with add_to_residual(gpu_model, 2, torch.full((64,), 2.0, device="cuda")):
        steered = completion_logprobs(gpu_model, tiny_tokenizer, prompts, completions)
    assert not torch.allclose(gpu, steered)
