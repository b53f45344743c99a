"""Scenario: the sourced 2025-11 … 2026-04 releases logged one by one through the CLI.

The registry starts with only the vocabulary and the paper's panels (growing-pains-34
and its five April 2026 out-of-sample releases). Every release dated 2025-11-01 or
later in the bundled, sourced table (registry/data/sources/frontier_models.csv: lab
READMEs, model cards and the pages listed per cell) is logged with `releases add`,
each score with its own source, reporter and setting; those the paper's panels
already hold are refused as duplicates (nothing written) and get their sourced
figures with `scores add` instead. Then the live panel explains every value, a fit of
it records its inputs, and the next release reports the fit current or stale.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from phasewatch.cli.app import app
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.db import make_engine, transaction, upgrade
from phasewatch.registry.schema import FitObservation
from phasewatch.registry.seed import (
    TAGS,
    _split_cell_notes,
    _split_sources,
    load_paper_frontier,
    load_vocabulary,
)
from tests.helpers import source_path, table_counts

runner = CliRunner()
BENCHMARKS = ("swe_bench_verified", "gpqa_diamond", "hle", "ifeval", "aime_2025", "mmlu_pro", "arc_agi_2")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _releases() -> list[dict[str, str]]:
    with source_path("frontier_models.csv").open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["release_date"] >= "2025-11-01"]


def _score_args(row: dict[str, str]) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """(--score … options, [(key, value, source, reporter, setting)]) for one sourced row."""
    notes = _split_cell_notes(row["notes"].partition("||")[0])
    sources = _split_sources(row["source_urls"])
    args, cells = [], []
    for key in BENCHMARKS:
        if not row[key]:
            continue
        tag, setting = notes.get(key, ("lab-reported", ""))
        reporter = TAGS[tag].value
        args += [
            "--score",
            f"{key}={row[key]}",
            "--score-source",
            f"{key}={sources[key]}",
            "--score-reported-by",
            f"{key}={reporter}",
        ]
        if setting:
            args += ["--score-setting", f"{key}={setting}"]
        cells.append((key, row[key], sources[key], reporter, setting))
    return args, cells


@pytest.fixture
def scenario_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'scenario.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        catalog = Catalog(session, bulk=True)
        load_vocabulary(catalog)
        load_paper_frontier(catalog)
    engine.dispose()
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", url)
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-11-30")
    return url


@pytest.mark.slow
def test_logged_releases_flow_into_the_live_panel_and_the_fit(scenario_env: str) -> None:
    engine = make_engine(scenario_env)
    rows = _releases()
    assert len(rows) >= 20
    logged, refused = [], []
    canonical: dict[str, str] = {}  # sourced name → the registered model's name
    for row in rows:
        score_args, cells = _score_args(row)
        args = [
            "releases",
            "add",
            row["model"],
            "--lab",
            row["lab"],
            "--date",
            row["release_date"],
            "--date-source",
            _split_sources(row["source_urls"])["release_date"],
            *score_args,
        ]
        if row["open_weight"] == "yes":
            args.append("--open-weight")
            if row["hf_repo"]:
                args += ["--hf-repo", row["hf_repo"]]
        for option, column in (("--params-total-b", "params_total_b"), ("--params-active-b", "params_active_b")):
            if row[column]:
                args += [option, row[column]]
        before = table_counts(engine)
        code, out, err = run(*args)
        if code == 0:
            logged.append(row["model"])
            continue
        # the paper's panels already hold it: refused whole, then its sourced figures are added one by one
        assert code == 2 and ("already exists" in err or "likely a duplicate" in err), err
        assert table_counts(engine) == before
        refused.append(row["model"])
        if "likely a duplicate" in err:  # the way out the error names: the same model under the sourced name
            match = re.search(r"likely a duplicate of '([^']+)'", err)
            assert match is not None
            assert run("models", "alias", "add", match.group(1), row["model"])[0] == 0
            canonical[row["model"]] = match.group(1)
        for key, value, source, reporter, setting in cells:
            extra = ["--setting", setting] if setting else []
            code, out, err = run(
                "scores", "add", row["model"], f"{key}={value}", "--source", source, "--reported-by", reporter, *extra
            )
            assert code == 0, err
    assert refused, "the paper's April 2026 releases are in the starting registry"
    assert len(logged) + len(refused) == len(rows)

    # the live panel holds every logged release with both scores, one value per cell, each with its reason
    live = json.loads(run("panels", "show", "frontier", "--as-of", "2026-11-30", "--json")[1])
    chosen = {(c["model"], c["benchmark"]): c for c in live["chosen"]}
    assert len(chosen) == len(live["chosen"]) and all(c["reason"] for c in live["chosen"])
    for row in rows:
        name = canonical.get(row["model"], row["model"])
        if row["swe_bench_verified"] and row["gpqa_diamond"]:
            assert (name, "swe_bench_verified") in chosen or any(
                e["model"] == name and e["benchmark"] == "swe_bench_verified" for e in live["excluded"]
            )
    # a lab-reported figure beats the paper's where both exist (default precedence)
    refused_names = {canonical.get(m, m) for m in refused}
    both = [c for c in live["chosen"] if c["model"] in refused_names and c["benchmark"] == "gpqa_diamond"]
    assert both and all(c["reported_by"] != "paper" or c["reason"] == "the only standard-setting figure" for c in both)
    # as of before the logging day, none of the logged figures is known
    earlier = json.loads(run("panels", "show", "frontier", "--as-of", "2026-11-29", "--json")[1])
    assert not {c["model"] for c in earlier["chosen"]} & set(logged)

    # a fit of the live panel records the observations it used
    code, out, err = run(
        "fit",
        "--panel",
        "frontier",
        "--draws",
        "300",
        "--tune",
        "300",
        "--chains",
        "2",
        "--accept-unconverged",
        "--json",
    )  # short chains: accepted so the verdict path runs
    assert code == 0, err
    fit = json.loads(out)
    pairs = sum(
        1
        for m in {c["model"] for c in live["chosen"]}
        if (m, "swe_bench_verified") in chosen and (m, "gpqa_diamond") in chosen
    )
    assert fit["n_models"] == pairs
    with transaction(engine) as session:
        used = session.scalar(
            select(func.count()).select_from(FitObservation).where(FitObservation.fit_id == fit["id"])
        )
    assert used == 2 * pairs

    # the next release is checked against it, graded, and the fit is reported stale by one release
    code, out, err = run(
        "releases",
        "add",
        "Scenario Check",
        "--lab",
        "Moonshot",
        "--date",
        "2026-11-30",
        "--distinct",
        "--score",
        "swe_bench_verified=81.0",
        "--score",
        "gpqa_diamond=90.0",
        "--source",
        "https://example.org/scenario-check",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["verdict"]["fit_id"] == fit["id"] and result["verdict"]["lab_known"] is True
    assert result["latest_fit"]["releases_since"] == 1 and result["latest_fit"]["unseen"] == ["Scenario Check"]
    assert isinstance(result["predictions_moved"], list)
    engine.dispose()
