"""One steering evaluation of one model, end to end (protocol: docs/steering.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.models.steering.data import (
    city_pairs,
    data_hash,
    sample,
    split_by_country,
    truthfulqa_items,
)
from phasewatch.models.steering.direction import (
    METHODS,
    ProbeCell,
    TruthDirection,
    all_layer_residuals,
    probe_scan,
    shuffled_label_baseline,
    typical_norm,
)
from phasewatch.models.steering.evaluate import (
    GenerationChange,
    MultipleChoice,
    MultipleChoiceChange,
    SweepRow,
    generation_change,
    mc_change,
    random_directions,
    strength_sweep,
    truthfulqa_mc,
)
from phasewatch.models.steering.layers import SteeringError, decoder_layers, input_device
from phasewatch.models.steering.loading import LoadedModel
from phasewatch.models.steering.stats import Rate, wilson


@dataclass(frozen=True)
class SteeringConfig:
    """The whole evaluation config; stored with every result. Defaults are sized so
    SmolLM2-135M finishes in a few minutes on 2 CPU cores (docs/PERFORMANCE.md)."""

    layer: int | None = None  # None: chosen on the validation split (all layers, one pass)
    method: str = "auto"  # auto: mean_diff, pca and logistic compared on validation; or one of them
    strengths: tuple[float, ...] = (0.5, 1.0)  # x the median residual norm at the layer
    train_pairs: int = 128
    validation_pairs: int = 64
    test_pairs: int = 96
    random_directions: int = 19  # the control distribution; 19 makes p = 0.05 attainable
    random_weight_baseline: bool = True  # probe a randomly initialised copy of the model too
    tqa_questions: int = 24  # seeded sample of the 817; 0 skips MC1/MC2
    mc_strength: float = 0.5
    neutral_texts: int = 16  # TruthfulQA questions outside the MC sample, for KL / cross-entropy change
    generation_prompts: int = 16
    max_new_tokens: int = 16
    batch_size: int = 16
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SteeringConfig:
        """From a JSON object (a job's stored config or ``--config FILE``); unknown keys are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SteeringError(f"unknown steering config keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(values)
        if "strengths" in values:
            values["strengths"] = tuple(float(s) for s in values["strengths"])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        if self.method != "auto" and self.method not in METHODS:
            raise SteeringError(f"unknown method {self.method!r}; use auto, {', '.join(METHODS)}")
        if not self.strengths or any(s < 0 for s in self.strengths):
            raise SteeringError("strengths must be non-negative numbers, e.g. [0.25, 0.5, 1]")
        if min(self.train_pairs, self.validation_pairs, self.test_pairs) < 4 or self.batch_size < 1:
            raise SteeringError("train/validation/test pairs need at least 4 each and batch_size at least 1")
        if self.random_directions < 1:
            raise SteeringError("random_directions must be at least 1 (the control is a distribution)")


@dataclass(frozen=True)
class SteeringReport:
    model: str
    revision: str | None
    device: str
    dtype: str
    memory_estimate: str | None
    layers: int
    layer: int
    method: str
    layer_choice: str
    split_sizes: dict[str, int]
    probe_cells: list[ProbeCell]
    validation_accuracy: float
    test_accuracy: Rate  # raw pairwise accuracy on the test split
    shuffled_label_baseline: Rate
    random_weight_baseline: Rate | None
    held_out_probe_accuracy: float  # = test_accuracy.value (kept for summaries)
    typical_norm: float
    sign_flipped: bool
    misaligned_at_baseline: Rate
    sweep: list[SweepRow]
    mc_baseline: MultipleChoice | None
    mc_steered: MultipleChoice | None
    mc_change: MultipleChoiceChange | None
    generation: list[GenerationChange]
    verdict: str
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    direction_file: str | None = None
    gguf_file: str | None = None


def random_weight_copy(model: Any, seed: int) -> Any:
    """The same architecture with fresh random weights (seeded), on the model's device and dtype."""
    import torch

    torch.manual_seed(seed)
    parameter = next(model.parameters())
    return type(model)(model.config).to(parameter.device, parameter.dtype).eval()


def evaluate_model(
    loaded: LoadedModel, config: SteeringConfig = SteeringConfig(), save_dir: Path | None = None, log: Any = None
) -> SteeringReport:
    config.check()
    started = time.perf_counter()
    model, tok = loaded.model, loaded.tokenizer
    n_layers = len(decoder_layers(model))

    def say(text: str) -> None:
        if log:
            log(text)

    if config.layer is not None and not 0 <= config.layer < n_layers:
        raise SteeringError(
            f"layer {config.layer} is out of range; the model has {n_layers} decoder layers (0–{n_layers - 1})"
        )
    train_all, val_all, test_all = split_by_country(city_pairs())
    train = sample(train_all, config.train_pairs, config.seed, "train")
    val = sample(val_all, config.validation_pairs, config.seed, "validation")
    test = sample(test_all, config.test_pairs, config.seed, "test")
    if {p.city for p in train} & {p.city for p in val + test}:
        raise SteeringError(
            "a training city is in the validation or test split; refusing to evaluate on training items"
        )

    def residuals(m: Any, pairs: list) -> tuple[Any, Any]:
        return (
            all_layer_residuals(m, tok, [p.true_statement for p in pairs], config.batch_size),
            all_layer_residuals(m, tok, [p.false_statement for p in pairs], config.batch_size),
        )

    say("residuals at every layer (one pass per batch)")
    tr, va, te = residuals(model, train), residuals(model, val), residuals(model, test)
    methods = METHODS if config.method == "auto" else (config.method,)
    layers = [config.layer] if config.layer is not None else list(range(n_layers))
    cells, choice = probe_scan(tr, va, te, layers=layers, methods=methods)
    layer, method = choice.layer, choice.method
    layer_choice = ("given" if config.layer is not None else "best validation accuracy over all layers") + (
        f", method {method}" + (" (best of " + ", ".join(methods) + " on validation)" if len(methods) > 1 else "")
    )
    say("probe baselines (shuffled labels, random weights)")
    shuffled = shuffled_label_baseline(tr, va, te, layer, method, config.seed)
    random_weight = None
    if config.random_weight_baseline:
        import torch

        rand_model = random_weight_copy(model, config.seed)
        r_tr, r_va, r_te = (tuple(x[layer : layer + 1] for x in residuals(rand_model, s)) for s in (train, val, test))
        random_weight = probe_scan(r_tr, r_va, r_te, layers=[0], methods=(method,))[1].test
        del rand_model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    norm = typical_norm(tr, layer)
    direction = TruthDirection(
        choice.unit * norm,
        layer,
        method,
        norm,
        choice.validation_accuracy,
        float(choice.test.value or 0.0),
        choice.sign_flipped,
        loaded.name,
        loaded.revision,
        data_hash(train),
    )
    items = truthfulqa_items()
    mc_items = sample(items, config.tqa_questions, config.seed, "truthfulqa")
    chosen = {item["question"] for item in mc_items}
    neutral = [
        item["question"]
        for item in sample(
            [i for i in items if i["question"] not in chosen], config.neutral_texts, config.seed, "neutral"
        )
    ]
    say(f"strength sweep at layer {layer} with {config.random_directions} random directions")
    base, sweep = strength_sweep(
        model,
        tok,
        test,
        layer,
        direction.vector,
        list(config.strengths),
        controls=config.random_directions,
        seed=config.seed,
        batch_size=config.batch_size,
        neutral=neutral,
    )
    device = input_device(model)
    mc_base = mc_steered = change = None
    if config.tqa_questions:
        say("TruthfulQA MC1/MC2 (6-shot QA prompt)")
        mc_base = truthfulqa_mc(model, tok, mc_items, layer, None, config.batch_size, config.seed)
        mc_steered = truthfulqa_mc(
            model,
            tok,
            mc_items,
            layer,
            (config.mc_strength * direction.vector).to(device),
            config.batch_size,
            config.seed,
        )
        change = mc_change(mc_base, mc_steered, config.seed)
    generation = []
    if config.generation_prompts:
        say("generation-change rate (greedy, batched)")
        prompts_pairs = sample(test, config.generation_prompts, config.seed, "generation")
        prompts = [p.prompt for p in prompts_pairs]
        control = random_directions(direction.vector.shape, float(direction.vector.norm()), 1, config.seed)[0]
        generation.append(
            generation_change(
                model,
                tok,
                prompts,
                layer,
                direction.vector,
                strength=config.mc_strength,
                control=control,
                max_new_tokens=config.max_new_tokens,
                batch_size=config.batch_size,
            )
        )
        prompt_res = all_layer_residuals(model, tok, prompts, config.batch_size)[layer]
        generation.append(
            generation_change(
                model,
                tok,
                prompts,
                layer,
                direction.vector,
                strength=None,
                residuals=prompt_res,
                max_new_tokens=config.max_new_tokens,
                batch_size=config.batch_size,
            )
        )
    direction_file = gguf_file = None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        stem = f"direction-{hashlib.sha256(loaded.name.encode()).hexdigest()[:10]}-L{layer}-{method}"
        direction.save(save_dir / f"{stem}.safetensors")
        direction_file = str(save_dir / f"{stem}.safetensors")
        if layer >= 1:
            from phasewatch.models.steering.vectors import export_gguf

            hint = getattr(model.config, "model_type", None) or type(model).__name__
            export_gguf(save_dir / f"{stem}.gguf", {layer: direction.vector}, hint, direction.metadata())
            gguf_file = str(save_dir / f"{stem}.gguf")
    beaten = [r.strength for r in sweep if r.beats_control]
    words = (
        f"Steering beat the random control at α = {', '.join(f'{s:g}' for s in beaten)}"
        if beaten
        else "Steering did not beat the random control at any strength tried"
    ) + (
        f" ({len(sweep)} strengths, {config.random_directions} random directions, {len(test)} test items; "
        "not corrected for trying several strengths)."
    )
    return SteeringReport(
        model=loaded.name,
        revision=loaded.revision,
        device=loaded.device,
        dtype=loaded.dtype,
        memory_estimate=loaded.estimate.text() if loaded.estimate else None,
        layers=n_layers,
        layer=layer,
        method=method,
        layer_choice=layer_choice,
        split_sizes={
            "train": len(train),
            "validation": len(val),
            "test": len(test),
            "tqa": len(mc_items),
            "neutral": len(neutral),
        },
        probe_cells=cells,
        validation_accuracy=choice.validation_accuracy,
        test_accuracy=choice.test,
        shuffled_label_baseline=shuffled,
        random_weight_baseline=random_weight,
        held_out_probe_accuracy=float(choice.test.value or 0.0),
        typical_norm=norm,
        sign_flipped=choice.sign_flipped,
        misaligned_at_baseline=wilson(int((base <= 0).sum()), len(test)),
        sweep=sweep,
        mc_baseline=mc_base,
        mc_steered=mc_steered,
        mc_change=change,
        generation=generation,
        verdict=words,
        seconds=time.perf_counter() - started,
        config=config_dict(config),
        direction_file=direction_file,
        gguf_file=gguf_file,
    )


def config_dict(config: SteeringConfig) -> dict[str, Any]:
    values = asdict(config)
    values["strengths"] = list(values["strengths"])
    return values


def report_dict(report: SteeringReport) -> dict[str, Any]:
    """The report as JSON-ready data (what a job stores)."""
    return asdict(report)
