"""The phase commands from the command line."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.slow


def test_reproduce_prints_both_sides(cli_env: str) -> None:
    code, out, err = run("phase", "reproduce", "--resamples", "10000", "--seed", "42", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["paper"]["nc_quadratic"]["valid_resamples"] == 9953
    assert result["sourced"]["pythia_r"]["n"] == 8


def test_families_family_nc_classify(cli_env: str) -> None:
    families = {f["family"]: f for f in json.loads(run("phase", "families", "--json")[1])}
    assert families["BLOOM"]["sign_change"] and families["Cerebras-GPT"]["sign_change"] is False
    paper = {f["family"] for f in json.loads(run("phase", "families", "--panel", "lying-63", "--json")[1])}
    assert {"Pythia", "OLMo", "Llama-1"} <= paper
    detail = json.loads(run("phase", "family", "BLOOM", "--resamples", "200", "--json")[1])
    assert detail["couplings"] and detail["nc_gamma"]["resamples"] == 200
    nc = json.loads(run("phase", "nc", "--families", "OPT", "--resamples", "300", "--json")[1])
    assert nc["points"] == 8 and nc["quadratic"]["resamples"] == 300
    code, out, _ = run("phase", "classify", "--params-b", "1.4", "--hellaswag", "52", "--truthfulqa", "38.7", "--json")
    assert code == 0 and json.loads(out)["isocline_phase"].startswith(("bonus", "tax"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["phase", "family", "Pythiaa"], "no family 'Pythiaa'"),
        (["phase", "nc", "--families", "Nope"], "no family 'Nope'"),
        (["phase", "classify", "--params-b", "-1", "--hellaswag", "50", "--truthfulqa", "40"], "must be positive"),
        (["phase", "families", "--panel", "nowhere"], "unknown panel"),
    ],
)
def test_bad_phase_input(cli_env: str, args: list[str], message: str) -> None:
    code, _, err = run(*args)
    not_found = message.startswith(("no family", "unknown panel"))  # exit 5; bad input exits 2
    assert code == (5 if not_found else 2) and message in err and len(err.strip().splitlines()) == 1
