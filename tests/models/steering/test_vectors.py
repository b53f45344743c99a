"""Direction files: safetensors metadata and GGUF control vectors (llama.cpp / repeng format) round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phasewatch.models.steering.layers import SteeringError
from phasewatch.models.steering.vectors import export_gguf, load_safetensors, read_gguf, save_safetensors


def test_gguf_control_vector_round_trip_is_identical(tmp_path) -> None:
    vectors = {7: torch.randn(576), 9: torch.randn(576) * 100}
    export_gguf(tmp_path / "v.gguf", vectors, "llama", {"method": "mean_diff", "layer": "7"})
    directions, meta = read_gguf(tmp_path / "v.gguf")
    assert sorted(directions) == [7, 9]
    for layer, vector in vectors.items():
        assert directions[layer].dtype == np.float32 and np.array_equal(directions[layer], vector.numpy())
    assert meta["general.architecture"] == "controlvector" and meta["controlvector.model_hint"] == "llama"
    assert meta["controlvector.layer_count"] == 2 and meta["phasewatch.method"] == "mean_diff"


def test_gguf_tensor_names_are_what_llama_cpp_reads(tmp_path) -> None:
    import gguf

    export_gguf(tmp_path / "v.gguf", {4: torch.ones(8)}, "qwen2")
    reader = gguf.GGUFReader(str(tmp_path / "v.gguf"))
    assert [t.name for t in reader.tensors] == ["direction.4"]
    assert reader.tensors[0].tensor_type == gguf.GGMLQuantizationType.F32


def test_layer_zero_and_foreign_files_are_refused(tmp_path) -> None:
    with pytest.raises(SteeringError, match="block 0"):
        export_gguf(tmp_path / "v.gguf", {0: torch.ones(4)}, "llama")
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "model.gguf"), "llama")
    writer.add_tensor("token_embd.weight", np.ones((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(SteeringError, match="not a control-vector GGUF"):
        read_gguf(tmp_path / "model.gguf")


def test_safetensors_keep_metadata(tmp_path) -> None:
    v = torch.randn(16)
    save_safetensors(tmp_path / "d.safetensors", v, {"model": "org/m", "layer": "3"})
    again, meta = load_safetensors(tmp_path / "d.safetensors")
    assert torch.equal(again, v) and meta == {"model": "org/m", "layer": "3"}
