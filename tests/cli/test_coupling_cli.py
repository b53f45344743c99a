"""Coupling commands from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.slow


@pytest.fixture
def fitted_cli(fitted_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    return fitted_url


def test_release_add_prints_h_field_and_verdict(fitted_cli: str) -> None:
    code, out, err = run(
        "releases",
        "add",
        "Claude Opus 4.7 (relog)",
        "--lab",
        "Anthropic",
        "--date",
        "2026-04-16",
        "--score",
        "swe_bench_verified=87.6",
        "--score",
        "gpqa_diamond=94.2",
        "--distinct",
    )
    assert code == 0, err
    assert "h-field +" in out and "INSIDE the 95 % predictive interval" in out
    code, out, _ = run("releases", "check", "Claude Opus 4.7", "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["inside"] is True and verdict["lab"] == "Anthropic"


def test_release_add_with_verdict_does_not_import_pymc(fitted_cli: str) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['phasewatch', 'releases', 'add', 'Quick 1', '--lab', 'Google', '--date', '2026-06-01',"
        " '--score', 'swe_bench_verified=80', '--score', 'gpqa_diamond=92']\n"
        "try:\n    runpy.run_module('phasewatch.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('pymc', 'pytensor', 'arviz', 'nutpie', 'torch') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "predictive interval" in done.stdout and "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_fit_cli_reports_an_unconverged_fit_loudly(fitted_cli: str) -> None:
    code, out, err = run("fit", "--draws", "100", "--tune", "100", "--chains", "2", "--seed", "4", "--no-retry")
    assert code == 4
    assert "DID NOT CONVERGE" in out and "NOT used for verdicts" in out
    assert err.startswith("error: fit #2 did not pass the convergence gate") and err.count("\n") == 1
    assert "phasewatch fits show 2" in err
    fits = json.loads(run("fits", "list", "--json")[1])
    assert [f["accepted"] for f in fits] == [False, True]


def test_fit_retries_once_with_stronger_settings_and_says_so(fitted_cli: str) -> None:
    code, out, err = run("fit", "--draws", "100", "--tune", "100", "--chains", "2", "--seed", "4")
    said = " ".join(out.split())  # the console wraps long lines at its width
    assert "missed the convergence gate; retrying once with stronger settings: --draws 200 --tune 200" in said
    fits = json.loads(run("fits", "list", "--json")[1])
    assert len(fits) == 3 and fits[-1]["accepted"] is True  # the seeded fit, then the two new ones, newest first
    retried = json.loads(run("fits", "show", str(fits[0]["id"]), "--json")[1])
    assert retried["diagnostics"]["draws"] == 200
    assert code == (0 if fits[0]["accepted"] else 4), err


def test_queries_on_a_stored_fit(fitted_cli: str) -> None:
    shown = json.loads(run("fits", "show", "--json")[1])
    assert shown["converged"] and shown["n_models"] == 34
    rows = json.loads(run("hfield", "--lab", "DeepSeek", "--json")[1])["models"]
    assert {r["lab"] for r in rows} == {"DeepSeek"}
    prediction = json.loads(run("predict", "--lab", "Google", "--x-score", "80", "--json")[1])
    assert prediction["lab_known"] and prediction["predicted"]["low"] < prediction["predicted"]["high"] <= 100
    google = json.loads(run("labs", "show", "Google DeepMind", "--json")[1])
    assert google["lab"] == "Google" and google["n_in_fit"] == 5 and google["next_measurement"]
    assert google["n_releases"] >= 5 and all(
        0 <= s["p_persistent"]["mean"] <= 1 for s in google["shifts"] if s["tier_change"] is None
    )
    ranking = json.loads(run("labs", "compare", "--json")[1])["labs"]
    ranked = [r for r in ranking if r["ranked"]]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1)) and len(ranked) < len(ranking)
    code, out, _ = run("labs", "show", "OpenAI")
    assert code == 0 and "shifts: P(no shift" in out  # the table wraps at 80 columns; the JSON below checks the cells
    openai = json.loads(run("labs", "show", "OpenAI", "--json")[1])
    tier = next(x for x in openai["shifts"] if x["after"] == "GPT-5.4 xhigh")
    assert tier["inference_compute"] and tier["kind"].startswith("inference compute")
    others = [x for x in openai["shifts"] if not x["inference_compute"] and x["tier_change"] is None]
    assert all(
        abs(x["p_none"]["mean"] + x["p_persistent"]["mean"] + x["p_transient"]["mean"] - 1) < 1e-9 for x in others
    )
    matrix = json.loads(run("fits", "matrix", "--method", "pairwise", "--json")[1])
    assert {"swe_bench_verified", "gpqa_diamond"} <= set(matrix["benchmarks"])
    cell = next(c for c in matrix["cells"] if (c["x"], c["y"]) == ("swe_bench_verified", "gpqa_diamond"))
    assert cell["n"] >= 34 and cell["r"]["low"] < cell["r"]["mean"] < cell["r"]["high"]


def test_coverage_cli(fitted_cli: str) -> None:
    code, out, err = run("coverage", "holdout", "--held-out", "post-cutoff-2026-04")
    assert code == 0, err
    assert "5/5 inside the 95 % interval" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "--lab", "Google", "--x-score", "80"], "run `phasewatch fit`"),
        (["labs", "show", "Google"], "run `phasewatch fit`"),
        (["fits", "show", "7"], "no fit #7"),
        (["coverage", "bootstrap"], "'bootstrap' is not one of 'loo', 'lfo', 'holdout'"),
        (["fit", "--panel", "lying-63"], "only 0 models"),
        (["fit", "--link", "probit"], "'probit' is not one of 'logit', 'identity'"),
    ],
)
def test_coupling_commands_without_a_fit_or_with_bad_input(cli_env: str, args: list[str], message: str) -> None:
    code, _, err = run(*args)
    not_found = message in ("run `phasewatch fit`", "no fit #7")  # exit 5; bad input exits 2
    assert code == (5 if not_found else 2) and message in err and len(err.strip().splitlines()) == 1
