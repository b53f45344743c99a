"""The truth direction: mean difference of last-token residuals, true minus false."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from phasewatch.models.steering.data import StatementPair, data_hash
from phasewatch.models.steering.layers import capture_residual, decoder_layers


@dataclass
class TruthDirection:
    """``vector`` has the length of a typical residual at ``layer`` (the median
    last-token norm), so a strength α adds α times a typical residual."""

    vector: torch.Tensor
    layer: int
    typical_norm: float
    held_out_accuracy: float
    sign_flipped: bool
    model: str
    revision: str | None
    data_hash: str

    @property
    def unit(self) -> torch.Tensor:
        return self.vector / self.vector.norm()

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        metadata = {"model": self.model, "revision": self.revision or "", "layer": str(self.layer),
                    "typical_norm": repr(self.typical_norm), "held_out_accuracy": repr(self.held_out_accuracy),
                    "sign_flipped": str(self.sign_flipped), "data_hash": self.data_hash}  # fmt: skip
        save_file({"direction": self.vector.detach().float().cpu().contiguous()}, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: Path) -> TruthDirection:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata()
            vector = handle.get_tensor("direction")
        return cls(vector, int(meta["layer"]), float(meta["typical_norm"]), float(meta["held_out_accuracy"]),
                   meta["sign_flipped"] == "True", meta["model"], meta["revision"] or None, meta["data_hash"])  # fmt: skip


@torch.no_grad()
def last_token_residuals(model, tokenizer, texts: list[str], layer: int, batch_size: int = 16) -> torch.Tensor:  # noqa: ANN001
    """Output of block ``layer`` at each text's last real token, [n, d_model], float32 on CPU."""
    out = []
    device = next(model.parameters()).device
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        with capture_residual(model, layer) as records:
            model(**batch)
        last = batch["attention_mask"].sum(dim=1) - 1
        out.append(records[0][torch.arange(len(last), device=device), last].float().cpu())
    return torch.cat(out)


def pairwise_accuracy(unit: torch.Tensor, true_res: torch.Tensor, false_res: torch.Tensor) -> float:
    """Share of pairs whose true statement projects higher on the direction than its false one."""
    return float(((true_res @ unit) > (false_res @ unit)).float().mean())


def compute_direction(
    model, tokenizer, train: list[StatementPair], held_out: list[StatementPair], layer: int, *,  # noqa: ANN001
    model_name: str, revision: str | None = None, batch_size: int = 16,
) -> TruthDirection:  # fmt: skip
    """Mean(true) − mean(false) on ``train``; sign checked on ``held_out`` (flipped if
    true statements project lower), scaled to the median residual norm."""
    true_res = last_token_residuals(model, tokenizer, [p.true_statement for p in train], layer, batch_size)
    false_res = last_token_residuals(model, tokenizer, [p.false_statement for p in train], layer, batch_size)
    diff = true_res.mean(0) - false_res.mean(0)
    unit = diff / diff.norm()
    typical = float(torch.cat([true_res, false_res]).norm(dim=1).median())
    held_true = last_token_residuals(model, tokenizer, [p.true_statement for p in held_out], layer, batch_size)
    held_false = last_token_residuals(model, tokenizer, [p.false_statement for p in held_out], layer, batch_size)
    accuracy = pairwise_accuracy(unit, held_true, held_false)
    flipped = accuracy < 0.5
    if flipped:
        unit, accuracy = -unit, 1 - accuracy
    return TruthDirection(unit * typical, layer, typical, accuracy, flipped, model_name, revision, data_hash(train))


def layer_sweep(model, tokenizer, train: list[StatementPair], held_out: list[StatementPair], *,  # noqa: ANN001
                batch_size: int = 16) -> dict[int, float]:  # fmt: skip
    """Held-out pairwise probe accuracy of the mean-difference direction at every layer."""
    n = len(decoder_layers(model))
    scores = {}
    for layer in range(n):
        tr_t = last_token_residuals(model, tokenizer, [p.true_statement for p in train], layer, batch_size)
        tr_f = last_token_residuals(model, tokenizer, [p.false_statement for p in train], layer, batch_size)
        unit = (tr_t.mean(0) - tr_f.mean(0)) / (tr_t.mean(0) - tr_f.mean(0)).norm()
        ho_t = last_token_residuals(model, tokenizer, [p.true_statement for p in held_out], layer, batch_size)
        ho_f = last_token_residuals(model, tokenizer, [p.false_statement for p in held_out], layer, batch_size)
        scores[layer] = max(pairwise_accuracy(unit, ho_t, ho_f), 1 - pairwise_accuracy(unit, ho_t, ho_f))
    return scores
