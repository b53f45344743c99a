"""`phasewatch fit-matrix` and `phasewatch fits matrix` on the bundled registry: fit the joint
matrix once (short chains), then read it back in every format and method."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.cli.test_cli import run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite"])  # one compile of the model is enough; storage is tested on both
def test_fit_matrix_then_fits_matrix_in_every_format(cli_env: str) -> None:
    code, out, err = run("fits", "matrix", "--method", "joint")
    assert code == 5 and "fit-matrix" in err  # nothing stored yet
    code, out, err = run("fits", "matrix")
    assert code == 0 and "no joint matrix stored" in out
    pairwise_only = json.loads(run("fits", "matrix", "--format", "json")[1])
    assert pairwise_only["joint"] is None and pairwise_only["pairwise"]["cells"]

    code, out, err = run("fit-matrix", "--min-models", "30", "--draws", "300", "--tune", "300", "--format", "json")
    assert code == 0, err
    fitted = json.loads(out)
    keys = fitted["benchmarks"]
    assert {"swe_bench_verified", "gpqa_diamond"} <= set(keys) and fitted["converged"]
    assert fitted["as_of"] == "2026-12-01" and fitted["panel"] == "frontier" and not fitted["staleness"]["stale"]
    assert len(fitted["cells"]) == len(keys) * (len(keys) - 1) // 2 and fitted["min_draw_eigenvalue"] > 0
    for cell in fitted["cells"]:
        assert -1 < cell["r"]["low"] < cell["r"]["mean"] < cell["r"]["high"] < 1 and cell["n"] >= 0
    swe_gpqa = next(c for c in fitted["cells"] if {c["x"], c["y"]} == {"swe_bench_verified", "gpqa_diamond"})
    assert swe_gpqa["p_positive"] > 0.95 and swe_gpqa["pairwise"]["mean"] > 0  # the coupling the fits measure

    joint = json.loads(run("fits", "matrix", "--method", "joint", "--format", "json")[1])
    assert joint["id"] == fitted["id"] and joint["cells"] == fitted["cells"]
    both = json.loads(run("fits", "matrix", "--format", "json")[1])
    assert both["joint"]["id"] == fitted["id"] and both["pairwise"]["cells"]

    code, out, err = run("fits", "matrix", "--method", "joint")
    assert code == 0, err
    assert f"joint matrix #{fitted['id']}" in out and "convergence: converged" in out and "current" in out
    code, out, err = run("fits", "matrix")
    assert code == 0 and "joint beside pairwise" in out

    rows = list(csv.DictReader(io.StringIO(run("fits", "matrix", "--method", "joint", "--format", "csv")[1])))
    assert len(rows) == len(fitted["cells"])
    assert {(r["x"], r["y"]): float(r["r"]) for r in rows} == {
        (c["x"], c["y"]): c["r"]["mean"] for c in fitted["cells"]
    }
    rows = list(csv.DictReader(io.StringIO(run("fits", "matrix", "--format", "csv")[1])))
    assert any(r["joint_r"] and r["pairwise_r"] for r in rows)
    pairwise = json.loads(run("fits", "matrix", "--method", "pairwise", "--format", "json")[1])
    assert pairwise == both["pairwise"]
