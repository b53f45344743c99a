"""One steering evaluation of one model, end to end."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.models.steering.data import city_pairs, split_by_city, truthfulqa_items
from phasewatch.models.steering.direction import compute_direction, layer_sweep
from phasewatch.models.steering.evaluate import (
    GenerationChange,
    MultipleChoice,
    SweepRow,
    generation_change,
    strength_sweep,
    truthfulqa_mc,
)
from phasewatch.models.steering.layers import decoder_layers, quarter_depth
from phasewatch.models.steering.loading import LoadedModel


@dataclass(frozen=True)
class SteeringConfig:
    layer: int | None = None  # None: num_layers // 4 (the paper's quarter depth)
    layer_sweep: bool = False  # pick the layer by held-out probe accuracy instead
    strengths: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0)  # x the median residual norm at the layer
    train_pairs: int = 200
    held_out_pairs: int = 100
    tqa_questions: int = 100  # of the 817; 0 skips MC1/MC2
    mc_strength: float = 0.1
    generation_prompts: int = 10
    max_new_tokens: int = 20
    batch_size: int = 16
    seed: int = 0



@dataclass(frozen=True)
class SteeringReport:
    model: str
    revision: str | None
    device: str
    layers: int
    layer: int
    layer_choice: str
    layer_accuracies: dict[int, float]
    typical_norm: float
    held_out_probe_accuracy: float
    sign_flipped: bool
    held_out_items: int
    misaligned_at_baseline: int
    sweep: list[SweepRow]
    mc_baseline: MultipleChoice | None
    mc_steered: MultipleChoice | None
    generation: list[GenerationChange]
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    direction_file: str | None = None


def evaluate_model(loaded: LoadedModel, config: SteeringConfig = SteeringConfig(), save_dir: Path | None = None,
                   log: Any = None) -> SteeringReport:  # fmt: skip
    started = time.perf_counter()
    model, tok = loaded.model, loaded.tokenizer

    def say(text: str) -> None:
        if log:
            log(text)

    train, held = split_by_city(city_pairs())
    train, held = train[: config.train_pairs], held[: config.held_out_pairs]
    accuracies: dict[int, float] = {}
    if config.layer_sweep:
        say("sweeping layers")
        accuracies = layer_sweep(model, tok, train, held, batch_size=config.batch_size)
        layer, choice = max(accuracies, key=lambda k: accuracies[k]), "layer sweep (best held-out probe accuracy)"
    elif config.layer is not None:
        layer, choice = config.layer, "given"
    else:
        layer, choice = quarter_depth(model), "num_layers // 4 (the paper's quarter depth)"
    say(f"truth direction at layer {layer}")
    direction = compute_direction(model, tok, train, held, layer, model_name=loaded.name, revision=loaded.revision,
                                  batch_size=config.batch_size)  # fmt: skip
    say("strength sweep with random-direction control")
    base, sweep = strength_sweep(model, tok, held, direction, list(config.strengths), config.seed, config.batch_size)
    mc_base = mc_steered = None
    if config.tqa_questions:
        say("TruthfulQA MC1/MC2")
        items = truthfulqa_items()[: config.tqa_questions]
        mc_base = truthfulqa_mc(model, tok, items, layer, None, config.batch_size)
        vector = (config.mc_strength * direction.vector).to(next(model.parameters()).device)
        mc_steered = truthfulqa_mc(model, tok, items, layer, vector, config.batch_size)
    generation = []
    if config.generation_prompts:
        say("generation-change rate (greedy)")
        prompts = [p.prompt for p in held[: config.generation_prompts]]
        generation.append(generation_change(model, tok, prompts, direction, strength=config.mc_strength,
                                            max_new_tokens=config.max_new_tokens, seed=config.seed))  # fmt: skip
        generation.append(generation_change(model, tok, prompts, direction, strength=None,
                                            max_new_tokens=config.max_new_tokens, seed=config.seed))  # fmt: skip
    direction_file = None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        path = save_dir / f"direction-{hashlib.sha256(loaded.name.encode()).hexdigest()[:10]}-L{layer}.safetensors"
        direction.save(path)
        direction_file = str(path)
    return SteeringReport(
        model=loaded.name, revision=loaded.revision, device=loaded.device, layers=len(decoder_layers(model)),
        layer=layer, layer_choice=choice, layer_accuracies=accuracies, typical_norm=direction.typical_norm,
        held_out_probe_accuracy=direction.held_out_accuracy, sign_flipped=direction.sign_flipped,
        held_out_items=len(held), misaligned_at_baseline=int((base <= 0).sum()), sweep=sweep,
        mc_baseline=mc_base, mc_steered=mc_steered, generation=generation,
        seconds=time.perf_counter() - started, config=asdict(config), direction_file=direction_file,
    )  # fmt: skip
