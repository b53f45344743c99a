"""``phasewatch steer``: truth-direction steering evaluations (method: docs/steering.md)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from phasewatch.cli.common import (
    FORMAT_OPTION,
    JSON_OPTION,
    checked,
    console,
    device,
    emit,
    finite,
    new_app,
    new_folder,
    output_format,
    print_json,
    table,
)
from phasewatch.registry.enums import Dtype, JobStatus, SteeringMethod

if TYPE_CHECKING:
    from phasewatch.models.steering.run import SteeringReport
    from phasewatch.models.steering.stats import Rate

app = new_app("Compute a truth direction in an open-weight model and measure what steering with it does.")


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
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="Sequences per forward pass (city pairs when scoring margins: true and false go in together).",
    ),
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
    from phasewatch.cli.common import status
    from phasewatch.models.steering.run import report_dict
    from phasewatch.services.steering import EvaluationRequest, evaluate, steering_config

    config = steering_config(
        config_file,
        {
            "layer": layer,
            "method": method,
            "train_pairs": train_pairs,
            "validation_pairs": validation_pairs,
            "test_pairs": test_pairs,
            "random_directions": random_directions,
            "tqa_questions": tqa_questions,
            "generation_prompts": generation_prompts,
            "batch_size": batch_size,
            "seed": seed,
        },
        strengths=strengths,
    )
    with status("loading the model", quiet=json_) as spinner:
        report = evaluate(
            EvaluationRequest(
                model,
                config,
                revision=revision,
                device=device,
                dtype=dtype,
                device_map=device_map,
                allow_download=allow_download,
                save_dir=save_dir,
                progress=spinner.update if spinner else None,
            )
        )
    if json_:
        print_json(report_dict(report))
        return
    render(report)


def _p(value: float) -> str:
    return f"{value:.3f}" if value >= 0.001 else "<0.001"


def render(report: SteeringReport) -> None:
    def rate(r: Rate | None) -> str:
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


JOB_COLUMNS = ("id", "model", "repo @ revision", "status", "attempts", "worker", "retry after", "error")


@jobs_app.command("list")
def jobs_list(
    status: JobStatus | None = typer.Option(
        None, "--status", help="queued, running, done or failed.", case_sensitive=False
    ),
    format_: str | None = FORMAT_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """List steering jobs with their status, attempts, next retry and errors."""
    from phasewatch.cli.common import plural, registry_engine
    from phasewatch.services.steering import list_jobs

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        rows = list_jobs(engine, status)
    emit(
        chosen,
        f"{plural(len(rows), 'steering job')}" + (f" {status.lower()}" if status else ""),
        JOB_COLUMNS,
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
        data=[asdict(r) for r in rows],
    )


def _rate(value: object) -> str | None:
    """A stored rate or estimate {value, low, high[, k], n} as 'v [low, high] (k/n)'."""
    if not isinstance(value, dict) or value.get("value") is None:
        return None
    text = f"{value['value']:.3f} [{value['low']:.3f}, {value['high']:.3f}]"
    return text + (f" ({value['k']}/{value['n']})" if value.get("k") is not None else f" (n {value['n']})")


@jobs_app.command("show")
def jobs_show(
    job_id: int = typer.Argument(..., help="Job id."), format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION
) -> None:
    """One job and its result: layer, method, probe accuracy, each strength against the random control, verdict."""
    from phasewatch.cli.common import registry_engine
    from phasewatch.services.steering import show_job

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        detail = show_job(engine, job_id)
    job, result = detail.job, detail.result or {}
    rows: list[tuple[str, object]] = [
        ("job", job.id),
        ("model", job.model),
        ("repo @ revision", f"{job.hf_repo} @ {job.revision}"),
        ("status", job.status),
        ("attempts", f"{job.attempts}/{job.max_attempts}"),
        ("error", job.error),
    ]
    if detail.result is not None:
        rows += [
            ("layer / method", f"{result.get('layer')} of {result.get('layers')}, {result.get('method')}"),
            ("test probe accuracy", _rate(result.get("probe_accuracy"))),
            ("  shuffled-label baseline", _rate(result.get("shuffled_label_baseline"))),
            ("  random-weight baseline", _rate(result.get("random_weight_baseline"))),
            ("misaligned at baseline", _rate(result.get("misaligned_at_baseline"))),
        ]
        for row in result.get("sweep") or []:
            control = row.get("control_net") or {}
            rows += [
                (f"α {row['strength']:g}: corrected", _rate(row.get("corrected"))),
                (f"α {row['strength']:g}: broken", _rate(row.get("broken"))),
                (f"α {row['strength']:g}: net", _rate(row.get("net"))),
                (
                    f"α {row['strength']:g}: control net (median, range)",
                    f"{control.get('median', 0):+.3f} ({control.get('low', 0):+.3f} to {control.get('high', 0):+.3f})"
                    if control
                    else None,
                ),
                (f"α {row['strength']:g}: p vs control", row.get("p_net")),
            ]
        rows.append(("verdict", result.get("verdict")))
    emit(chosen, f"steering job #{job.id}", ("", ""), rows, data=asdict(detail))


@jobs_app.command("retry")
def jobs_retry(
    job_id: int = typer.Argument(..., help="Job id."), format_: str | None = FORMAT_OPTION, json_: bool = JSON_OPTION
) -> None:
    """Queue a failed, done, or dead running job again with fresh attempts."""
    from phasewatch.cli.common import registry_engine
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.steering import retry_job

    chosen = output_format(format_, json_)
    with registry_engine() as engine:
        view = retry_job(engine, job_id, clock=system_clock())
    if chosen == "table":
        print(f"job #{view.id} ({view.hf_repo}) queued again")
        return
    emit(chosen, None, tuple(asdict(view)), [tuple(asdict(view).values())], data=asdict(view))


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
    from phasewatch.cli.common import registry_engine
    from phasewatch.registry.clock import system_clock
    from phasewatch.services.job_process import Outcome
    from phasewatch.services.worker import WorkerOptions, serve

    def show(outcome: Outcome) -> None:
        if json_:
            print_json(asdict(outcome))
        else:
            print(
                f"job #{outcome.job_id}: {outcome.status} (attempt {outcome.attempts})"
                + (f": {outcome.error}" if outcome.error else ""),
                flush=True,
            )

    options = WorkerOptions(
        device=device,
        once=once,
        lease_seconds=lease_seconds,
        poll_seconds=poll_seconds,
        heartbeat_seconds=heartbeat_seconds,
        stalled_seconds=stalled_seconds,
        watch_cron=watch_cron,
    )
    with registry_engine() as engine:
        run = serve(engine, options, clock=system_clock(), on_outcome=show)
    if once and not run.outcomes and not json_:
        print("no job to run")
