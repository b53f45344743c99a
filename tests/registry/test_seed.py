"""The bundled data loads completely, idempotently, and exactly as sourced."""

from __future__ import annotations

import csv
import json

from sqlalchemy import Engine

from phasewatch.registry.catalog import Catalog
from phasewatch.registry.db import transaction
from phasewatch.registry.queries import list_models, show_model, show_panel
from phasewatch.registry.seed import FRONTIER_BENCHMARKS, seed
from tests.helpers import source_path, table_counts


def test_seed_twice_adds_nothing(engine: Engine) -> None:
    before = table_counts(engine)
    with transaction(engine) as session:
        counts = seed(Catalog(session, bulk=True))
    assert counts.total() == 0
    assert table_counts(engine) == before


def test_growing_pains_panel_holds_the_papers_values_exactly(engine: Engine) -> None:
    paper = json.loads(source_path("cape-scaling", "frontier_34models.json").read_text())["models"]
    with transaction(engine) as session:
        rows = {r.name: r for r in list_models(session, panel="growing-pains-34")}
        catalog = Catalog(session)
        for entry in paper:  # the paper's name finds the registry model (alias or name)
            model = catalog.model(entry["name"])
            row = rows[model.name]
            assert row.scores == {"gpqa_diamond": [entry["gpqa"]], "swe_bench_verified": [entry["swe"]]}
            assert row.lab == catalog.lab(entry["lab"]).name
    assert len(rows) == len(paper) == 34
    assert len({r.lab for r in rows.values()}) == 10


def test_post_cutoff_panel_has_the_five_april_releases(engine: Engine) -> None:
    post = json.loads(source_path("cape-scaling", "post_cutoff_april2026.json").read_text())["models"]
    with transaction(engine) as session:
        rows = list_models(session, panel="post-cutoff-2026-04")
        by_name = {Catalog(session).model(p["name"]).name: p for p in post}
    assert {r.name for r in rows} == set(by_name)
    for row in rows:
        assert row.scores["swe_bench_verified"] == [by_name[row.name]["swe"]]


def test_sourced_panel_keeps_every_cell_with_its_source(engine: Engine) -> None:
    with source_path("frontier_models.csv").open(newline="") as handle:
        cells = [(r["model"], k, float(r[k])) for r in csv.DictReader(handle) for k in FRONTIER_BENCHMARKS if r[k]]
    with transaction(engine) as session:
        panel = show_panel(session, "sourced-2026-11")
        rows = list_models(session, panel="sourced-2026-11")
        detail = show_model(session, "Kimi K2.5")
    assert panel.models == 91 and panel.observations == len(cells)
    held = {(r.name, k, v) for r in rows for k, values in r.scores.items() for v in values}
    assert set(cells) <= held
    sourced = [o for o in detail.observations if "sourced-2026-11" in o.panels]
    assert sourced and all(o.source_url and o.source_url.startswith("http") for o in sourced)


def test_lab_aliases_resolve_to_one_lab(engine: Engine) -> None:
    with transaction(engine) as session:
        catalog = Catalog(session)
        assert catalog.lab("Google") is catalog.lab("Google DeepMind") is catalog.lab("google deepmind")
        assert catalog.lab("Zhipu") is catalog.lab("Zhipu AI (Z.ai)")
        assert catalog.lab("Moonshot") is catalog.lab("Moonshot AI")


def test_model_in_two_sources_is_one_model_with_both_observations(engine: Engine) -> None:
    with transaction(engine) as session:
        detail = show_model(session, "GPT-5")  # the paper's name for the sourced "GPT-5 (thinking)"
    assert detail.name == "GPT-5 (thinking)" and "GPT-5" in detail.aliases
    swe = {(o.reported_by, o.value) for o in detail.observations if o.benchmark == "swe_bench_verified"}
    assert ("paper", 74.9) in swe and any(by == "lab" for by, _ in swe)


def test_conflicting_values_are_kept_side_by_side(engine: Engine) -> None:
    with transaction(engine) as session:
        detail = show_model(session, "DeepSeek-R1")
    # the paper's 44.6 is the agent-mode figure; the sourced panel keeps R1's own
    assert 44.6 in detail.conflicts["swe_bench_verified"]
    assert len(detail.conflicts["swe_bench_verified"]) >= 2


def test_partial_release_dates_keep_their_precision(engine: Engine) -> None:
    with transaction(engine) as session:
        v25 = show_model(session, "DeepSeek-V2.5")
        gpt54 = show_model(session, "GPT-5.4 xhigh")
    assert (v25.release_date, v25.release_date_precision) == ("2024-09", "month")
    assert gpt54.variant_of == "GPT-5.4 std"


def test_paper_base_panel_keeps_its_63_rows(engine: Engine) -> None:
    paper = json.loads(source_path("cape-scaling", "base_models_consolidated.json").read_text())["models"]
    with transaction(engine) as session:
        panel = show_panel(session, "lying-63")
        pythia = show_model(session, "Pythia-160M")
    assert panel.observations == sum(
        1 for m in paper for k in ("HS", "TQA", "ARC", "WG", "MMLU") if m.get(k) is not None
    )
    # the paper lists Llama-3-8B and Llama-3-70B twice: 63 rows, 61 models
    assert panel.models == len(paper) - 2 == 61
    assert pythia.name == "pythia-160m" and pythia.d_model == 768  # architecture from the sourced base table
