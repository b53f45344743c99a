"""The command server: a command it serves behaves as the same command in its own process
(output, exit code, environment, folder, terminal, Ctrl-C, what lands in the registry), a
server with out-of-date code is refused, and without a server the command runs here."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from phasewatch.cli import command_server
from phasewatch.cli.command_server import HEAVY_FOR_A_SERVER, CommandServer

EXE = str(Path(sys.executable).with_name("phasewatch"))


@pytest.fixture
def data_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private data folder (a Unix socket path must stay under ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="pw-"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    yield folder
    command_server.ask(folder / "phasewatch" / command_server.SOCKET_NAME, {"op": "stop"})
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def served(data_home: Path, cli_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A running command server for this test's registry; returns its socket."""
    monkeypatch.delenv("PHASEWATCH_SERVER")
    socket_path = data_home / "phasewatch" / command_server.SOCKET_NAME
    socket_path.parent.mkdir(mode=0o700)
    log = open(data_home / "server.log", "ab")
    subprocess.Popen(
        [sys.executable, "-m", "phasewatch.cli.command_server", "serve", "--socket", str(socket_path)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while command_server.ask(socket_path, {"op": "status"}) is None:
        assert time.monotonic() < deadline, (data_home / "server.log").read_text()
        time.sleep(0.1)
    return socket_path


def _run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **env})


def _commands_served(socket_path: Path) -> int:
    state = command_server.ask(socket_path, {"op": "status"})
    assert state is not None
    return int(state["commands"])


class _Terminal:
    """``phasewatch db downgrade 0015`` on a pseudo-terminal, stopped at its confirmation
    prompt; Ctrl-C as the caller has it (``sigint``: its disposition in the process)."""

    def __init__(self, sigint: object, **env: str) -> None:
        self.main, tty = pty.openpty()
        self.process = subprocess.Popen(
            [EXE, "db", "downgrade", "0015"],
            stdin=tty,
            stdout=tty,
            stderr=tty,
            env={**os.environ, **env},
            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),  # whatever the suite's runner has
        )
        os.close(tty)
        self.seen, deadline = b"", time.monotonic() + 60
        while not self.seen.endswith(b"[y/N]: ") and time.monotonic() < deadline:  # waiting for an answer
            if select.select([self.main], [], [], 0.2)[0]:
                self.seen += os.read(self.main, 4096)

    def finish(self) -> tuple[int, str]:
        """Its exit code (once it exits, within 30 s) and all it showed."""
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running: {self.seen!r}") from None
        while select.select([self.main], [], [], 0.5)[0]:
            try:
                self.seen += os.read(self.main, 4096)
            except OSError:
                break
        os.close(self.main)
        return code, self.seen.decode()


@pytest.mark.parametrize(
    "args",
    [
        ("models", "list", "--limit", "3", "--json"),
        ("predictions", "list", "--format", "csv"),
        ("models", "list", "--kind", "huge"),  # a usage error: exit 2, one line
        ("releases", "add", "X", "--lab", "Nowhere Labs", "--date", "2026-01-01"),  # not found: exit 5
        ("models", "show", "--help"),
    ],
)
def test_a_served_command_prints_and_exits_as_in_its_own_process(served: Path, args: tuple[str, ...]) -> None:
    before = _commands_served(served)
    own = _run(*args, PHASEWATCH_SERVER="off")
    by_server = _run(*args)
    assert _commands_served(served) == before + 1  # the server ran it, not this process
    assert (by_server.returncode, by_server.stdout, by_server.stderr) == (own.returncode, own.stdout, own.stderr)


def test_a_served_release_lands_in_the_registry_with_its_verdict(served: Path, cli_env: str) -> None:
    args = ["releases", "add", "Served Model 1", "--lab", "Google", "--date", "2026-11-20"]
    done = _run(*args, "--score", "swe_bench_verified=70.5", "--score", "gpqa_diamond=80.5", "--json")
    assert done.returncode == 0, done.stderr
    logged = json.loads(done.stdout)
    assert logged["model"] == "Served Model 1" and logged["scores"] == {
        "swe_bench_verified": 70.5,
        "gpqa_diamond": 80.5,
    }
    engine = create_engine(cli_env)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT count(*) FROM observations o JOIN models m ON m.id = o.model_id WHERE m.name = 'Served Model 1'"
            )
        )
        assert stored.scalar() == 2
    engine.dispose()
    again = _run(*args, "--score", "swe_bench_verified=70.5")
    assert again.returncode != 0 and again.stderr.startswith("error: model 'Served Model 1' already exists")


def test_a_served_command_has_the_clients_folder_umask_and_environment(served: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        f"umask 077 && {EXE} export --format csv --out rows.csv",
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PHASEWATCH_TODAY": "2026-11-30"},
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "rows.csv"
    assert written.read_text().startswith("model,") and (written.stat().st_mode & 0o777) == 0o600
    future = ("releases", "add", "Not Yet", "--lab", "Google", "--date", "2026-11-25")
    dated = _run(*future, PHASEWATCH_TODAY="2026-11-20")  # the client's clock, not the server's
    assert dated.returncode == 2 and "is in the future (today is 2026-11-20)" in dated.stderr


def test_ctrl_c_reaches_the_served_command_as_it_would_its_own_process(served: Path) -> None:
    """A confirmation prompt on a terminal, interrupted: the same prompt, message and exit code."""

    def interrupted(**env: str) -> tuple[int, str]:
        terminal = _Terminal(signal.SIG_DFL, **env)
        time.sleep(0.2)
        terminal.process.send_signal(signal.SIGINT)
        return terminal.finish()

    before = _commands_served(served)
    assert interrupted() == interrupted(PHASEWATCH_SERVER="off")
    code, shown = interrupted()
    assert "Continue? [y/N]" in shown and "error: aborted" in shown and code == 1
    assert _commands_served(served) == before + 2


def test_without_a_server_the_command_runs_here_and_starts_one(data_home: Path, cli_env: str) -> None:
    socket_path = data_home / "phasewatch" / command_server.SOCKET_NAME
    done = _run("models", "list", "--limit", "1", "--json", PHASEWATCH_SERVER="on")
    assert done.returncode == 0 and json.loads(done.stdout)
    deadline = time.monotonic() + 60
    while command_server.ask(socket_path, {"op": "status"}) is None:  # started in the background
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (socket_path.stat().st_mode & 0o777) == 0o600 and (socket_path.parent.stat().st_mode & 0o777) == 0o700
    stopped = _run("server", "stop", PHASEWATCH_SERVER="off")
    assert stopped.stdout.strip() == "command server stopped"
    deadline = time.monotonic() + 30
    while socket_path.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    off = _run("server", "status", "--json", PHASEWATCH_SERVER="off")
    assert json.loads(off.stdout)["running"] is False


def test_a_server_whose_code_changed_on_disk_refuses_and_stops(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    server = CommandServer(tmp_path / "s.sock", idle_s=60)
    stat = source.stat()
    server.sources = {str(source): (stat.st_mtime_ns, stat.st_size)}
    request = {"python": command_server.interpreter(), "root": command_server.package_root()}
    assert server.refusal(request, [0, 1, 2]) is None
    other = [sys.executable, list(sys.flags), [["PYTHONPATH", "/elsewhere"]]]
    assert server.refusal({**request, "python": other}, [0, 1, 2]) == "another Python or another phasewatch"
    assert server.refusal({**request, "root": "/another/phasewatch/cli"}, [0, 1, 2]) is not None
    assert server.refusal(request, []) == "the standard streams did not come with the request"
    source.write_text("x = 22\n")
    why = server.refusal(request, [0, 1, 2])
    assert why is not None and "module.py changed" in why and not server.running


def test_the_server_preloads_no_heavy_library() -> None:
    code = (
        "import sys\nfrom phasewatch.cli.command_server import CommandServer, HEAVY_FOR_A_SERVER\n"
        "CommandServer('unused.sock', 1).preload()\n"
        "print(sorted(m for m in HEAVY_FOR_A_SERVER if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-500:]
    assert set(HEAVY_FOR_A_SERVER) >= {"pymc", "arviz", "torch", "transformers", "pandas"}


def _fake_server(
    socket_path: Path,
    answers: list[tuple[float, dict[str, object]]],
    undelivered: list[dict[str, object]] | None = None,
) -> threading.Thread:
    """A server on ``socket_path`` that reads one request and sends ``answers`` (each after
    its delay; those the client no longer reads go to ``undelivered``), standing in for the
    command server's side of the wire."""
    socket_path.parent.mkdir(mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            header, fds = command_server.receive_header(conn)
            for fd in fds:
                os.close(fd)
            assert header["op"] == "run"
            for delay, answer in answers:
                time.sleep(delay)
                try:
                    command_server.send_line(conn, answer)
                except BrokenPipeError:
                    (undelivered if undelivered is not None else []).append(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_served_command_may_outlast_the_wait_for_its_first_answer(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phasewatch.cli import launch

    monkeypatch.setattr(launch, "FIRST_ANSWER_S", 0.3)
    socket_path = data_home / "phasewatch" / command_server.SOCKET_NAME
    thread = _fake_server(socket_path, [(0.0, {"pid": os.getpid()}), (1.0, {"exit": 7})])
    assert launch.served(["phasewatch", "models", "list"]) == 7
    thread.join(5)


@pytest.mark.parametrize(
    "answers",
    [[(0.0, {"refused": "the server's code is out of date"})], [(2.0, {"pid": 1})]],
    ids=["refused", "no-answer-in-time"],
)
def test_a_command_the_server_did_not_start_runs_here(
    data_home: Path, monkeypatch: pytest.MonkeyPatch, answers: list[tuple[float, dict[str, object]]]
) -> None:
    from phasewatch.cli import launch

    monkeypatch.setattr(launch, "FIRST_ANSWER_S", 0.5)
    monkeypatch.setattr(launch, "start_server", lambda path: None)
    undelivered: list[dict[str, object]] = []
    thread = _fake_server(data_home / "phasewatch" / command_server.SOCKET_NAME, answers, undelivered)
    assert launch.served(["phasewatch", "models", "list"]) is None
    thread.join(5)
    late = [answer for delay, answer in answers if delay > 0.5]
    assert undelivered == late  # a child whose pid cannot reach the client does not run the command


@pytest.mark.parametrize(
    "raw", [b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x02[]", b"\xff\xff\xff\xff", b"\x00"], ids=str
)
def test_a_malformed_request_is_refused_and_the_server_serves_on(served: Path, raw: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(served))
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = sock.makefile("rb").readline()
    assert b"refused" in answer
    assert command_server.ask(served, {"op": "status"}) is not None
    assert _run("models", "list", "--limit", "1", "--json").returncode == 0


def test_no_server_is_started_where_no_socket_can_be_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from phasewatch.cli import launch

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("XDG_DATA_HOME", str(deep))
    started: list[bool] = []
    monkeypatch.setattr(launch, "start_server", lambda path: started.append(True))
    assert launch.served(["phasewatch", "models", "list"]) is None and not started


def test_a_served_command_ignores_ctrl_c_where_its_client_does(served: Path) -> None:
    """A client started with Ctrl-C ignored (a background job): its command ignores it too,
    as it would in its own process, and answers the prompt as usual."""

    def ignoring(**env: str) -> tuple[bool, int, str]:
        terminal = _Terminal(signal.SIG_IGN, **env)
        terminal.process.send_signal(signal.SIGINT)
        time.sleep(1.0)
        alive = terminal.process.poll() is None
        os.write(terminal.main, b"n\n")
        return (alive, *terminal.finish())

    served_run = ignoring()
    assert served_run == ignoring(PHASEWATCH_SERVER="off")
    alive, code, shown = served_run
    assert alive and code == 2 and "not confirmed: nothing dropped" in shown  # Ctrl-C ignored, "n" answered
