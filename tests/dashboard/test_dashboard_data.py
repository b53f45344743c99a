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
    nc = _cli("phase", "nc")  # stores its bootstrap; the page shows these numbers and reruns nothing
    report = _cli("report", "--out", str(tmp_path / "site"))
    page = _page_data(tmp_path / "site")

    assert page["phase"]["nc_quadratic"] == nc["quadratic"] and page["phase"]["nc_gamma"] == nc["gamma"]
    assert page["phase"]["nc"]["current"] and page["phase"]["nc"]["by"] == "phase nc"
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

    matrix = _cli(
        "fits", "matrix", "--method", "pairwise"
    )  # the coupling matrix: `fits matrix`'s cells, no bootstrap of its own
    cells = {(c["x"], c["y"]): c for c in matrix["cells"]}
    coupling = page["coupling"]
    assert coupling["pairs"] and coupling["n_models"] == matrix["n_models"]
    assert set(coupling["benchmarks"]) <= set(matrix["benchmarks"])
    for p in coupling["pairs"]:
        c = cells[(p["x"], p["y"])]
        assert (p["n"], p["r"], p["low"], p["high"], p["slope"]) == (
            c["n"],
            c["r"]["mean"],
            c["r"]["low"],
            c["r"]["high"],
            c["slope"],
        )
    shown = {(p["x"], p["y"]) for p in coupling["pairs"]}
    assert {(c["x"], c["y"]) for c in matrix["cells"] if c["r"] and c["x"] < c["y"]} <= shown | {
        (y, x) for x, y in shown
    }

    states = {row["key"]: row["state"] for row in _cli("predictions", "list")}
    assert states and {p["key"]: p["state"] for p in page["predictions"]["items"]} == states


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_reads_n_c_and_says_which_command_stores_it(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No bootstrap while rendering: without a stored N_c the report says what to run; after
    `phase reproduce` it shows exactly the stored result (and both N_c points of `phase classify`)."""
    import phasewatch.models.phase
    import phasewatch.registry.analysis
    import phasewatch.registry.phase

    def no_bootstrap(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the report reran a bootstrap")

    def forbid(patched: pytest.MonkeyPatch) -> None:
        for module in (phasewatch.models.phase, phasewatch.registry.phase, phasewatch.registry.analysis):
            for name in ("nc_quadratic_bootstrap", "nc_gamma_bootstrap"):
                if hasattr(module, name):
                    patched.setattr(module, name, no_bootstrap)

    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-01")
    with monkeypatch.context() as patched:
        forbid(patched)
        report = _cli("report", "--out", str(tmp_path / "before"))
    page = _page_data(tmp_path / "before")
    assert page["phase"]["nc_quadratic"] is None and page["phase"]["classifier_nc"] == []
    assert any("N_c: not computed yet; run `phasewatch phase nc`" in f for f in report["findings"])

    reproduced = _cli("phase", "reproduce", "--resamples", "200")
    with monkeypatch.context() as patched:
        forbid(patched)
        _cli("report", "--out", str(tmp_path / "after"))
    phase = _page_data(tmp_path / "after")["phase"]
    assert phase["nc_quadratic"] == reproduced["sourced"]["nc_quadratic"]
    assert phase["nc_gamma"] == reproduced["sourced"]["nc_gamma"]
    assert phase["nc"] | {"computed_at": None} == {
        "stored": True,
        "command": "phasewatch phase nc",
        "resamples": 200,
        "seed": 42,
        "by": "phase reproduce",
        "computed_at": None,
        "current": True,
    }
    classify = _cli("phase", "classify", "--params-b", "6.9", "--hellaswag", "76", "--truthfulqa", "36")
    assert [
        f"{'below' if 6.9 < n['billions'] else 'above'} N_c = {n['billions']:.2f}B ({n['label']}, "
        "quadratic fit on all points)"
        for n in phase["classifier_nc"]
    ] == classify["size_vs_nc"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_shows_the_stored_joint_matrix_exactly_as_fits_matrix(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a stored joint matrix the page has none; once one is stored (here from synthetic
    draws, through the service's own store) the page's pairs are `fits matrix --method joint`'s
    cells, with its gate and staleness, and nothing is sampled while rendering."""
    import datetime as dt

    import phasewatch.models.joint_matrix
    from phasewatch.registry.comparison import matrix_panel
    from phasewatch.registry.db import make_engine, transaction
    from phasewatch.services.coupling_matrix import _store
    from tests.services.test_coupling_matrix import _matrix

    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-01")
    _cli("report", "--out", str(tmp_path / "before"))
    assert _page_data(tmp_path / "before")["coupling"]["joint"] is None
    engine = make_engine(cli_env)
    with transaction(engine) as session:
        panel = matrix_panel(session, dt.date(2026, 12, 1), 10)
        _store(
            session,
            "frontier",
            dt.date(2026, 12, 1),
            panel,
            _matrix(panel.matrix_data()),
            1.0,
            dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
    engine.dispose()

    def no_sampling(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the report sampled the joint model")

    with monkeypatch.context() as patched:
        patched.setattr(phasewatch.models.joint_matrix.JointMatrixSampler, "fit", no_sampling)
        report = _cli("report", "--out", str(tmp_path / "after"))
    joint = _page_data(tmp_path / "after")["coupling"]["joint"]
    cli = _cli("fits", "matrix", "--method", "joint")
    assert joint["id"] == cli["id"] and joint["benchmarks"] == cli["benchmarks"] and not joint["stale"]
    assert [(p["x"], p["y"], p["n"], p["r"], p["low"], p["high"], p["p_positive"]) for p in joint["pairs"]] == [
        (c["x"], c["y"], c["n"], c["r"]["mean"], c["r"]["low"], c["r"]["high"], c["p_positive"]) for c in cli["cells"]
    ]
    assert joint["gate"].startswith("converged") and any(
        f"Joint coupling matrix #{cli['id']}" in f for f in report["findings"]
    )
