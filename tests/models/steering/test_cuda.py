"""On a CUDA machine: bf16 on the GPU scores like fp32 on the CPU, shared-prefix scoring and
hooks work there, and loading with dtype / device_map works. Skips cleanly without CUDA."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.data import city_pairs
from phasewatch.models.steering.evaluate import completion_logprobs, prefix_scores
from phasewatch.models.steering.layers import add_to_residual
from tests.models.steering.conftest import tiny_model

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_bf16_cuda_scores_match_fp32_cpu(tiny_tokenizer) -> None:
    pairs = city_pairs()[:16]
    prompts, completions = [p.prompt for p in pairs], [p.true_completion for p in pairs]
    model = tiny_model("llama")
    cpu = completion_logprobs(model, tiny_tokenizer, prompts, completions)
    cpu_prefix = prefix_scores(model, tiny_tokenizer, "Q: x", [(" Where?", completions[:4])])
    gpu_model = model.to("cuda", dtype=torch.bfloat16)
    gpu = completion_logprobs(gpu_model, tiny_tokenizer, prompts, completions)
    assert torch.allclose(cpu, gpu, rtol=0.05, atol=0.5)
    gpu_prefix = prefix_scores(gpu_model, tiny_tokenizer, "Q: x", [(" Where?", completions[:4])])
    assert gpu_prefix[0] == pytest.approx(cpu_prefix[0], rel=0.05, abs=0.5)
    with add_to_residual(gpu_model, 2, torch.full((64,), 2.0)):  # a CPU vector is moved to the block's device
        steered = completion_logprobs(gpu_model, tiny_tokenizer, prompts, completions)
    assert not torch.allclose(gpu, steered)


def test_load_in_bf16_with_device_map(tmp_path) -> None:
    from phasewatch.models.steering.loading import load_model
    from tests.models.steering.conftest import _tokenizer

    tiny_model("llama").save_pretrained(tmp_path / "m")
    _tokenizer().save_pretrained(tmp_path / "m")
    loaded = load_model(str(tmp_path / "m"), device="cuda", dtype="bf16", device_map="auto")
    assert loaded.dtype == "bfloat16" and next(loaded.model.parameters()).is_cuda
    assert loaded.estimate is not None and loaded.estimate.available_bytes > loaded.estimate.needed_bytes
