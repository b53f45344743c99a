"""Scenario: 30 releases from public 2026 lab announcements, logged one by one through the CLI.

The registry starts as `init` makes it, less everything released in 2026: the vocabulary,
the bundled sourced table's and the paper's panels' rows of models released before 2026,
and the seven registered predictions. A fit of the live
panel is made; then each release of ``data/releases_2026.csv`` (sourced, one URL per
score: see ``data/PROVENANCE.md``) is logged with ``releases add``, each score with its
own source, reporter and setting. On the way, an unknown benchmark, a score typed as a
fraction and two likely duplicates are refused with nothing written. Then the live panel
is refitted, and the releases show in ``fits list`` (staleness), ``panels show``,
``hfield``, ``labs show``, the grades and the report.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from phasewatch.cli.app import for_arguments
from phasewatch.registry import seed
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.db import make_engine, transaction, upgrade
from phasewatch.registry.predictions import seed_predictions
from tests.helpers import table_counts

runner = CliRunner()
FIXTURE = Path(__file__).parent / "data" / "releases_2026.csv"
PAIR = ("swe_bench_verified", "gpqa_diamond")
SHORT_FIT = ("--draws", "300", "--tune", "300", "--chains", "2", "--accept-unconverged", "--no-retry", "--json")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(for_arguments(args), list(args))
    return result.exit_code, result.stdout, result.stderr


@dataclass
class Release:
    model: str
    lab: str
    date: str
    date_source: str
    open_weight: bool
    hf_repo: str
    params_total_b: str
    params_active_b: str
    scores: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # key -> (value, reporter, setting, url)

    @property
    def paired(self) -> bool:
        return all(k in self.scores for k in PAIR)

    def args(self, **override: str) -> list[str]:
        out = ["releases", "add", self.model, "--lab", self.lab, "--date", self.date, "--date-source", self.date_source]
        if self.open_weight:
            out.append("--open-weight")
        if self.hf_repo:
            out += ["--hf-repo", self.hf_repo]
        for option, value in (("--params-total-b", self.params_total_b), ("--params-active-b", self.params_active_b)):
            if value:
                out += [option, value]
        for key, (value, reporter, setting, url) in self.scores.items():
            out += ["--score", f"{key}={override.get(key, value)}", "--score-source", f"{key}={url}"]
            out += ["--score-reported-by", f"{key}={reporter}"]
            if setting:
                out += ["--score-setting", f"{key}={setting}"]
        return [*out, "--json"]


def _releases() -> list[Release]:
    releases: dict[str, Release] = {}
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            release = releases.setdefault(
                row["model"],
                Release(
                    row["model"],
                    row["lab"],
                    row["release_date"],
                    row["date_source"],
                    row["open_weight"] == "yes",
                    row["hf_repo"],
                    row["params_total_b"],
                    row["params_active_b"],
                ),
            )
            release.scores[row["benchmark"]] = (row["value"], row["reported_by"], row["setting"], row["source_url"])
    return list(releases.values())


@pytest.fixture
def end_of_2025(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The registry `init` makes, less every frontier model released in 2026: the vocabulary,
    the sourced table's and the paper's panels' pre-2026 rows (the paper's panels keep their
    names, which the grading defaults use), the base-model panels, the seven predictions."""
    read_csv, read_json = seed._read_csv, seed._read_json

    def csv_before_2026(*parts: str) -> list[dict[str, str]]:
        rows = read_csv(*parts)
        return [r for r in rows if r["release_date"] < "2026"] if parts[-1] == "frontier_models.csv" else rows

    def json_before_2026(*parts: str) -> Any:
        data = read_json(*parts)
        if parts[-1] in ("frontier_34models.json", "post_cutoff_april2026.json"):
            dated = {
                m["name"]: m["date"]
                for m in read_json("sources", "cape-scaling", "frontier_final_consolidated.json")["models"]
            }
            data = {**data, "models": [m for m in data["models"] if (m.get("date") or dated[m["name"]]) < "2026"]}
        return data

    url = f"sqlite:///{tmp_path / 'scenario.db'}"
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setattr(seed, "_read_csv", csv_before_2026)
    monkeypatch.setattr(seed, "_read_json", json_before_2026)
    with transaction(engine) as session:
        catalog = Catalog(session, bulk=True)
        seed.load_vocabulary(catalog)
        seed.load_sourced_frontier(catalog)
        seed.load_paper_frontier(catalog)
        seed.load_base_families(catalog)
        seed.load_paper_base(catalog)
        seed_predictions(session)
    monkeypatch.undo()
    engine.dispose()
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", url)
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-11-30")
    monkeypatch.setenv("COLUMNS", "200")
    return url


def _refused(engine, args: list[str], *phrases: str, code: int = 2) -> str:
    before = table_counts(engine)
    exit_code, _, err = run(*args)
    assert exit_code == code and all(p in err for p in phrases), err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert table_counts(engine) == before  # nothing written
    return err


def _top_swe(grades: dict) -> list[str]:
    gp1 = next(p for p in grades["predictions"] if p["key"] == "gp-1")
    cell = next(c for c in gp1["evidence"]["pass"]["all"] if c["benchmark"] == "swe_bench_verified")
    assert cell["value"] == pytest.approx(cell["models"][0][1] - cell["models"][-1][1])  # top-5 spread
    return [name for name, _ in cell["models"]]


@pytest.mark.slow
def test_thirty_2026_releases_flow_into_the_fit_the_views_the_grades_and_the_report(
    end_of_2025: str, tmp_path: Path
) -> None:
    engine = make_engine(end_of_2025)
    releases = _releases()
    assert len(releases) == 30 and all(r.date.startswith("2026") for r in releases)
    assert all(url.startswith("http") for r in releases for *_, url in r.scores.values())
    paired = [r.model for r in releases if r.paired]

    code, out, err = run("fit", "--panel", "frontier", *SHORT_FIT)
    assert code == 0, err
    first = json.loads(out)
    grades_before = json.loads(run("predictions", "grade", "--json")[1])
    assert "Claude Opus 4.8" not in _top_swe(grades_before)

    logged: list[str] = []
    for release in releases:
        if "terminal_bench_2_1" in release.scores and not any(
            "terminal_bench_2_1" in r.scores for r in releases if r.model in logged
        ):  # Terminal-Bench 2.1 is not 2.0: refused, then registered with its standard setting
            _refused(engine, release.args(), "unknown benchmark 'terminal_bench_2_1'", code=5)  # 5: not found
            code, _, err = run(
                "benchmarks",
                "add",
                "terminal_bench_2_1",
                "--name",
                "Terminal-Bench 2.1",
                "--category",
                "agentic_coding",
                "--version",
                "2.1",
                "--standard-setting",
                "Terminal-Bench 2.1 task set, one attempt per task, the harness named by the reporter",
                "--nonstandard",
                "parallel",
                "--url",
                "https://www.tbench.ai/",
            )
            assert code == 0, err
        if release.model == "Gemma 4 31B":  # a score typed as a fraction
            _refused(engine, release.args(gpqa_diamond="0.843"), "fraction")
        code, out, err = run(*release.args())
        assert code == 0, f"{release.model}: {err}"
        result = json.loads(out)
        logged.append(release.model)
        assert result["model"] == release.model and result["release_date"] == release.date
        assert set(result["scores"]) == set(release.scores)
        assert (result["verdict"] is not None) == release.paired  # a verdict needs both of the fit's scores
        since = [m for m in paired if m in logged]
        assert result["latest_fit"]["fit_id"] == first["id"] and result["latest_fit"]["releases_since"] == len(since)
        assert sorted(result["latest_fit"]["unseen"]) == sorted(since)

    # likely duplicates are refused with the way out, nothing written
    v4 = next(r for r in releases if r.model == "DeepSeek-V4-Pro")
    _refused(engine, [*v4.args()[:2], "DeepSeek-V4-Pro (preview)", *v4.args()[3:]], "likely a duplicate", "--distinct")
    opus = next(r for r in releases if r.model == "Claude Opus 4.8")
    _refused(engine, [*opus.args()[:2], "Claude Opus 4.8 (2026-05-28)", *opus.args()[3:]], "likely a duplicate")
    _refused(engine, [*opus.args()[:2], "claude opus 4.8", *opus.args()[3:]], "already exists")

    # `fits list`: the first fit has missed exactly the paired releases, and says what to run
    listing = json.loads(run("fits", "list", "--json")[1])
    assert [f["id"] for f in listing] == [first["id"]]
    stale = listing[0]["staleness"]
    assert stale["releases_since"] == len(paired) and sorted(stale["unseen"]) == sorted(paired)
    assert stale["command"] == "phasewatch fit --panel frontier" and not stale["frozen_panel"]

    # the refit takes them in, and is current
    code, out, err = run("fit", "--panel", "frontier", *SHORT_FIT)
    assert code == 0, err
    second = json.loads(out)
    assert second["n_models"] == first["n_models"] + len(paired)
    assert set(paired) <= {m["name"] for m in second["summary"]["models"]}
    listing = {f["id"]: f["staleness"] for f in json.loads(run("fits", "list", "--json")[1])}
    assert listing[second["id"]] == {"frozen_panel": False, "releases_since": 0, "unseen": [], "command": None}
    assert listing[first["id"]]["releases_since"] == len(paired)

    # the live panel explains every logged figure: chosen with its reason, or left out with its rule
    live = json.loads(run("panels", "show", "frontier", "--json")[1])
    explained = {(c["model"], c["benchmark"]) for c in live["chosen"] if c["reason"]}
    explained |= {(e["model"], e["benchmark"]) for e in live["excluded"] if e["reason"]}
    assert {(r.model, k) for r in releases for k in r.scores} <= explained

    # h-field: every paired release, now in the fit
    rows = {r["name"]: r for r in json.loads(run("hfield", "--json")[1])["models"]}
    assert all(rows[m]["in_fit"] and rows[m]["h"]["low"] < rows[m]["h"]["high"] for m in paired)

    # lab pages: each lab's trajectory holds its paired releases, in the fit
    for lab in sorted({r.lab for r in releases if r.paired}):
        page = json.loads(run("labs", "show", lab, "--json")[1])
        mine = {p["name"]: p for p in page["trajectory"]}
        assert page["fit_id"] == second["id"]
        assert all(mine[r.model]["in_fit"] for r in releases if r.lab == lab and r.paired), lab
    # a lab whose only releases lack the pair (MAI-Thinking-1: AIME, SWE-bench Pro) says what to log
    code, _, err = run("labs", "show", "Microsoft", "--json")
    assert code == 5 and "has no release with both swe_bench_verified and gpqa_diamond" in err, err  # not found

    # the grades see them: Claude Opus 4.8 (SWE-bench Verified 88.6) now leads the SWE spread of gp-1
    grades_after = json.loads(run("predictions", "grade", "--json")[1])
    assert _top_swe(grades_after)[0] == "Claude Opus 4.8"

    # the report shows them
    code, out, err = run("report", "--out", str(tmp_path / "site"), "--json")
    assert code == 0, err
    data = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("data*.js"))
    assert all(json.dumps(m) in data for m in paired)
    engine.dispose()
