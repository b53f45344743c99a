"""Truth data shipped in registry/data/truth (licences and provenance beside the files)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class StatementPair:
    """A true and a false completion of the same prompt (one city)."""

    city: str
    prompt: str
    true_completion: str
    false_completion: str

    @property
    def true_statement(self) -> str:
        return self.prompt + self.true_completion

    @property
    def false_statement(self) -> str:
        return self.prompt + self.false_completion


def _truth_file(*parts: str):
    return resources.files("phasewatch.registry.data").joinpath("truth", *parts)


def city_pairs() -> list[StatementPair]:
    """Minimal pairs from the CC-BY trilemma-of-truth city statements: for each city,
    its true affirmative statement and its first false one, split at "located in"."""
    by_city: dict[str, dict[str, str]] = {}
    with _truth_file("trilemma-of-truth", "city_locations.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["negation"] != "FALSE" or row["real_object"] != "TRUE" or " located in " not in row["statement"]:
                continue
            prompt, _, obj = row["statement"].rpartition(" located in ")
            slot = "true" if row["correct"] == "TRUE" else "false"
            by_city.setdefault(row["object_1"], {"prompt": prompt + " located in"}).setdefault(slot, " " + obj)
    return [StatementPair(city, v["prompt"], v["true"], v["false"]) for city, v in sorted(by_city.items())
            if "true" in v and "false" in v]  # fmt: skip


def split_by_city(pairs: list[StatementPair], held_out_share: float = 0.25) -> tuple[list[StatementPair], list[StatementPair]]:
    """Train / held-out by a hash of the city, so no city is on both sides."""
    def held(pair: StatementPair) -> bool:
        return int(hashlib.sha256(pair.city.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < held_out_share

    return [p for p in pairs if not held(p)], [p for p in pairs if held(p)]


def truthfulqa_items() -> list[dict[str, Any]]:
    """The 817-question TruthfulQA v1 multiple-choice task (mc1_targets, mc2_targets)."""
    with _truth_file("truthfulqa", "mc_task_v1.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def data_hash(pairs: list[StatementPair]) -> str:
    return hashlib.sha256("\n".join(p.true_statement + "|" + p.false_statement for p in pairs).encode()).hexdigest()
