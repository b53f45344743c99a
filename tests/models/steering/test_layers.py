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


def _shift_by_hand(model: torch.nn.Module, layer: int, delta: torch.Tensor) -> torch.utils.hooks.RemovableHandle:
    """The reference: a plain forward hook adding ``delta`` to block ``layer``'s hidden state
    and nothing else, written independently of ``add_to_residual``."""

    def hook(_m: torch.nn.Module, _i: object, out: object) -> object:
        if isinstance(out, tuple):
            return (out[0] + delta, *out[1:])
        assert isinstance(out, torch.Tensor)
        return out + delta

    return decoder_layers(model)[layer].register_forward_hook(hook)


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
        # not a constant vector: a LayerNorm after the block would remove a constant shift entirely
        vector = torch.linspace(-3.0, 3.0, 64)
        with add_to_residual(model, 2, vector):
            steered = model(ids).logits
        handle = _shift_by_hand(model, 2, vector)
        reference = model(ids).logits
        handle.remove()
        after = model(ids).logits
        with pytest.raises(RuntimeError, match="boom"):
            with add_to_residual(model, 2, torch.full((64,), 3.0)):
                raise RuntimeError("boom")
        after_error = model(ids).logits
    assert torch.equal(steered, reference)  # the model's output: exactly as if block 2 alone had been shifted
    assert (steered - base).abs().max() > 1e-3  # and that shift reaches the logits
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
@pytest.mark.parametrize("alpha", [0.75, -2.0])
def test_steered_block_is_original_plus_alpha_vector_exactly_and_no_other_layer_is_touched(
    arch: str, alpha: float
) -> None:
    model = tiny_model(arch)
    ids = torch.randint(3, 300, (2, 9))
    vector = torch.linspace(-1.5, 2.0, 64)
    delta = alpha * vector
    with torch.no_grad():
        plain = _block_outputs(model, ids)
        # the hooks record in registration order: the steering hook is registered first, so the
        # recorder on block 3 sees the steered output
        with add_to_residual(model, 3, delta):
            steered = _block_outputs(model, ids)
        handle = _shift_by_hand(model, 3, delta)
        try:
            by_hand = _block_outputs(model, ids)
        finally:
            handle.remove()
    assert len(steered) == len(plain) == 8
    for layer in range(3):  # before the steered block: bit for bit the unsteered outputs
        assert torch.equal(steered[layer], plain[layer]), layer
    # the steered block, at every position of every row: its own output + α·v, exactly
    assert torch.equal(steered[3], plain[3] + delta)
    for layer in range(4, 8):  # after it: each block computes exactly what it would on that shifted input
        assert torch.equal(steered[layer], by_hand[layer]), layer
        assert (steered[layer] - plain[layer]).abs().max() > 1e-4, layer  # which differs from the unsteered run
    assert all(len(block._forward_hooks) == 0 for block in decoder_layers(model))


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
