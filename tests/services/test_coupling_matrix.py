"""services/coupling_matrix.py and registry/comparison.py:matrix_panel: the joint matrix's data
are the live frontier panel; a stored matrix is read back whole and says what arrived since.

The sampling itself is tested in tests/models/test_joint_matrix.py and on the command line in
tests/cli/test_matrix_cli.py; here the stored summary is built from synthetic draws, so the
storing, reading and staleness are tested without compiling a model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from phasewatch.models.coupling import Diagnostics, SamplerSettings
from phasewatch.models.joint_matrix import JointMatrix, MatrixPriors, summarize_draws
from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.comparison import matrix_panel
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.frontier import select_frontier
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import CouplingMatrixFit
from phasewatch.services.coupling_matrix import _store, fit_matrix, latest_stored, stored_matrix

TODAY = dt.date(2026, 12, 1)
CLOCK = FrozenClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))


def _matrix(data) -> JointMatrix:
    """A JointMatrix of synthetic draws on ``data`` (identity correlation, jittered)."""
    rng = np.random.default_rng(0)
    k = len(data.benchmarks)
    corr = np.empty((200, k, k))
    for d in range(200):
        a = np.eye(k) + np.tril(rng.normal(0, 0.05, (k, k)), -1)
        c = a @ a.T
        s = np.sqrt(np.diag(c))
        corr[d] = c / np.outer(s, s)
    diag = Diagnostics(1.001, 1500.0, 1400.0, 0, 200, 4)
    mu, scale = rng.normal(0, 1, (200, k)), np.abs(rng.normal(1, 0.1, (200, k)))
    return summarize_draws(data, corr, mu, scale, diag, MatrixPriors(), SamplerSettings(draws=200))


def test_matrix_panel_is_the_live_frontier_panel(engine: Engine) -> None:
    with transaction(engine) as session:
        panel = matrix_panel(session, TODAY, min_models=10)
        chosen = {(c.model, c.benchmark): c for c in select_frontier(session, as_of=TODAY).chosen}
    assert {"swe_bench_verified", "gpqa_diamond", "hle"} <= set(panel.benchmarks)
    counts = [sum(k in v for v in panel.scores.values()) for k in panel.benchmarks]
    assert min(counts) >= 10 and counts == sorted(counts, reverse=True)
    for (model, key), obs in panel.observations.items():  # every value is the live panel's choice
        assert chosen[(model, key)].observation_id == obs and chosen[(model, key)].value == panel.scores[model][key]
    data = panel.matrix_data()
    assert data.benchmarks == tuple(panel.benchmarks) and data.values.shape == (len(panel.scores), len(counts))
    assert data.n_per_benchmark.tolist() == counts and data.missing_share > 0.2  # most models lack some benchmarks


def test_a_stored_matrix_reads_back_and_says_what_arrived_since(engine: Engine) -> None:
    with transaction(engine) as session:
        panel = matrix_panel(session, TODAY, min_models=10)
        matrix = _matrix(panel.matrix_data())
        row = _store(session, "frontier", TODAY, panel, matrix, 1.5, CLOCK.now())
        stored = latest_stored(session, TODAY)
    assert stored is not None and stored.id == row.id and stored.matrix == matrix
    assert stored.created_at == CLOCK.now() and stored.as_of == TODAY
    assert not stored.staleness.stale and "current" in stored.staleness.sentence()
    with transaction(engine) as session:
        add_release(
            session,
            ReleaseRequest(
                "Matrix Test Model",
                "Google",
                "2026-11-20",
                scores=(ScoreInput("swe_bench_verified", 71.0), ScoreInput("gpqa_diamond", 83.0)),
                source_url="https://example.org/card",
                distinct=True,
            ),
            today=TODAY,
        )
    later = stored_matrix(engine, CLOCK)
    assert later is not None and later.staleness.stale
    assert later.staleness.new_models == ["Matrix Test Model"] and later.staleness.changed_cells == 2
    assert "run `phasewatch fit-matrix`" in later.staleness.sentence()
    before = stored_matrix(engine, FrozenClock(dt.datetime(2026, 11, 19, tzinfo=dt.UTC)))
    assert before is not None and "Matrix Test Model" not in before.staleness.new_models  # as of a day before it


def test_no_stored_matrix_and_bad_inputs(engine: Engine) -> None:
    assert stored_matrix(engine, CLOCK) is None
    with transaction(engine) as session, pytest.raises(NotFoundError, match="no joint matrix #7"):
        latest_stored(session, TODAY, 7)
    with pytest.raises(InvalidInputError, match="not 'growing-pains-34'"):
        fit_matrix(engine, CLOCK, panel="growing-pains-34")
    with pytest.raises(InvalidInputError, match="lower --min-models"):
        fit_matrix(engine, CLOCK, min_models=100_000)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(CouplingMatrixFit)) == 0
