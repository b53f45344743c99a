"""The paper's base-scale numbers reproduced from its own data in the registry, and the sourced check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import Engine

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.phase import classify, family_detail, list_families, reproduce
from tests.helpers import source_path

pytestmark = pytest.mark.slow


def test_reproduces_the_papers_numbers_from_its_own_data(engine: Engine) -> None:
    published = json.loads(source_path("cape-scaling", "ai_free_energy_data.json").read_text())
    with transaction(engine) as session:
        result = reproduce(session, resamples=10_000, seed=42)
    paper = result.paper
    assert paper.pythia_r.r == pytest.approx(-0.989, abs=5e-4) and paper.pythia_r.n == 8
    assert paper.pythia_r.p_value == pytest.approx(2 / 40320)
    # scripts/bootstrap_Nc.py, replayed: 3.49B [2.92B, 13.40B], 9953 valid
    assert paper.nc_quadratic.median_billions == pytest.approx(3.4939, abs=1e-3)
    assert paper.nc_quadratic.ci95_billions == pytest.approx((2.9165, 13.4042), abs=1e-3)
    assert paper.nc_quadratic.valid_resamples == 9953
    assert paper.nc_gamma.point_billions == pytest.approx(4.7314, abs=1e-3)
    assert paper.cross_family.mape_percent == pytest.approx(5.65, abs=0.01)
    assert published["metadata"]["created"] == "2026-03-04"
    sourced = result.sourced
    assert sourced.pythia_r.n == 8 and sourced.pythia_r.r < -0.9  # the anticorrelation holds on deduplicated Pythia
    assert sourced.nc_quadratic.ci95_billions[1] < paper.nc_quadratic.ci95_billions[1]
    assert any(
        "lying-pythia-8 pythia-160m: HellaSwag 31.4 = pythia-160m-deduped" in line for line in result.pythia_matches
    )


def test_families_keep_deduplicated_pythia_apart(engine: Engine) -> None:
    with transaction(engine) as session:
        families = {f.family: f for f in list_families(session)}
        opt = family_detail(session, "opt", resamples=200)
    assert families["Pythia-deduped"].n == 8 and not families["Pythia-deduped"].sign_change
    assert families["OPT"].sign_change and opt.nc_quadratic is not None
    # N_c by hand: the vertex of TruthfulQA's quadratic in log10(N) over OPT's own rows
    log_n = np.log10([row["params_b"] * 1e9 for row in opt.points])
    a, b, _ = np.polyfit(log_n, [row["truthfulqa_mc2"] for row in opt.points], 2)
    assert a > 0  # a minimum: truthfulness falls, then rises with scale
    assert opt.nc_quadratic.point_billions == pytest.approx(10 ** (-b / (2 * a)) / 1e9, rel=1e-9)
    assert [c.phase for c in opt.couplings][:3] == ["tax", "tax", "tax"]
    assert all(row["hellaswag_width_normalised"] for row in opt.points)


def test_classify(engine: Engine) -> None:
    with transaction(engine) as session:
        small = classify(session, 0.4, 40.0, 41.0, 1024)
        with pytest.raises(InvalidInputError, match="outside"):
            classify(session, 1.0, 140.0, 40.0)
        with pytest.raises(NotFoundError, match="no family 'Pythiaa'"):
            family_detail(session, "Pythiaa")
    assert "OLMo" in small.isocline.calibration and 0.15 < small.isocline.ratio < 0.22
    assert all(line.startswith("below N_c") for line in small.size_vs_nc)
    assert small.width_normalised == {"hellaswag": 20.0, "truthfulqa_mc2": 20.5} and small.width_caveat
