"""Truth directions: residuals at every layer in one forward pass, three direction
methods (mean difference, PCA of pair differences, logistic probe), the layer and
method chosen on a validation split, accuracy reported on a separate test split
beside a shuffled-label and a random-weight baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from phasewatch.models.errors import ModelInputError
from phasewatch.models.steering.layers import decoder_layers, input_device
from phasewatch.models.steering.stats import Rate, wilson

METHODS = ("mean_diff", "pca", "logistic")


@dataclass
class TruthDirection:
    """``vector`` = unit direction × ``typical_norm`` (the median last-token residual norm
    at ``layer`` on the training statements), so strength α adds α times a typical residual."""

    vector: torch.Tensor
    layer: int
    method: str
    typical_norm: float
    validation_accuracy: float
    test_accuracy: float
    sign_flipped: bool
    model: str
    revision: str | None
    data_hash: str

    @property
    def unit(self) -> torch.Tensor:
        return self.vector / self.vector.norm()

    def metadata(self) -> dict[str, str]:
        return {
            "model": self.model,
            "revision": self.revision or "",
            "layer": str(self.layer),
            "method": self.method,
            "norm": repr(float(self.vector.norm())),
            "typical_norm": repr(self.typical_norm),
            "validation_accuracy": repr(self.validation_accuracy),
            "test_accuracy": repr(self.test_accuracy),
            "sign_flipped": str(self.sign_flipped),
            "data_hash": self.data_hash,
        }

    def save(self, path: Path) -> None:
        from phasewatch.models.steering.vectors import save_safetensors

        save_safetensors(path, self.vector, self.metadata())

    @classmethod
    def load(cls, path: Path) -> TruthDirection:
        from phasewatch.models.steering.vectors import load_safetensors

        vector, meta = load_safetensors(path)
        return cls(
            vector,
            int(meta["layer"]),
            meta["method"],
            float(meta["typical_norm"]),
            float(meta["validation_accuracy"]),
            float(meta["test_accuracy"]),
            meta["sign_flipped"] == "True",
            meta["model"],
            meta["revision"] or None,
            meta["data_hash"],
        )


@torch.no_grad()
def all_layer_residuals(model, tokenizer, texts: list[str], batch_size: int = 16) -> torch.Tensor:
    """Output of every decoder block at each text's last real token, [layers, n, d_model],
    float32 on CPU, from one forward pass per batch (``output_hidden_states``; the last
    block is read by a hook, since the last hidden state has the final norm applied). The
    pass runs the backbone only (``base_model``): no logits over the vocabulary are computed."""
    from phasewatch.models.steering.layers import capture_residual

    n_layers = len(decoder_layers(model))
    device = input_device(model)
    backbone = getattr(model, "base_model", None) or model
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        with capture_residual(model, n_layers - 1) as last_block:
            hidden = backbone(**batch, output_hidden_states=True).hidden_states
        last = (batch["attention_mask"].sum(dim=1) - 1).cpu()
        rows = torch.arange(len(last))
        states = [hidden[i + 1] for i in range(n_layers - 1)] + [last_block[0]]
        out.append(torch.stack([s.float().cpu()[rows, last] for s in states]))
    return torch.cat(out, dim=1)


def pairwise_accuracy(unit: torch.Tensor, true_res: torch.Tensor, false_res: torch.Tensor) -> float:
    """Raw share of pairs whose true statement projects higher than its false one (no max(a, 1 − a))."""
    return float(((true_res @ unit) > (false_res @ unit)).float().mean())


def fit_direction(method: str, true_res: torch.Tensor, false_res: torch.Tensor) -> torch.Tensor:
    """A unit direction from training residuals [n, d]. mean_diff: mean(true) − mean(false);
    pca: first principal axis of the per-pair differences (uncentred, as a shared shift is
    the signal), oriented like the mean difference; logistic: L2-regularised logistic
    regression of "which of the pair is true" on the pair difference (no intercept)."""
    diffs = (true_res - false_res).double()
    mean = diffs.mean(0)
    if method == "mean_diff":
        unit = mean
    elif method == "pca":
        _, _, vh = torch.linalg.svd(diffs, full_matrices=False)
        unit = vh[0] if float(vh[0] @ mean) >= 0 else -vh[0]
    elif method == "logistic":
        scale = float(diffs.std()) or 1.0
        x = torch.cat([diffs, -diffs]) / scale
        y = torch.cat([torch.ones(len(diffs)), torch.zeros(len(diffs))]).double()
        w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y) + 1e-2 * (w @ w) / 2
            loss.backward()
            return loss

        with torch.enable_grad():
            optimiser.step(closure)
        unit = w.detach()
    else:
        raise ModelInputError(f"unknown direction method {method!r}; one of {', '.join(METHODS)}")
    norm = unit.norm()
    return (unit / norm if norm > 0 else unit).float()


@dataclass(frozen=True)
class ProbeCell:
    layer: int
    method: str
    validation_accuracy: float  # raw, before the sign is chosen
    test_accuracy: float  # raw, with the sign chosen on validation


@dataclass(frozen=True)
class ProbeChoice:
    layer: int
    method: str
    unit: torch.Tensor
    sign_flipped: bool
    validation_accuracy: float  # after the sign (so ≥ 0.5: it chose the sign)
    test: Rate  # raw test accuracy, k of n pairs, Wilson interval


Residuals = tuple[torch.Tensor, torch.Tensor]  # true, false: [layers, n, d]


def probe_scan(
    train: Residuals,
    val: Residuals,
    test: Residuals,
    *,
    layers: list[int] | None = None,
    methods: tuple[str, ...] = METHODS,
) -> tuple[list[ProbeCell], ProbeChoice]:
    """Every (layer, method): fit on train, choose the sign on validation, pick the best
    validation accuracy, and report its raw accuracy on test (never used to choose)."""
    cells, best = [], None
    for layer in layers if layers is not None else range(train[0].shape[0]):
        for method in methods:
            unit = fit_direction(method, train[0][layer], train[1][layer])
            val_acc = pairwise_accuracy(unit, val[0][layer], val[1][layer])
            flipped = val_acc < 0.5
            signed = -unit if flipped else unit
            test_acc = pairwise_accuracy(signed, test[0][layer], test[1][layer])
            cells.append(ProbeCell(layer, method, val_acc, test_acc))
            chosen_val = 1 - val_acc if flipped else val_acc
            if best is None or chosen_val > best[0]:
                best = (chosen_val, layer, method, signed, flipped, test_acc)
    assert best is not None, "no layer to scan"
    chosen_val, layer, method, signed, flipped, test_acc = best
    n = test[0].shape[1]
    return cells, ProbeChoice(layer, method, signed, flipped, chosen_val, wilson(round(test_acc * n), n))


def shuffled_label_baseline(
    train: Residuals, val: Residuals, test: Residuals, layer: int, method: str, seed: int
) -> Rate:
    """The same protocol with the true/false labels of exactly half the training pairs
    swapped (a seeded choice): what a probe scores when its labels carry no truth. Exactly
    half, so a truth signal cancels in the mean difference instead of surviving as the
    imbalance of a coin-flip swap. PCA of pair differences ignores the labels except for
    its orientation, so its shuffled baseline stays as high as the probe itself."""
    generator = torch.Generator().manual_seed(seed)
    n = train[0].shape[1]
    swap = torch.zeros(n, dtype=torch.bool)
    swap[torch.randperm(n, generator=generator)[: n // 2]] = True
    t, f = train[0][layer].clone(), train[1][layer].clone()
    t[swap], f[swap] = train[1][layer][swap], train[0][layer][swap]
    _, choice = probe_scan(
        (t[None], f[None]),
        (val[0][layer][None], val[1][layer][None]),
        (test[0][layer][None], test[1][layer][None]),
        layers=[0],
        methods=(method,),
    )
    return choice.test


def typical_norm(train: Residuals, layer: int) -> float:
    return float(torch.cat([train[0][layer], train[1][layer]]).norm(dim=1).median())
