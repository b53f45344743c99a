"""On a CUDA machine: bf16 on the GPU scores like fp32 on the CPU, shared-prefix scoring and
hooks work there, and loading with dtype / device_map works. Skips cleanly without CUDA."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.data import city_pairs
from phasewatch.models.steering.evaluate import completion_logprobs, prefix_scores
from phasewatch.models.steering.layers import add_to_residual, decoder_layers
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
    ids = torch.randint(3, 300, (2, 9), device="cuda")
    block = decoder_layers(gpu_model)[2]
    outputs: list[torch.Tensor] = []

    def record(_m: torch.nn.Module, _i: object, out: object) -> None:
        outputs.append((out[0] if isinstance(out, tuple) else out).clone())  # type: ignore[index,union-attr]

    vector = torch.linspace(-2.0, 2.0, 64)  # on the CPU, in fp32: moved to the block's device and dtype
    with torch.no_grad():
        with add_to_residual(gpu_model, 2, vector):
            handle = block.register_forward_hook(record)  # registered after the steering hook: sees its output
            gpu_model(ids)
            handle.remove()
        handle = block.register_forward_hook(record)
        gpu_model(ids)
        handle.remove()
    steered, plain = outputs
    assert steered.device.type == "cuda" and steered.dtype == torch.bfloat16
    assert torch.equal(steered, plain + vector.to("cuda", torch.bfloat16))


def test_load_in_bf16_with_device_map(tmp_path) -> None:
    from phasewatch.models.steering.loading import load_model
    from tests.models.steering.conftest import _tokenizer

    tiny_model("llama").save_pretrained(tmp_path / "m")
    _tokenizer().save_pretrained(tmp_path / "m")
    loaded = load_model(str(tmp_path / "m"), device="cuda", dtype="bf16", device_map="auto")
    assert loaded.dtype == "bfloat16" and next(loaded.model.parameters()).is_cuda
    assert loaded.estimate is not None and loaded.estimate.available_bytes > loaded.estimate.needed_bytes
