"""Concurrent writers on one SQLite registry: how long does each `releases add` take? (run by hand)

N processes start together; each logs R releases one after the other (both scores, so
each gets a verdict, and the predictions are graded before and after), timing every
call of the release service (``--via service``) or every whole ``phasewatch releases
add`` process (``--via cli``). Then all N log the same release at once: exactly one may
succeed. ``--flow old`` runs the orchestration as it was before the service (everything
in one write transaction) for a side-by-side figure on the same machine.

    .venv/bin/python bench/bench_writers.py [--writers 8] [--releases 20] [--via service|cli]
        [--flow new|old] [--template registry.db] [--from-source | --server]

phasewatch's own modules are compiled first and read from cached bytecode, as an installed
package runs; ``--from-source`` (with ``--via cli``) times each process compiling them
from source instead, as a shell with ``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__``
runs them (``bench/bytecode.py``). ``--server`` hands every command to a command server
(``cli/command_server.py``, started in a private data folder, ``bench/served.py``); the
CPU per process is then the client's alone. Without it no server is used or started.

Without ``--template`` it builds a registry with `phasewatch init` and one fit of
growing-pains-34 (about a minute), so every release gets a verdict.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from bytecode import cached, compile_project, from_source  # this script's folder is on sys.path
from served import command_server_for, commands_served, own_process

EXE = str(Path(sys.executable).with_name("phasewatch"))
TODAY = "2026-12-01"
LABS = ("Google", "OpenAI", "Anthropic", "DeepSeek", "Meta", "Alibaba", "Moonshot", "xAI")


def _request(writer: int, i: int):  # -> ReleaseRequest
    from phasewatch.registry.releases import ReleaseRequest, ScoreInput

    return ReleaseRequest(
        name=f"Bench Writer {writer} Release {i}",
        lab=LABS[writer % len(LABS)],
        date=f"2026-{1 + i % 11:02d}-{1 + writer:02d}",
        scores=(
            ScoreInput("swe_bench_verified", 40.0 + (7 * writer + 3 * i) % 50 + 0.1 * writer),
            ScoreInput("gpqa_diamond", 50.0 + (5 * writer + 11 * i) % 45 + 0.1 * i),
        ),
        source_url=f"https://bench.example/writers/{writer}/{i}",
        distinct=True,
    )


def _old_flow(engine, clock, request) -> None:  # type: ignore[no-untyped-def]
    """The orchestration `releases add` had before services/releases.py: one write transaction."""
    from phasewatch.registry.db import transaction
    from phasewatch.registry.fits import latest_accepted_fit, record_verdict
    from phasewatch.registry.frontier import staleness
    from phasewatch.registry.predictions import grade_predictions, movements
    from phasewatch.registry.releases import add_release

    today = clock.today()
    with transaction(engine) as session:
        before = grade_predictions(session, today)
        result = add_release(session, request, today=today)
        record_verdict(session, result.model)
        movements(before, grade_predictions(session, today, store=True))
        latest = latest_accepted_fit(session)
        if latest is not None:
            staleness(session, latest)


def _cli_args(request) -> list[str]:  # type: ignore[no-untyped-def]
    args = ["releases", "add", request.name, "--lab", request.lab, "--date", request.date, "--distinct"]
    for score in request.scores:
        args += ["--score", f"{score.benchmark}={score.value:g}"]
    return [*args, "--source", request.source_url]


def _time_the_lock(waits: list[float], holds: list[float]) -> None:
    """Wrap the service's write transactions: how long each waited for the lock, and held it."""
    from contextlib import contextmanager

    from phasewatch.services import releases as service

    original = service.write_transaction

    @contextmanager
    def timed(engine):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        with original(engine) as session:
            locked = time.perf_counter()
            yield session
        holds.append(time.perf_counter() - locked)  # until the commit returned
        waits.append(locked - start)

    service.write_transaction = timed  # type: ignore[assignment]


def _writer(url: str, writer: int, releases: int, via: str, flow: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from phasewatch.registry.clock import PinnedDayClock, parse_today
    from phasewatch.registry.db import make_engine

    waits: list[float] = []
    holds: list[float] = []
    _time_the_lock(waits, holds)
    from phasewatch.services.releases import log_release

    clock = PinnedDayClock(parse_today(TODAY))
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": url, "PHASEWATCH_TODAY": TODAY}
    times, failures, cpus = [], [], []  # cpus: each whole process's user + system time (--via cli)
    barrier.wait()
    for i in range(releases):
        request = _request(writer, i)
        start = time.perf_counter()
        try:
            if via == "cli":
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                done = subprocess.run([EXE, *_cli_args(request)], env=env, capture_output=True, text=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                if done.returncode != 0:
                    failures.append(done.stderr.strip()[:200])
            else:
                engine = make_engine(url)  # a fresh engine per release, as each CLI call has
                try:
                    (_old_flow if flow == "old" else log_release)(engine, clock, request)
                finally:
                    engine.dispose()
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        times.append(time.perf_counter() - start)
    results.put((writer, times, failures, waits, holds, cpus))


def _racer(url: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from phasewatch.registry.clock import PinnedDayClock, parse_today
    from phasewatch.registry.db import make_engine
    from phasewatch.registry.errors import ConflictError
    from phasewatch.registry.releases import ReleaseRequest, ScoreInput
    from phasewatch.services.releases import log_release

    engine = make_engine(url)
    request = ReleaseRequest(
        name="Bench Race",
        lab="Google",
        date="2026-11-20",
        scores=(ScoreInput("swe_bench_verified", 77.7), ScoreInput("gpqa_diamond", 88.8)),
    )
    barrier.wait()
    try:
        log_release(engine, PinnedDayClock(parse_today(TODAY)), request)
        results.put("added")
    except ConflictError:
        results.put("conflict")
    finally:
        engine.dispose()


def _build(folder: Path) -> Path:
    path = folder / "writers.db"
    env = own_process({**os.environ, "PHASEWATCH_DATABASE_URL": f"sqlite:///{path}", "PHASEWATCH_TODAY": TODAY})
    subprocess.run([EXE, "init"], env=env, check=True, capture_output=True)
    subprocess.run([EXE, "fit", "--panel", "growing-pains-34", "--json"], env=env, check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--releases", type=int, default=20, help="releases per writer")
    parser.add_argument("--via", choices=("service", "cli"), default="service")
    parser.add_argument("--flow", choices=("new", "old"), default="new")
    parser.add_argument("--template", type=Path, help="a registry to copy (default: build one)")
    parser.add_argument("--from-source", action="store_true", help="(--via cli) no cached bytecode of phasewatch")
    parser.add_argument("--server", action="store_true", help="(--via cli) each command handed to a command server")
    args = parser.parse_args()
    if (args.from_source or args.server) and args.via != "cli":
        parser.error("--from-source and --server time whole processes: use them with --via cli")
    if args.from_source and args.server:
        parser.error("a command server has its code imported already: --from-source does not apply")
    compile_project()
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-writers-"))
    path = folder / "writers.db"
    if args.template:
        shutil.copy(args.template, path)
    else:
        path = _build(folder)
    url = f"sqlite:///{path}"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(args.writers), context.Queue()
    base = cached(dict(os.environ))
    chosen = (
        from_source(own_process(base))
        if args.from_source
        else command_server_for(base)
        if args.server
        else nullcontext(own_process(base))
    )
    with chosen as env:
        os.environ.clear()
        os.environ.update(env)  # the writers (spawned) and the processes they start inherit it
        sys.dont_write_bytecode = args.from_source
        started = time.perf_counter()
        workers = [
            context.Process(target=_writer, args=(url, w, args.releases, args.via, args.flow, barrier, results))
            for w in range(args.writers)
        ]
        for worker in workers:
            worker.start()
        rows = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - started
        served = commands_served(env) if args.server else 0

    from sqlalchemy import func, select

    from phasewatch.registry.db import make_engine, transaction
    from phasewatch.registry.schema import Model, ReleaseVerdict

    engine = make_engine(url)
    with transaction(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Model).where(Model.name.like("Bench Writer %")))
        verdicts = session.scalar(
            select(func.count()).select_from(ReleaseVerdict).join(Model).where(Model.name.like("Bench Writer %"))
        )
    every = [t for _, times, *_ in rows for t in times]
    failures = [f for _, _, fs, *_ in rows for f in fs]
    waits = [w for *_, ws, _, _ in rows for w in ws]
    holds = [h for *_, hs, _ in rows for h in hs]
    cpus = [c for *_, cs in rows for c in cs]
    print(
        f"{args.writers} writers x {args.releases} releases via {args.via}, {args.flow} flow, "
        f"{'compiled from source' if args.from_source else 'cached bytecode'}, {os.cpu_count()} CPUs, wall {wall:.1f} s"
        + (f"; {served} commands run by the command server" if args.server else "")
    )
    print("\n| writer | median (s) | max (s) |\n|---|---|---|")
    for writer, times, *_ in sorted(rows):
        print(f"| {writer} | {statistics.median(times):.2f} | {max(times):.2f} |")
    print(f"| all {len(every)} | {statistics.median(every):.2f} | {max(every):.2f} |")
    print(
        f"\nstored {stored} of {args.writers * args.releases} releases, {verdicts} verdicts; "
        f"{len(failures)} failed{': ' + failures[0] if failures else ''}"
    )
    if cpus:
        print(
            f"CPU of one `phasewatch releases add` process: median {statistics.median(cpus):.2f} s, max {max(cpus):.2f} s"
        )
    if holds:
        print(
            f"write transactions ({len(holds)}): lock held median {statistics.median(holds):.3f} s, "
            f"max {max(holds):.3f} s; waited for it median {statistics.median(waits):.3f} s, max {max(waits):.3f} s"
        )
    if args.flow == "new":
        barrier, outcomes = context.Barrier(args.writers), context.Queue()
        racers = [context.Process(target=_racer, args=(url, barrier, outcomes)) for _ in range(args.writers)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        got = sorted(outcomes.get() for _ in racers)
        with transaction(engine) as session:
            models = session.scalar(select(func.count()).select_from(Model).where(Model.name == "Bench Race"))
        print(f"{args.writers} racing writers of one release: {got.count('added')} added, {models} model(s) stored")
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
