"""The ``phasewatch`` entry point: hand the command to the command server when one runs
(:mod:`phasewatch.cli.command_server`), else run it in this process and start a server in
the background for the next command.

Only the standard library is imported before the hand-over, so a served command starts in
a few hundredths of a second. Once the server has accepted a command (it answered with the
child's pid) the command is the child's: this process relays signals and exits with the
child's code; before that, any failure (no server, a refusal, a server that does not
answer) falls back to running the command here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import BinaryIO

from phasewatch.cli import command_server as server

FIRST_ANSWER_S = 10.0  # a server that has not forked within this is not used
MAX_SOCKET_PATH = 100  # bytes: a Unix socket's path is at most 107 (Linux) or 103 (macOS)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def main() -> None:
    if server.enabled():
        code = served(sys.argv)
        if code is not None:
            sys.exit(code)
    from phasewatch.cli.app import main as run_here

    run_here()


def served(argv: list[str]) -> int | None:
    """The exit code of ``argv`` run by the command server, or None if it was not run there
    (then nothing ran, and a server is started for the next command when none is running)."""
    try:
        path = server.default_socket()
    except OSError:
        return None
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:  # no Unix socket can be bound there
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        start_server(path)
        return None
    pending: list[int] = []  # signals that came before the child's pid: passed on once it is known
    ignored = [signum for signum in FORWARDED if signal.getsignal(signum) == signal.SIG_IGN]  # the child's too
    previous = {
        signum: signal.signal(signum, lambda signum, _: pending.append(signum))
        for signum in FORWARDED
        if signum not in ignored
    }
    with sock:
        try:
            sock.settimeout(FIRST_ANSWER_S)
            server.send_header(sock, _request(argv, ignored), (0, 1, 2))
            answers = sock.makefile("rb")
            first = json.loads(answers.readline() or b"{}")
        except (OSError, ValueError):
            first = {}
        if "pid" not in first:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if pending:  # interrupted before anything ran: as if it came now, to this process
                os.kill(os.getpid(), pending[0])
            if "refused" in first:
                start_server(path)  # a stale server has exited: the next command gets a current one
            return None
        sock.settimeout(None)  # the command takes what it takes
        return _relay(answers, int(first["pid"]), pending, list(previous))


def _request(argv: list[str], ignored: list[int]) -> dict[str, object]:
    umask = os.umask(0)
    os.umask(umask)
    return {
        "op": "run",
        "argv": list(argv),
        "ignored": [int(signum) for signum in ignored],  # as a process started here would have them
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
        "encoding": getattr(sys.stdout, "encoding", None) or "utf-8",
        "prog": program_name(),
        "python": server.interpreter(),
        "root": server.package_root(),
    }


def program_name() -> str:
    """The name usage lines give this program, as Click works it out in this process
    (``phasewatch``, or ``python -m phasewatch.cli``): the child's ``__main__`` is the server's."""
    main_module = sys.modules.get("__main__")
    package = getattr(main_module, "__package__", None)
    path = sys.argv[0] if sys.argv else "phasewatch"
    if not package:
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    return "python -m " + (package if name == "__main__" else f"{package}.{name}").lstrip(".")


def _relay(answers: BinaryIO, pid: int, pending: list[int], forwarded: list[int]) -> int:
    """Forward termination signals (those this process does not ignore) to the child until
    it reports its exit code."""

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in forwarded:
        signal.signal(signum, forward)
    for signum in pending:
        forward(signum, None)
    while True:
        try:
            line = answers.readline()  # a signal handled meanwhile does not end the read (PEP 475)
        except OSError:
            line = b""
        if not line:
            sys.stderr.write("error: the command's process ended without an exit code (killed?)\n")
            return 1
        answer = json.loads(line)
        if "exit" in answer:
            return int(answer["exit"])


def start_server(path: Path) -> None:
    """Start a command server on ``path`` in the background (it exits at once if one already runs)."""
    from phasewatch.services.local_server import spawn_detached

    try:
        spawn_detached(
            [sys.executable, "-m", "phasewatch.cli.command_server", "serve", "--socket", str(path)],
            path.with_suffix(".log"),
        )
    except OSError:
        pass
