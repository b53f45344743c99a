"""Load the bundled, sourced data sets (idempotently).

Sources live in ``registry/data/`` with their provenance and licences
(``registry/data/PROVENANCE.md``). Every figure becomes an observation that
carries its source; the paper's names are matched to the sourced panel's
through ``mappings/*.csv`` (each match with its stated basis) or, failing that,
by case-insensitive name.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import select

from phasewatch.registry.catalog import Catalog, Counts
from phasewatch.registry.dates import format_partial_date, parse_partial_date
from phasewatch.registry.schema import Model, ModelKind, Panel, ReportedBy

log = logging.getLogger(__name__)

CAPE_REPO = "https://github.com/adilamin89/cape-scaling"
CAPE_COMMIT = "d0bba894ef8a3bc7e35ffead7ee4d21e590cc570"
CAPE_LICENCE = "MIT, (c) 2026 Adil Amin"

FRONTIER_BENCHMARKS = ("swe_bench_verified", "gpqa_diamond", "hle", "ifeval", "aime_2025", "mmlu_pro", "arc_agi_2")
BASE_V1 = ("arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc2", "winogrande", "gsm8k")
BASE_V2 = {
    "ifeval": "olb2_ifeval",
    "bbh": "olb2_bbh",
    "math_lvl5": "olb2_math_lvl5",
    "gpqa": "olb2_gpqa",
    "musr": "olb2_musr",
    "mmlu_pro": "olb2_mmlu_pro",
}
PAPER_BASE_COLUMNS = {
    "HS": "hellaswag",
    "TQA": "truthfulqa_mc2",
    "ARC": "arc_challenge",
    "WG": "winogrande",
    "MMLU": "mmlu",
}
COLLECTED_COLUMNS = {
    "HellaSwag": "hellaswag",
    "TruthfulQA_MC2": "truthfulqa_mc2",
    "ARC_Challenge": "arc_challenge",
    "WinoGrande": "winogrande",
    "MMLU": "mmlu",
}
TAGS = {
    "lab-reported": ReportedBy.LAB,
    "lab figure via secondary page": ReportedBy.LAB,
    "third-party measured": ReportedBy.THIRD_PARTY,
}


@dataclass(frozen=True)
class PanelSpec:
    name: str
    description: str
    source: str
    licence: str
    retrieved_on: dt.date  # when the figures were known to their source (grading as of a date uses it)
    retrieved_basis: str


PANELS = {
    "sourced-2026-11": PanelSpec(
        "sourced-2026-11",
        "Independently sourced frontier panel: 91 models, 14 labs, seven benchmarks, a source URL per cell.",
        "registry/data/sources/frontier_models.csv (compiled for phasewatch from lab READMEs and model cards, "
        "llm-stats data @872b75f, models.dev, Epoch AI benchmark-stitching and secondary pages; see PROVENANCE.md)",
        "CC BY 4.0 for cells via llm-stats data; facts from lab publications otherwise",
        dt.date(2026, 11, 23),
        "compiled for phasewatch by 2026-11-23 (shared/research/frontier-data.md)",
    ),
    "growing-pains-34": PanelSpec(
        "growing-pains-34",
        "The Growing Pains paper's 34 frontier models (10 labs), with exactly its SWE-bench Verified and "
        "GPQA Diamond values; subset = the paper's Core / Ext.",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/frontier_34models.json (dates: data/frontier_final_consolidated.json)",
        CAPE_LICENCE,
        dt.date(2026, 5, 4),
        "frontier_34models.json: generated / regression frozen 2026-05-04",
    ),
    "post-cutoff-2026-04": PanelSpec(
        "post-cutoff-2026-04",
        "The paper's five out-of-sample releases of April 2026 (not used in its frozen regression).",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/post_cutoff_april2026.json",
        CAPE_LICENCE,
        dt.date(2026, 5, 12),
        "the repository's computed/predictions_status.json, generated 2026-05-12, already counts these releases",
    ),
    "base-families-2026-11": PanelSpec(
        "base-families-2026-11",
        "113 base checkpoints in 24 families with architecture and Open LLM Leaderboard v1 / v2 scores.",
        "registry/data/sources/base_families.csv (ObsScaling eval_results, Open LLM Leaderboard v2 via "
        "modelrank_ai, leaderboard report 2023-09-15, model cards; see PROVENANCE.md)",
        "Apache-2.0 (ObsScaling) and MIT (modelrank_ai, open-llm-leaderboard-report)",
        dt.date(2026, 11, 23),
        "compiled for phasewatch by 2026-11-23 (shared/research/base-data.md)",
    ),
    "lying-63": PanelSpec(
        "lying-63",
        "The Lying Is Just a Phase paper's base panel: 63 rows in 16 families (61 distinct models: it lists "
        "Llama-3-8B and Llama-3-70B twice), HellaSwag / TruthfulQA / ARC / WinoGrande / MMLU as the paper used "
        "them; subset = the paper's family label.",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/base_models_consolidated.json",
        CAPE_LICENCE,
        dt.date(2026, 5, 6),
        "base_models_consolidated.json metadata: created 2026-05-06",
    ),
    "lying-nc-14": PanelSpec(
        "lying-nc-14",
        "The 14 points behind the paper's N_c = 3.5B [2.9B, 13.4B]: Pythia (8), Llama-1 (3), Llama-2 (3); "
        "HellaSwag and TruthfulQA as typed into its scripts/bootstrap_Nc.py; subset = family.",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/scripts/bootstrap_Nc.py (values typed into the script; "
        "registry/data/sources/paper_points/PROVENANCE.md)",
        CAPE_LICENCE,
        dt.date(2026, 5, 13),
        "the paper (v1, submitted 2026-05-13) reports the N_c these points give",
    ),
    "lying-pythia-8": PanelSpec(
        "lying-pythia-8",
        "The 8 Pythia points behind the paper's Pythia HellaSwag-TruthfulQA correlation; the file says the "
        "6.9B and 12B scores were partly estimated.",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/ai_free_energy_data.json",
        CAPE_LICENCE,
        dt.date(2026, 3, 4),
        "ai_free_energy_data.json metadata: created 2026-03-04",
    ),
    "lying-collected": PanelSpec(
        "lying-collected",
        "The paper author's collected leaderboard scores (47 rows; source tags HF-LLB-v1, Qwen-blog, "
        "HF-blog+TechReport, …) from which part of lying-63 was built.",
        f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/leaderboard_scores_collected.csv",
        CAPE_LICENCE,
        dt.date(2026, 5, 6),
        "the scores behind base_models_consolidated.json (created 2026-05-06)",
    ),
}


def _data_file(*parts: str):
    return resources.files("phasewatch.registry.data").joinpath(*parts)


def _read_csv(*parts: str) -> list[dict[str, str]]:
    with _data_file(*parts).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_json(*parts: str) -> Any:
    with _data_file(*parts).open(encoding="utf-8") as handle:
        return json.load(handle)


def _float(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return None if value is None else int(value)


def seed(catalog: Catalog) -> Counts:
    """Load every bundled data set; a second call adds nothing."""
    load_vocabulary(catalog)
    load_sourced_frontier(catalog)
    load_paper_frontier(catalog)
    load_tiers(catalog)
    load_base_families(catalog)
    load_paper_base(catalog)
    catalog.session.flush()
    return catalog.counts


def load_vocabulary(catalog: Catalog) -> None:
    for row in _read_csv("vocabulary", "labs.csv"):
        aliases = [a for a in row["aliases"].split("|") if a.strip()]
        lab, _ = catalog.add_lab(row["name"], aliases)
        if lab.founded is None and row.get("founded"):
            lab.founded = dt.date(int(row["founded"]), 1, 1)  # the year is what the source states
    for row in _read_csv("vocabulary", "benchmarks.csv"):
        benchmark = catalog.add_benchmark(
            row["key"],
            name=row["name"],
            category=row["category"],
            version=row["version"] or None,
            description=row["description"] or None,
            url=row["url"] or None,
        )
        if benchmark.standard_setting is None:  # filled in on a registry created before revision 0006
            benchmark.standard_setting = row.get("standard_setting") or None
            benchmark.nonstandard_markers = row.get("nonstandard_markers") or None


def _panel(catalog: Catalog, name: str) -> Panel:
    spec = PANELS[name]
    return catalog.add_panel(spec.name, description=spec.description, source=spec.source, licence=spec.licence)


def _retrieved(name: str) -> dt.date:
    return PANELS[name].retrieved_on


# --- the sourced frontier panel ---------------------------------------------------


def _split_sources(text: str) -> dict[str, str]:
    """``field: url || field: url`` → {field: url}."""
    out: dict[str, str] = {}
    for item in text.split(" || "):
        key, sep, url = item.partition(": ")
        if sep:
            out[key.strip()] = url.strip()
    return out


def _split_cell_notes(text: str) -> dict[str, tuple[str, str]]:
    """``key=[tag] setting; key=[tag] …`` → {key: (tag, setting)}.

    Settings may themselves contain ``;``, so the text is cut only where a
    known benchmark key opens a new cell note.
    """
    keys = "|".join(FRONTIER_BENCHMARKS)
    starts = list(re.finditer(rf"(?:^|;\s*)({keys})=\[([^\]]+)\]", text))
    out: dict[str, tuple[str, str]] = {}
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        out[match.group(1)] = (match.group(2), text[match.end() : end].strip(" ;"))
    return out


def load_sourced_frontier(catalog: Catalog) -> None:
    panel = _panel(catalog, "sourced-2026-11")
    for line, row in enumerate(_read_csv("sources", "frontier_models.csv"), start=2):
        cell_notes, _, row_notes = row["notes"].partition("||")
        sources = _split_sources(row["source_urls"])
        model = catalog.find_model(row["model"])
        if model is None:
            day, precision = parse_partial_date(row["release_date"])
            model = catalog.add_model(
                row["model"],
                catalog.lab(row["lab"]),
                kind=ModelKind.FRONTIER,
                release_date=day,
                release_date_precision=precision,
                release_date_source=sources.get("release_date"),
                open_weight=row["open_weight"].strip() == "yes",
                hf_repo=row["hf_repo"] or None,
                params_total_b=_float(row["params_total_b"]),
                params_active_b=_float(row["params_active_b"]),
                notes=row_notes.strip() or None,
            )
        notes = _split_cell_notes(cell_notes.strip())
        for key in FRONTIER_BENCHMARKS:
            value = _float(row[key])
            if value is None:
                continue
            tag, setting = notes.get(key, ("", ""))
            observation, _ = catalog.add_observation(
                model,
                catalog.benchmark(key),
                value,
                reported_by=TAGS.get(tag, ReportedBy.LAB),
                setting=setting or None,
                source_url=sources.get(key),
                retrieved_on=_retrieved("sourced-2026-11"),
                note=f"[{tag}]" if tag else None,
                where=f"frontier_models.csv line {line}",
            )
            catalog.add_to_panel(panel, observation, loading=True)


# --- the paper's frontier panels ------------------------------------------------------


@cache
def _paper_frontier_map() -> dict[str, dict[str, str]]:
    return {row["paper_name"]: row for row in _read_csv("mappings", "paper_frontier_names.csv")}


def _paper_model(catalog: Catalog, name: str, lab: str, date_text: str | None, source: str) -> Model:
    """The registry model behind a paper row: mapped, matched by name, or new."""
    mapping = _paper_frontier_map().get(name, {})
    target = mapping.get("registry_name") or name
    model = catalog.find_model(target)
    if model is None:
        day, precision = parse_partial_date(date_text) if date_text else (None, None)
        variant_of = catalog.find_model(mapping["variant_of"]) if mapping.get("variant_of") else None
        model = catalog.add_model(
            name,
            catalog.lab(lab),
            kind=ModelKind.FRONTIER,
            release_date=day,
            release_date_precision=precision,
            release_date_source=f"{source} (paper's repository)" if date_text else None,
            variant_of=variant_of,
            notes=mapping.get("basis") or None,
        )
    else:
        catalog.add_alias(model, name)
        _note_date_disagreement(model, date_text, source)
    return model


def _note_date_disagreement(model: Model, date_text: str | None, source: str) -> None:
    """Keep the better-sourced date, but say where the paper's repository differs."""
    if not date_text or model.release_date is None:
        return
    day, precision = parse_partial_date(date_text)
    ours = format_partial_date(model.release_date, precision)
    if ours != format_partial_date(day, precision):
        remark = f"The paper's repository dates this model {date_text} ({source})."
        if remark not in (model.notes or ""):
            model.notes = f"{model.notes} {remark}".strip() if model.notes else remark


def load_paper_frontier(catalog: Catalog) -> None:
    dates = {
        m["name"]: m["date"]
        for m in _read_json("sources", "cape-scaling", "frontier_final_consolidated.json")["models"]
    }
    source = f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/frontier_34models.json"
    date_source = f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/frontier_final_consolidated.json"
    panel = _panel(catalog, "growing-pains-34")
    for entry in _read_json("sources", "cape-scaling", "frontier_34models.json")["models"]:
        model = _paper_model(catalog, entry["name"], entry["lab"], dates.get(entry["name"]), date_source)
        _add_paper_pair(catalog, panel, model, entry, source, subset=entry["subset"])
    post = f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/post_cutoff_april2026.json"
    panel = _panel(catalog, "post-cutoff-2026-04")
    for entry in _read_json("sources", "cape-scaling", "post_cutoff_april2026.json")["models"]:
        model = _paper_model(catalog, entry["name"], entry["lab"], entry.get("date"), post)
        _add_paper_pair(catalog, panel, model, entry, post, subset=None)


def load_tiers(catalog: Catalog) -> None:
    """Each bundled model's product tier (vocabulary/model_tiers.csv, the lab's own
    naming); a same-weights variant takes its base's. A tier already set is kept."""
    for row in _read_csv("vocabulary", "model_tiers.csv"):
        model = catalog.find_model(row["model"])
        if model is not None and model.tier is None:
            model.tier = row["tier"]
    for model in catalog.session.scalars(select(Model).where(Model.variant_of_id.is_not(None), Model.tier.is_(None))):
        if model.variant_of is not None and model.variant_of.tier is not None:
            model.tier = model.variant_of.tier


def _add_paper_pair(catalog: Catalog, panel: Panel, model: Model, entry: dict, source: str, subset: str | None) -> None:
    _add_scores(
        catalog,
        panel,
        model,
        {"swe_bench_verified": entry["swe"], "gpqa_diamond": entry["gpqa"]},
        reported_by=ReportedBy.PAPER,
        source_url=source,
        note=f"paper row {entry['name']!r}",
        subset=subset,
    )


# --- base models ------------------------------------------------------------------------


@cache
def _family_labs() -> dict[str, str]:
    return {row["family"]: row["lab"] for row in _read_csv("vocabulary", "family_labs.csv")}


def load_base_families(catalog: Catalog) -> None:
    panel = _panel(catalog, "base-families-2026-11")
    family_labs = _family_labs()
    for line, row in enumerate(_read_csv("sources", "base_families.csv"), start=2):
        model = catalog.find_model(row["model"])
        if model is None:
            model = catalog.add_model(
                row["model"],
                catalog.lab(family_labs[row["family"]]),
                kind=ModelKind.BASE,
                family=row["family"],
                open_weight=True,
                hf_repo=row["hf_repo"] or None,
                params_total_b=_float(row["params_b"]),
                d_model=_int(row["d_model"]),
                n_layers=_int(row["n_layers"]),
                n_heads=_int(row["n_heads"]),
                notes=row["notes"] or None,
            )
        scores = {key: _float(row[column]) for column, key in [(c, c) for c in BASE_V1] + list(BASE_V2.items())}
        _add_scores(
            catalog,
            panel,
            model,
            scores,
            reported_by=ReportedBy.THIRD_PARTY,
            source_url=row["source_urls"] or None,
            where=f"base_families.csv line {line}",
        )


@cache
def _paper_base_map() -> dict[str, str]:
    return {row["paper_name"]: row["registry_name"] for row in _read_csv("mappings", "paper_base_names.csv")}


def _base_model(catalog: Catalog, name: str, family: str, params_b: float | None, source: str) -> Model:
    target = _paper_base_map().get(name, name)
    model = catalog.find_model(target)
    if model is None and target != name:
        model = catalog.find_model(name)
    if model is None:
        model = catalog.add_model(
            target,
            catalog.lab(_family_labs()[family]),
            kind=ModelKind.BASE,
            family=family,
            params_total_b=params_b,
            notes=f"Known only from the paper's base panel ({source}).",
        )
    catalog.add_alias(model, name)
    return model


def load_paper_base(catalog: Catalog) -> None:
    """The paper's base panel (lying-63) and the scores its author collected (lying-collected)."""
    source = f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/base_models_consolidated.json"
    panel = _panel(catalog, "lying-63")
    for entry in _read_json("sources", "cape-scaling", "base_models_consolidated.json")["models"]:
        model = _base_model(catalog, entry["name"], entry["family"], entry.get("N_B"), source)
        catalog.add_panel_model(panel, model, params_b=entry.get("N_B"), label=entry["name"])
        scores = {key: entry.get(column) for column, key in PAPER_BASE_COLUMNS.items()}
        _add_paper_base_scores(catalog, panel, model, scores, source, entry["name"], entry["source"], entry["family"])
    source = PANELS["lying-nc-14"].source.split(" ")[0]
    panel = _panel(catalog, "lying-nc-14")
    for row in _read_csv("sources", "paper_points", "nc_bootstrap_points.csv"):
        name = _paper_point_name(row["family"], row["model"])
        params_b = float(row["params"]) / 1e9
        model = _base_model(catalog, name, row["family"], params_b, source)
        catalog.add_panel_model(panel, model, params_b=params_b, label=f"{row['family']} {row['model']}")
        scores = {"hellaswag": _float(row["hellaswag"]), "truthfulqa_mc2": _float(row["truthfulqa"])}
        _add_paper_base_scores(catalog, panel, model, scores, source, name, "bootstrap_Nc.py", row["family"])
    source = PANELS["lying-pythia-8"].source
    panel = _panel(catalog, "lying-pythia-8")
    pythia = _read_json("sources", "cape-scaling", "ai_free_energy_data.json")
    columns = {
        "HellaSwag": "hellaswag",
        "TruthfulQA": "truthfulqa_mc2",
        "ARC": "arc_challenge",
        "MMLU": "mmlu",
        "WinoGrande": "winogrande",
        "GSM8K": "gsm8k",
    }
    for i, label in enumerate(pythia["pythia_models"]["names"]):
        params_b = pythia["pythia_models"]["N"][i] / 1e9
        model = _base_model(catalog, f"Pythia-{label}", "Pythia", params_b, source)
        catalog.add_panel_model(panel, model, params_b=params_b, label=f"Pythia-{label}")
        scores = {key: pythia["benchmark_scores"][column][i] for column, key in columns.items()}
        tag = "partly estimated (file note)" if label in ("6.9B", "12B") else "ai_free_energy_data.json"
        _add_paper_base_scores(catalog, panel, model, scores, source, f"Pythia-{label}", tag, "Pythia")
    source = f"{CAPE_REPO}/blob/{CAPE_COMMIT}/data/leaderboard_scores_collected.csv"
    panel = _panel(catalog, "lying-collected")
    for row in _read_csv("sources", "cape-scaling", "leaderboard_scores_collected.csv"):
        model = _base_model(catalog, row["Model"], row["Family"], _float(row["Params_B"]), source)
        scores = {key: _float(row[column]) for column, key in COLLECTED_COLUMNS.items()}
        _add_paper_base_scores(catalog, panel, model, scores, source, row["Model"], row["Source"], row["Family"])


def _paper_point_name(family: str, size: str) -> str:
    """The paper's spelling in its base panel: Pythia-70M, Llama1-7B, Llama2-13B."""
    if family == "Pythia":
        return f"Pythia-{size.upper()}"
    return f"{family.replace('-', '')}-{size}"


def _add_paper_base_scores(
    catalog: Catalog,
    panel: Panel,
    model: Model,
    scores: dict[str, float | None],
    source: str,
    paper_name: str,
    tag: str,
    family: str,
) -> None:
    _add_scores(
        catalog,
        panel,
        model,
        scores,
        reported_by=ReportedBy.PAPER,
        source_url=source,
        note=f"paper row {paper_name!r}, source tag {tag!r}",
        subset=family,
    )


def _add_scores(
    catalog: Catalog,
    panel: Panel,
    model: Model,
    scores: dict[str, float | None],
    *,
    reported_by: ReportedBy,
    source_url: str | None,
    note: str | None = None,
    subset: str | None = None,
    where: str = "",
) -> None:
    """One observation per score given (None skipped), dated by the panel, added to the panel."""
    for key, value in scores.items():
        if value is None:
            continue
        observation, _ = catalog.add_observation(
            model,
            catalog.benchmark(key),
            value,
            reported_by=reported_by,
            source_url=source_url,
            retrieved_on=_retrieved(panel.name),
            note=note,
            where=where,
        )
        catalog.add_to_panel(panel, observation, subset=subset, loading=True)


@dataclass(frozen=True)
class InitResult:
    database: str
    revision_before: str | None
    revision_after: str | None
    added: dict[str, int]


def initialise(engine) -> InitResult:
    """Bring the schema to head, then load the bundled data in one transaction."""
    from phasewatch.registry.db import shown_url, transaction, upgrade
    from phasewatch.registry.predictions import seed_predictions

    before, after = upgrade(engine)
    with transaction(engine) as session:
        counts = seed(Catalog(session, bulk=True))
        predictions = seed_predictions(session)
    return InitResult(
        database=shown_url(engine),
        revision_before=before,
        revision_after=after,
        added={**vars(counts), "predictions": predictions},
    )
