"""One source of truth: the dashboard's headline numbers equal what the CLI prints for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.slow


def _cli(*args: str) -> Any:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def _page_data(site: Path) -> dict[str, Any]:
    text = (site / "data.js").read_text(encoding="utf-8")
    prefix = "window.PHASEWATCH = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_page_headline_numbers_equal_the_clis(fitted_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-01")
    assert run("init")[0] == 0
    report = _cli("report", "--out", str(tmp_path / "site"))
    page = _page_data(tmp_path / "site")

    nc = _cli("phase", "nc")  # N_c: the page shows `phase nc`'s numbers, not a second bootstrap
    assert page["phase"]["nc_quadratic"] == nc["quadratic"] and page["phase"]["nc_gamma"] == nc["gamma"]
    q = nc["quadratic"]
    assert any(
        f"{q['median_billions']:.2f}B [{q['ci95_billions'][0]:.2f}, {q['ci95_billions'][1]:.2f}]" in f
        for f in report["findings"]
    )

    fit = _cli("fits", "show")
    assert page["frontier"]["fit"]["id"] == fit["id"] and page["frontier"]["fit"]["ols"] == fit["ols"]

    labs = {lab["lab"]: lab for lab in _cli("labs", "compare")["labs"]}
    assert {lab["lab"] for lab in page["labs"]} == set(labs)
    for lab in page["labs"]:
        for k in ("mean", "low", "high"):
            assert lab["slope"][k] == labs[lab["lab"]]["slope"][k] and lab["mean_h"][k] == labs[lab["lab"]]["mean_h"][k]

    points = {p["name"]: p for p in page["frontier"]["points"]}
    every = _cli("hfield")["models"]  # in the fit and logged since, as of today
    assert {m["name"] for m in every} == set(points)
    fitted = [m for m in every if m["in_fit"]]
    assert {m["name"] for m in fitted} == {n for n, p in points.items() if p["in_fit"]}
    for m in fitted:
        p = points[m["name"]]
        assert (p["h"], p["h_low"], p["h_high"]) == (m["h"]["mean"], m["h"]["low"], m["h"]["high"])
    later = [m for m in _cli("hfield", "--panel", "post-cutoff-2026-04")["models"] if not m["in_fit"]]
    assert later and page["frontier"]["since"] >= len(later)
    for m in later:  # releases outside the fit: the same HDI from the same stored posterior
        p = points[m["name"]]
        assert not p["in_fit"] and (p["x"], p["y"]) == (m["x"], m["y"])
        assert (p["h"], p["h_low"], p["h_high"]) == pytest.approx(
            (m["h"]["mean"], m["h"]["low"], m["h"]["high"]), abs=1e-12
        )

    states = {row["key"]: row["state"] for row in _cli("predictions", "list")}
    assert states and {p["key"]: p["state"] for p in page["predictions"]["items"]} == states
