"""`labs show` on the bundled registry: tiers of different weights are labelled as
tier changes and read apart; same-weights compute tiers stay inference compute;
the next measurement is the candidate with the most expected information."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run


@pytest.fixture
def fitted_cli(fitted_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    return fitted_url


def test_labs_show_reads_tiers_apart(fitted_cli: str, monkeypatch: pytest.MonkeyPatch) -> None:
    anthropic = json.loads(run("labs", "show", "Anthropic", "--format", "json")[1])
    assert anthropic["tiers"]["Claude Haiku 4.5"] == "Haiku" and anthropic["tiers"]["Claude Sonnet 4.5"] == "Sonnet"
    pairs = {(s["before"], s["after"]): s for s in anthropic["shifts"]}
    change = pairs[("Claude Sonnet 4.5", "Claude Haiku 4.5")]
    assert change["kind"] == "tier change (different weights: Sonnet → Haiku)"
    assert change["tier_change"] == ["Sonnet", "Haiku"] and change["p_persistent"] is None
    assert change["delta_h_hdi"]["low"] <= change["delta_h"] <= change["delta_h_hdi"]["high"]
    # the Haiku is read against the previous Haiku, not against the Sonnet before it
    haiku = pairs[("Claude 3.5 Haiku", "Claude Haiku 4.5")]
    assert haiku["tier_change"] is None and haiku["p_persistent"] is not None
    tiers = anthropic["tiers"]
    for shift in anthropic["shifts"]:
        if shift["tier_change"] is None and not shift["inference_compute"]:
            assert tiers[shift["before"]] == tiers[shift["after"]]
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run("labs", "show", "Anthropic")
    assert code == 0 and "tier change (different weights: Sonnet → Haiku)" in out

    openai = json.loads(run("labs", "show", "OpenAI", "--format", "json")[1])
    xhigh = next(s for s in openai["shifts"] if s["after"] == "GPT-5.4 xhigh")
    assert xhigh["before"] == "GPT-5.4 std" and xhigh["inference_compute"] and xhigh["tier_change"] is None
    assert xhigh["kind"] == "inference compute (same weights)"


def test_labs_show_prints_the_chosen_measurement_and_every_candidate(
    fitted_cli: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = json.loads(run("labs", "show", "Anthropic", "--format", "json")[1])
    candidates = view["measurements"]
    assert len(candidates) >= 3 and {c["question"] for c in candidates} <= {"slope", "shift"}
    bits = [c["bits"] for c in candidates]
    assert bits == sorted(bits, reverse=True) and all(b >= 0 for b in bits)
    best = candidates[0]
    assert view["next_measurement"] == f"{best['what']}: {best['figure']}"
    slope = [c for c in candidates if c["question"] == "slope"]
    width = view["slope"]["high"] - view["slope"]["low"]
    assert all(c["before"] == pytest.approx(width) and 0 < c["after"] <= width + 1e-12 for c in slope)
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run("labs", "show", "Anthropic")
    assert code == 0 and "candidate measurements by expected information" in out and best["what"] in out
