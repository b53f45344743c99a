"""A command server for a bench script's timed processes (imported by the bench scripts).

``phasewatch`` hands each command to a running command server (``cli/command_server.py``),
and starts one in the background when none runs. A bench times both ways side by side:
:func:`own_process` is an environment where every command runs in its own process (no
server is used or started); :func:`command_server` starts a server in a private data
folder, waits until it answers, yields the environment that uses it, and stops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from phasewatch.cli import command_server


def own_process(env: dict[str, str]) -> dict[str, str]:
    return {**env, command_server.SERVER_ENV: "off"}


@contextmanager
def command_server_for(env: dict[str, str]) -> Iterator[dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="pw-bench-"))  # short: a socket path has ~100 bytes
    socket_path = folder / "phasewatch" / command_server.SOCKET_NAME
    socket_path.parent.mkdir(mode=0o700)
    served = {**env, "XDG_DATA_HOME": str(folder), command_server.SERVER_ENV: "on"}
    server = subprocess.Popen(
        [sys.executable, "-m", "phasewatch.cli.command_server", "serve", "--socket", str(socket_path)],
        env=served,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while command_server.ask(socket_path, {"op": "status"}) is None:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the command server did not start")
            time.sleep(0.1)
        yield served
    finally:
        command_server.ask(socket_path, {"op": "stop"})
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def commands_served(env: dict[str, str]) -> int:
    """How many commands the server of ``env`` (from :func:`command_server_for`) has run."""
    socket_path = Path(env["XDG_DATA_HOME"]) / "phasewatch" / command_server.SOCKET_NAME
    state = command_server.ask(socket_path, {"op": "status"})
    return int(state["commands"]) if state else 0


def own_processes_only() -> None:
    """Every ``phasewatch`` this script (and what it starts) runs, in its own process: no
    command server is used or started (the figures are own-process figures)."""
    os.environ[command_server.SERVER_ENV] = "off"
