"""What the two local servers share (the fit server, :mod:`phasewatch.services.fit_server`,
and the command server, :mod:`phasewatch.cli.command_server`): the private data folder
their sockets live in, a socket only their user may connect to, knowing when that socket
is no longer theirs, and starting one detached. Standard library only: a client imports it
before anything else."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def data_dir() -> Path:
    """The user's phasewatch data directory (made private, 0700, if new)."""
    from platformdirs import user_data_path

    folder = user_data_path("phasewatch", appauthor=False)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def bind_private(path: Path, backlog: int) -> tuple[socket.socket, int]:
    """A listening Unix socket at ``path``, born 0600 (only this user may connect), and the
    inode that tells later whether the file at ``path`` is still this socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(backlog)
    return sock, path.stat().st_ino


def still_ours(path: Path, inode: int) -> bool:
    """Whether the socket file at ``path`` is still the one bound with ``inode`` (a server
    whose file was removed or replaced makes way)."""
    try:
        return path.stat().st_ino == inode
    except FileNotFoundError:
        return False


def spawn_detached(argv: list[str], log: Path) -> None:
    """Start ``argv`` detached from this command (its own session, no terminal, output to
    ``log``): it outlives the command, not its user's login."""
    with open(log, "ab") as out:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd="/",
            start_new_session=True,
            close_fds=True,
        )
