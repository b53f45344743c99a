"""Layer discovery and hooks across architectures: the steered block's output is exactly
original + vector, earlier blocks are untouched, and the hook is gone afterwards, even after an error."""

from __future__ import annotations

import pytest
import torch

from phasewatch.models.steering.layers import (
    SteeringError,
    add_to_residual,
    capture_residual,
    decoder_layers,
    quarter_depth,
)
from tests.models.steering.conftest import ARCHS, tiny_model


@pytest.mark.parametrize("arch", ARCHS)
def test_discovery_hooks_and_removal(arch: str) -> None:
    model = tiny_model(arch)
    layers = decoder_layers(model)
    assert len(layers) == 8 and quarter_depth(model) == 2
    ids = torch.randint(3, 300, (2, 12))
    with torch.no_grad():
        base = model(ids).logits
        with capture_residual(model, 2) as records:
            model(ids)
        assert records[0].shape == (2, 12, 64)
        with add_to_residual(model, 2, torch.full((64,), 3.0)):
            steered = model(ids).logits
        after = model(ids).logits
        with pytest.raises(RuntimeError, match="boom"):
            with add_to_residual(model, 2, torch.full((64,), 3.0)):
                raise RuntimeError("boom")
        after_error = model(ids).logits
    assert not torch.allclose(base, steered)
    assert torch.equal(base, after) and torch.equal(base, after_error)
    assert all(len(layer._forward_hooks) == 0 for layer in layers)


def _block_outputs(model: torch.nn.Module, ids: torch.Tensor) -> list[torch.Tensor]:
    outputs = []
    handles = [
        block.register_forward_hook(
            lambda _m, _i, out: outputs.append((out[0] if isinstance(out, tuple) else out).clone())
        )
        for block in decoder_layers(model)
    ]
    try:
        model(ids)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


@pytest.mark.parametrize("arch", ARCHS)
def test_steered_block_is_original_plus_vector_exactly_and_earlier_blocks_untouched(arch: str) -> None:
    model = tiny_model(arch)
    ids = torch.randint(3, 300, (2, 9))
    vector = torch.linspace(-1.5, 2.0, 64)
    with torch.no_grad():
        plain = _block_outputs(model, ids)
        # the hooks record in registration order: our steering hook is registered first, so the
        # recorder on block 3 sees the steered output
        with add_to_residual(model, 3, vector):
            steered = _block_outputs(model, ids)
    assert all(torch.equal(a, b) for a, b in zip(plain[:3], steered[:3], strict=False))  # layers before: untouched
    assert torch.equal(steered[3], plain[3] + vector)  # the block itself: original + vector, exactly
    assert not torch.allclose(steered[4], plain[4])  # later blocks see the change


def test_one_vector_per_row() -> None:
    model = tiny_model("llama")
    ids = torch.randint(3, 300, (2, 5))
    rows = torch.stack([torch.zeros(64), torch.ones(64)])
    with torch.no_grad():
        plain = _block_outputs(model, ids)
        with add_to_residual(model, 1, rows):
            steered = _block_outputs(model, ids)
    assert torch.equal(steered[1][0], plain[1][0]) and torch.equal(steered[1][1], plain[1][1] + 1)


def test_tuple_and_tensor_layer_outputs_are_both_steered() -> None:
    class TupleBlock(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            return (x, None)

    class Wrapper(torch.nn.Module):
        def __init__(self, block: torch.nn.Module) -> None:
            super().__init__()
            self.model = torch.nn.Module()
            self.model.layers = torch.nn.ModuleList([block])

    for block, unwrap in ((TupleBlock(), lambda out: out[0]), (torch.nn.Identity(), lambda out: out)):
        wrapper = Wrapper(block)
        with add_to_residual(wrapper, 0, torch.ones(4)):
            assert torch.equal(unwrap(block(torch.zeros(2, 4))), torch.ones(2, 4))


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(SteeringError, match="cannot find the decoder layers of Linear"):
        decoder_layers(torch.nn.Linear(2, 2))
