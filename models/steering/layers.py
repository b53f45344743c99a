"""Finding a causal LM's decoder layers and hooking them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from phasewatch.models.errors import SteeringError

# Attribute paths of the decoder block list, by architecture family.
LAYER_PATHS = (
    "gpt_neox.layers",  # GPT-NeoX, Pythia
    "model.layers",  # Llama, Mistral, Mixtral (MoE), Qwen2/3, Gemma, Phi-3, OLMo
    "model.language_model.layers",  # Gemma 3 and other multimodal wrappers
    "transformer.h",  # GPT-2, GPT-J, BLOOM, Falcon
    "model.decoder.layers",  # OPT
    "transformer.blocks",  # MPT
)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The list of decoder blocks, by known path, else the ModuleList whose
    length equals the configured number of layers."""
    for path in LAYER_PATHS:
        obj: Any = model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    config = getattr(model, "config", None)
    wanted = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == wanted]
    if wanted and lists:
        return lists[0]
    raise SteeringError(
        f"cannot find the decoder layers of {type(model).__name__}; known paths: {', '.join(LAYER_PATHS)}"
    )


def quarter_depth(model: nn.Module) -> int:
    """The paper's probe/steer layer: num_layers // 4."""
    return len(decoder_layers(model)) // 4


def _hidden(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def input_device(model: nn.Module) -> torch.device:
    """Where inputs go: the input embeddings' device (the first GPU under ``device_map``)."""
    embeddings: nn.Module = model.get_input_embeddings()  # type: ignore[operator]  # a transformers method nn.Module's stubs cannot see
    return next(embeddings.parameters()).device


@contextmanager
def add_to_residual(model: nn.Module, layer: int, vector: torch.Tensor | None) -> Iterator[None]:
    """Add ``vector`` to the output of decoder block ``layer`` at every position — [d]
    for all rows, or [batch, d] one per row; moved to the block's device and dtype. The
    hook is removed on exit, whatever happens inside. ``None`` adds nothing."""
    if vector is None:
        yield
        return
    block = decoder_layers(model)[layer]

    def shifted(hidden: torch.Tensor) -> torch.Tensor:
        v = vector.to(hidden.device, hidden.dtype)
        return hidden + (v[:, None, :] if v.dim() == 2 else v)

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):  # transformers 4.x style: (hidden, *extras)
            return (shifted(output[0]), *output[1:])
        return shifted(output)  # transformers 5: a plain tensor

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def capture_residual(model: nn.Module, layer: int) -> Iterator[list[torch.Tensor]]:
    """Record the output hidden states of block ``layer`` for each forward pass."""
    records: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        records.append(_hidden(output).detach())

    handle = decoder_layers(model)[layer].register_forward_hook(hook)
    try:
        yield records
    finally:
        handle.remove()
