"""The steering queue under load on PostgreSQL: Procrastinate against the table queue (run by hand).

W worker processes drain N jobs whose runner returns at once (so the time is the
queue's: claims, heartbeats, the per-job process, result writes). Every execution
appends one line to a log, so double claims are counted, not inferred. Then the
failure cases: kill -9 of workers on their jobs' final attempt, SIGTERM, and a
worker started with a device the machine lacks. Starts a throwaway PostgreSQL
server (``pg_config`` on PATH) unless ``--server postgresql+psycopg://user@host:port``.

    .venv/bin/python bench/bench_queue.py [--workers 8] [--jobs 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import own_processes_only  # this script's folder is on sys.path
from sqlalchemy import create_engine, text, update

HERE = Path(__file__).resolve()


def start_server() -> tuple[str, callable]:
    bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
    base = tempfile.mkdtemp(prefix="phasewatch-bench-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = f"{base}/data"
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=200"
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", f"{base}/log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True, check=False
        )
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}", stop


def new_database(server: str, name: str) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    from phasewatch.registry.db import make_engine, upgrade

    engine = make_engine(f"{server}/{name}")
    upgrade(engine)
    engine.dispose()
    return f"{server}/{name}"


def enqueue(url: str, n: int, attempts: int = 0) -> list[int]:
    from phasewatch.registry.db import make_engine, transaction
    from phasewatch.registry.jobs import enqueue as add
    from phasewatch.registry.schema import SteeringJob

    engine = make_engine(url)
    with transaction(engine) as session:
        ids = [add(session, f"bench/model-{i}", f"rev{time.monotonic_ns()}", {"i": i})[0].id for i in range(n)]
        session.execute(update(SteeringJob).where(SteeringJob.id.in_(ids)).values(attempts=attempts))
    engine.dispose()
    return ids


def statuses(url: str, ids: list[int]) -> collections.Counter:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status FROM steering_jobs WHERE id = ANY(:ids)"), {"ids": ids}).scalars()
        counts = collections.Counter(rows)
        if conn.execute(text("SELECT to_regclass('procrastinate.procrastinate_jobs')")).scalar():
            counts["engine doing"] = conn.execute(
                text(
                    "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE status = 'doing' "
                    "AND (args->>'job_id')::int = ANY(:ids)"
                ),
                {"ids": ids},
            ).scalar()
    engine.dispose()
    return counts


def worker(url: str, owner: str, engine_name: str, mode: str, log: str, stalled: float) -> None:
    """One worker process (``--worker``): drains the queue, or hangs on its job until killed."""
    from phasewatch.registry.clock import WallClock
    from phasewatch.registry.db import make_engine
    from phasewatch.services.worker import run_steering_worker

    engine = make_engine(url)

    def runner(job):
        with open(log, "a") as handle:
            handle.write(f"{job.id} {owner}\n")
        if mode == "hang":
            time.sleep(3600)
        return {"job": job.id, "worker": owner}

    run_steering_worker(
        engine,
        runner,
        owner=owner,
        clock=WallClock(),
        drain=mode != "hang",
        poll_seconds=0.2,
        lease_seconds=stalled,
        heartbeat_seconds=stalled / 4,
        stalled_seconds=stalled,
        table_queue=engine_name != "procrastinate",
    )


def spawn(url: str, owner: str, engine_name: str, mode: str, log: Path, stalled: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HERE), "--worker", url, owner, engine_name, mode, str(log), str(stalled)]
    )


def wait_running(url: str, ids: list[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and statuses(url, ids)["running"] < len(ids):
        time.sleep(0.2)


def race(url: str, engine_name: str, workers: int, jobs: int, folder: Path) -> tuple[float, int, int]:
    ids = enqueue(url, jobs)
    log = folder / f"race-{engine_name}-{time.monotonic_ns()}.log"
    log.touch()
    start = time.perf_counter()
    procs = [spawn(url, f"w{i}", engine_name, "fast", log, 30) for i in range(workers)]
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - start
    runs = collections.Counter(int(line.split()[0]) for line in log.read_text().splitlines())
    double = sum(c - 1 for job, c in runs.items() if job in ids and c > 1)
    not_done = len(ids) - statuses(url, ids)["done"]
    return elapsed, double, not_done


def failures(url: str, engine_name: str, folder: Path, stalled: float = 2.0) -> dict[str, str]:
    log = folder / f"fail-{engine_name}.log"
    out = {}
    final = enqueue(url, 4, attempts=2)  # each is on its final attempt
    hangers = [spawn(url, f"hang{i}", engine_name, "hang", log, stalled) for i in range(4)]
    wait_running(url, final)
    for proc in hangers:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(stalled + 0.5)
    spawn(url, "rescuer", engine_name, "fast", log, stalled).wait()
    c = statuses(url, final)
    out["kill -9 on the final attempt (4 jobs)"] = f"{c['failed']} failed, {c['running'] + c['engine doing']} stuck"
    released = enqueue(url, 4)
    hangers = [spawn(url, f"term{i}", engine_name, "hang", log, stalled) for i in range(4)]
    wait_running(url, released)
    for proc in hangers:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(timeout=60) for proc in hangers]
    c = statuses(url, released)
    out["SIGTERM (4 jobs)"] = (
        f"exit codes {sorted(set(codes))}; {c['queued']} queued again, {c['running'] + c['engine doing']} stuck"
    )
    spawn(url, "after-term", engine_name, "fast", log, stalled).wait()
    out["  then drained"] = f"{statuses(url, released)['done']} done"
    waiting = enqueue(url, 6)
    env = {**os.environ, "PHASEWATCH_DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("phasewatch")), "worker", "--device", "cuda"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    c = statuses(url, waiting)
    out["worker --device cuda on a CPU host (6 jobs)"] = (
        f"exit {done.returncode} in {time.perf_counter() - started:.1f} s, {c['queued']} untouched; "
        f"{done.stderr.strip()[:70]}…"
    )
    return out


def main() -> None:
    own_processes_only()  # own-process figures: no command server (bench/served.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server")
    args = parser.parse_args()
    server, stop = (args.server, lambda: None) if args.server else start_server()
    folder = Path(tempfile.mkdtemp(prefix="phasewatch-bench-queue-"))
    try:
        results = {}
        for engine_name in ("procrastinate", "table"):
            url = new_database(server, f"bench_{engine_name}")
            rows = [race(url, engine_name, args.workers, args.jobs, folder) for _ in range(args.rounds)]
            results[engine_name] = rows
            times = [r[0] for r in rows]
            print(
                f"{engine_name:>13}: {args.workers} workers x {args.jobs} jobs, {args.rounds} rounds: median "
                f"{statistics.median(times):.1f} s (min {min(times):.1f}, max {max(times):.1f}); "
                f"{args.jobs * args.rounds / sum(times):.1f} jobs/s; double claims {sum(r[1] for r in rows)}; "
                f"jobs not done {sum(r[2] for r in rows)}",
                flush=True,
            )
            for case, result in failures(url, engine_name, folder).items():
                print(f"{'':>15}{case}: {result}", flush=True)
    finally:
        stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], float(sys.argv[7]))
    else:
        main()
