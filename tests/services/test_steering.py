"""The steering use cases without the CLI: the config's three layers, the job queries on an engine."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from phasewatch.registry import jobs
from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.jobs import DEFAULT_CONFIG, JobStatus, enqueue
from phasewatch.services.steering import list_jobs, retry_job, show_job, steering_config


def test_config_is_defaults_then_file_then_options(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"test_pairs": 40, "seed": 3, "strengths": [2.0]}))
    config = steering_config(file, {"seed": 7, "layer": None, "batch_size": 4}, strengths="0.25, 1")
    assert (config.test_pairs, config.seed, config.batch_size) == (40, 7, 4)  # file, then the options over it
    assert config.strengths == (0.25, 1.0) and config.layer is None  # None options leave the value alone
    assert config.train_pairs == DEFAULT_CONFIG["train_pairs"]  # untouched keys keep their default


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strengths": "1,x"}, "is not a list of numbers"),
        ({"overrides": {"method": "magic"}}, "unknown method 'magic'"),
        ({"overrides": {"test_pairs": 2}}, "at least 4"),
    ],
)
def test_a_bad_config_is_one_invalid_input_error(kwargs: dict[str, object], message: str) -> None:
    pytest.importorskip("torch")
    with pytest.raises(InvalidInputError, match=message):
        steering_config(None, **kwargs)  # type: ignore[arg-type]


def test_a_config_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    file = tmp_path / "config.json"
    file.write_text("[1, 2]")
    with pytest.raises(InvalidInputError, match="is not a JSON object"):
        steering_config(file)


def test_job_queries_own_their_transactions(engine: Engine) -> None:
    clock = FrozenClock(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))
    with transaction(engine) as session:
        first, _ = enqueue(session, "org/a")
        enqueue(session, "org/b")
    assert [(j.hf_repo, j.status) for j in list_jobs(engine)] == [("org/a", "queued"), ("org/b", "queued")]
    assert list_jobs(engine, JobStatus.DONE) == [] and len(list_jobs(engine, "Queued")) == 2
    with pytest.raises(InvalidInputError, match="unknown job status 'bogus'"):
        list_jobs(engine, "bogus")
    with pytest.raises(ConflictError, match="is queued"):
        retry_job(engine, first.id, clock=clock)
    with pytest.raises(NotFoundError, match="no steering job #999"):
        retry_job(engine, 999, clock=clock)


def test_show_job_summarises_the_stored_result(engine: Engine) -> None:
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    report = {
        "layer": 7,
        "layers": 30,
        "method": "logistic",
        "test_accuracy": {"value": 0.75, "low": 0.65, "high": 0.83, "k": 72, "n": 96},
        "sweep": [
            {
                "strength": 0.5,
                "corrected": {"value": 0.25, "low": 0.09, "high": 0.53, "k": 3, "n": 12},
                "broken": {"value": 0.0, "low": 0.0, "high": 0.04, "k": 0, "n": 84},
                "net_interval": {"value": 0.03125, "low": 0.0, "high": 0.07, "n": 96},
                "control_net": {"low": -0.02, "median": 0.0, "high": 0.01, "values": [0.0]},
                "p_net": 0.05,
                "beats_control": True,
            }
        ],
        "verdict": "steering beat the random control",
    }
    with transaction(engine) as session:
        job, _ = enqueue(session, "org/a")
    with transaction(engine) as session:
        claimed = jobs.claim_next(session, "w", now=now, lease_seconds=60)
        assert claimed is not None and claimed.id == job.id
        assert jobs.record_result(session, job.id, "w", report, now=now)
    detail = show_job(engine, job.id)
    assert (detail.job.status, detail.job.attempts) == ("done", 1)
    assert detail.result is not None
    assert (detail.result["layer"], detail.result["method"]) == (7, "logistic")
    assert detail.result["probe_accuracy"] == {"value": 0.75, "low": 0.65, "high": 0.83, "k": 72, "n": 96}
    (row,) = detail.result["sweep"]  # type: ignore[misc]
    assert row["net"] == {"value": 0.03125, "low": 0.0, "high": 0.07, "n": 96} and row["beats_control"] is True
    assert row["control_net"] == {"low": -0.02, "median": 0.0, "high": 0.01}
    with transaction(engine) as session:
        queued, _ = enqueue(session, "org/b")
    assert show_job(engine, queued.id).result is None
    with pytest.raises(NotFoundError, match="no steering job #999"):
        show_job(engine, 999)
