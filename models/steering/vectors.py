"""Direction files people can reuse: safetensors with metadata, and GGUF control
vectors in the format llama.cpp (``--control-vector``) and repeng
(``ControlVector.import_gguf``) read: ``general.architecture = "controlvector"``,
``controlvector.model_hint`` (the model's architecture, e.g. "llama"),
``controlvector.layer_count`` (the number of direction tensors, as repeng writes it)
and one float32 tensor ``direction.{layer}`` per layer.

Layer numbering: llama.cpp adds ``direction.N`` to the output of block N (0-based),
the same block index this package hooks, so a direction at block ``layer`` is written
as ``direction.{layer}``. llama.cpp never steers block 0 (``direction.0`` is refused),
so a layer-0 direction cannot be exported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from phasewatch.models.steering.layers import SteeringError

META_PREFIX = "phasewatch."


def save_safetensors(path: Path, vector: torch.Tensor, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file({"direction": vector.detach().float().cpu().contiguous()}, str(path), metadata=metadata)


def load_safetensors(path: Path) -> tuple[torch.Tensor, dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor("direction"), dict(handle.metadata() or {})


def export_gguf(
    path: Path, directions: dict[int, torch.Tensor], model_hint: str, metadata: dict[str, str] | None = None
) -> None:
    """Write a control-vector GGUF; ``metadata`` goes in as extra ``phasewatch.*`` strings
    (readers ignore keys they do not know)."""
    import gguf

    if not directions:
        raise SteeringError("no direction to export; compute one first")
    if 0 in directions:
        raise SteeringError("llama.cpp does not steer block 0 (direction.0 is refused); pick a layer ≥ 1")
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", model_hint)
    writer.add_uint32("controlvector.layer_count", len(directions))
    for key, value in (metadata or {}).items():
        writer.add_string(META_PREFIX + key, value)
    for layer, vector in sorted(directions.items()):
        writer.add_tensor(f"direction.{layer}", vector.detach().float().cpu().numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_gguf(path: Path) -> tuple[dict[int, np.ndarray], dict[str, str | int]]:
    """Read a control-vector GGUF back: {layer: float32 array} and its metadata."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    meta: dict[str, str | int] = {}
    for name, fld in reader.fields.items():
        if name.startswith(("general.architecture", "controlvector.", META_PREFIX)):
            value = fld.contents()
            meta[name] = value if isinstance(value, (str, int)) else str(value)
    if meta.get("general.architecture") != "controlvector":
        raise SteeringError(
            f"{path} is not a control-vector GGUF (general.architecture = {meta.get('general.architecture')!r})"
        )
    directions = {}
    for tensor in reader.tensors:
        if tensor.name.startswith("direction."):
            directions[int(tensor.name.split(".", 1)[1])] = np.array(tensor.data, dtype=np.float32).reshape(-1)
    return directions, meta
