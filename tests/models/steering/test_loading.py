"""Device, dtype, device_map and the memory estimate made before loading (CPU-testable parts)."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.layers import SteeringError
from phasewatch.models.steering.loading import available_bytes, estimate_memory, load_model, pick_dtype
from tests.models.steering.conftest import tiny_model


def test_dtype_choice() -> None:
    assert pick_dtype("cpu") == "float32"
    assert pick_dtype("cuda", "bf16") == "bfloat16" and pick_dtype("cpu", "fp16") == "float16"
    with pytest.raises(SteeringError, match="unknown dtype"):
        pick_dtype("cpu", "int3")


def test_memory_estimate_counts_the_real_parameters() -> None:
    model = tiny_model("llama")
    real = sum(p.numel() for p in model.parameters())
    estimate = estimate_memory(model.config, "bfloat16", 10**12)
    assert estimate.parameters == real and estimate.needed_bytes == int(real * 2 * 1.2) and estimate.fits
    assert not estimate_memory(model.config, "float32", 1000).fits
    with open("/proc/meminfo", encoding="utf-8") as handle:  # what the kernel says is available now
        kernel = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("MemAvailable:"))
    assert available_bytes("cpu", None) == pytest.approx(kernel, rel=0.2)  # it moves as other processes run


def test_a_model_that_cannot_fit_is_refused_before_loading(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.models.steering.conftest import _tokenizer

    tiny_model("llama").save_pretrained(tmp_path / "m")
    _tokenizer().save_pretrained(tmp_path / "m")
    monkeypatch.setattr("phasewatch.models.steering.loading.available_bytes", lambda device, device_map: 1000)
    with pytest.raises(SteeringError, match="will not fit: .*GiB needed"):
        load_model(str(tmp_path / "m"), device="cpu")
    monkeypatch.undo()
    loaded = load_model(str(tmp_path / "m"), device="cpu")
    assert loaded.dtype == "float32" and loaded.estimate is not None and loaded.estimate.fits
    assert next(loaded.model.parameters()).dtype == torch.float32


def test_device_map_needs_cuda() -> None:
    with pytest.raises(SteeringError, match="--device-map needs CUDA"):
        load_model("whatever", device="cpu", device_map="auto")
