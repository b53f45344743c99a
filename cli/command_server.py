"""The command server: one process that has already imported phasewatch, forking a child
per command, so a command costs its own work instead of ~0.6 s of imports and set-up.

``phasewatch`` (:mod:`phasewatch.cli.launch`) hands each command to the server when one is
running: it sends its arguments, environment, working folder and umask, with its standard
input, output and error themselves (file descriptors passed over the socket), and the
server forks. The child takes them over and runs the command exactly as a new process
would (it prints to the same terminal or pipe, reads the same input, exits with the
command's code, which the client exits with); the client forwards Ctrl-C and other
termination signals to it. When no server is running, the command runs in its own
process as before and a server is started in the background for the next one.

The server listens on a Unix socket in the data directory, ``command-server.sock``,
made 0600 in a 0700 folder (only its user may connect; the peer's uid is checked too),
and exits when idle for ``PHASEWATCH_SERVER_IDLE`` seconds (default 900), when asked
(``phasewatch server stop``), when its socket file is removed or replaced, or as soon
as a file of a module it imported (phasewatch's, its own, a library's) changes on disk:
a client is then refused before anything runs and runs the command itself.
``PHASEWATCH_SERVER=off`` turns it off.
Nothing is cached across commands but imported code: each child opens the registry
afresh, so what one command sees is what a new process would see.

Messages: the client sends a 4-byte length and a JSON header (``{"op": "run", ...}``,
``{"op": "status"}`` or ``{"op": "stop"}``), its three descriptors riding with the first
bytes; the answers are JSON lines: ``{"pid": N}`` then ``{"exit": CODE}`` for a run, or
``{"refused": WHY}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from phasewatch.services.local_server import bind_private, data_dir, still_ours

SERVER_ENV = "PHASEWATCH_SERVER"  # "off" (or 0/no/false): every command runs in its own process
IDLE_ENV = "PHASEWATCH_SERVER_IDLE"
DEFAULT_IDLE_S = 900.0
SOCKET_NAME = "command-server.sock"
MAX_HEADER = 4 * 1024 * 1024
# The command line itself; what registry commands use is services.preload's.
PRELOAD = (
    "phasewatch.cli.app",
    "phasewatch.cli.common",
    "rich.console",
    "rich.table",
    "rich._emoji_codes",  # read by every table rendered (~4 ms)
    "typer._click.decorators",
)
# Never imported by the server itself (a served command that needs one imports it in its child).
HEAVY_FOR_A_SERVER = ("pymc", "arviz", "pytensor", "numba", "torch", "transformers", "pandas")


def enabled() -> bool:
    return os.environ.get(SERVER_ENV, "on").strip().lower() not in {"off", "0", "no", "false"}


def default_socket() -> Path:
    return data_dir() / SOCKET_NAME


def package_root() -> str:
    """The folder phasewatch's command line is imported from (a server serves only its own)."""
    return str(Path(__file__).resolve().parent)


def interpreter() -> list[object]:
    """What a client's interpreter must share with the server's: the executable, its flags
    (``-O``, ``-X dev``, ...) and the ``PYTHON*`` variables read at start-up (path, warnings)."""
    python = sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON"))
    return [sys.executable, list(sys.flags), python]


def idle_timeout() -> float:
    try:
        return float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S


# --- the wire -------------------------------------------------------------------------------------


def send_header(sock: socket.socket, header: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    body = json.dumps(header).encode()
    data = struct.pack(">I", len(body)) + body
    if fds:
        sent = sock.sendmsg([data[:4]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
        data = data[sent:]
    sock.sendall(data)


def receive_header(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """A header and the descriptors that came with it (the caller closes them; closed here
    if the header is not one)."""
    fds: list[int] = []
    head, ancillary, _, _ = sock.recvmsg(4, socket.CMSG_SPACE(3 * struct.calcsize("i")))
    for level, kind, blob in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(struct.unpack(f"{len(blob) // 4}i", blob[: len(blob) - len(blob) % 4]))
    try:
        head += _exactly(sock, 4 - len(head))
        (size,) = struct.unpack(">I", head)
        if size > MAX_HEADER:
            raise ValueError(f"header of {size} bytes")
        header = json.loads(_exactly(sock, size))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return header, fds


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            raise ConnectionError("the client went away")
        data += more
    return data


def send_line(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def ask(path: Path, header: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """One question (status, stop) to the server at ``path``: its answer, or None without one."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            send_header(sock, header)
            line = sock.makefile("rb").readline()
    except OSError:
        return None
    return json.loads(line) if line else None


# --- the server -----------------------------------------------------------------------------------


class CommandServer:
    """Forks a child per command on ``socket_path`` until idle for ``idle_s`` seconds."""

    def __init__(self, socket_path: Path, idle_s: float, lock_fd: int | None = None) -> None:
        self.socket_path = Path(socket_path)
        self.lock_fd = lock_fd  # the lock held for the server's life (a child must not hold it)
        self.idle_s = idle_s
        self.started = time.monotonic()
        self.last_active = self.started
        self.commands = 0
        self.running = True
        self.sources: dict[str, tuple[int, int]] = {}

    def preload(self) -> None:
        """Import what registry commands use, set up the ORM, and freeze it all out of the
        cycle collector's reach (children then never walk it)."""
        import gc
        import importlib

        for name in PRELOAD:
            importlib.import_module(name)
        from phasewatch.cli.app import tune_collector
        from phasewatch.services.preload import preload

        preload()
        tune_collector()
        gc.collect()
        gc.freeze()
        self.sources = self.source_stamps()

    @staticmethod
    def source_stamps() -> dict[str, tuple[int, int]]:
        """(mtime, size) of the file of every module imported so far (phasewatch's, this
        server's own and its libraries': an upgrade of any of them makes the server stale)."""
        stamps = {}
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if path:
                with contextlib.suppress(OSError):
                    st = os.stat(path)
                    stamps[path] = (st.st_mtime_ns, st.st_size)
        return stamps

    def stale(self) -> str | None:
        """Why this server's code is not the code on disk, if it is not."""
        for path, stamp in self.sources.items():
            try:
                st = os.stat(path)
            except OSError:
                return f"{path} is gone"
            if (st.st_mtime_ns, st.st_size) != stamp:
                return f"{path} changed"
        return None

    def bind(self) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # a stale socket of a server that died (the lock says none runs)
        sock, self.inode = bind_private(self.socket_path, 32)
        return sock

    def still_ours(self) -> bool:
        return still_ours(self.socket_path, self.inode)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
        listener = self.bind()
        checked = time.monotonic()
        try:
            while self.running:
                ready, _, _ = select.select([listener], [], [], 1.0)
                if ready:
                    try:
                        conn, _ = listener.accept()
                    except OSError:  # the client gave up meanwhile
                        continue
                    with conn:
                        self.handle(conn, listener)
                    self.last_active = time.monotonic()
                now = time.monotonic()
                if now - self.last_active > self.idle_s or not self.still_ours():
                    self.running = False
                elif now - checked > 5.0:
                    checked = now
                    self.running = self.stale() is None
        finally:
            listener.close()
            if self.still_ours():
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()

    def handle(self, conn: socket.socket, listener: socket.socket) -> None:
        fds: list[int] = []
        try:
            conn.settimeout(5.0)
            if not _same_user(conn):
                send_line(conn, {"refused": "another user"})
                return
            header, fds = receive_header(conn)
            op = header.get("op")
            if op == "status":
                send_line(conn, self.status())
            elif op == "stop":
                self.running = False
                send_line(conn, {"ok": True})
            elif op == "run":
                why = self.refusal(header, fds)
                if why is not None:
                    send_line(conn, {"refused": why})
                    return
                if os.fork() == 0:
                    inherited = [listener.fileno()] + ([self.lock_fd] if self.lock_fd is not None else [])
                    _child(conn, inherited, header, fds)  # never returns
                self.commands += 1
            else:
                send_line(conn, {"refused": f"unknown op {op!r}"})
        except Exception as exc:  # one bad client must not take the server down
            with contextlib.suppress(OSError):
                send_line(conn, {"refused": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def refusal(self, header: dict[str, Any], fds: list[int]) -> str | None:
        if len(fds) != 3:
            return "the standard streams did not come with the request"
        if json.dumps(header.get("python")) != json.dumps(interpreter()) or header.get("root") != package_root():
            return "another Python or another phasewatch"
        why = self.stale()
        if why is not None:
            self.running = False  # make way for a server with the code on disk
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            return f"the server's code is out of date ({why})"
        return None

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "ok": True,
            "pid": os.getpid(),
            "socket": str(self.socket_path),
            "uptime_s": round(now - self.started, 1),
            "idle_s": round(now - self.last_active, 1),
            "idle_timeout_s": self.idle_s,
            "commands": self.commands,
            "python": sys.executable,
            "root": package_root(),
        }


def _same_user(conn: socket.socket) -> bool:
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is None:  # not Linux: the 0600 socket in a 0700 folder is the guard
        return True
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i")))
    return uid == os.getuid()


def _child(conn: socket.socket, inherited: list[int], header: dict[str, Any], fds: list[int]) -> None:
    """Become the client's command: its streams, folder, umask, environment and arguments;
    run it; report its exit code; exit. ``inherited``: the server's own descriptors (closed).
    Never returns into the server's code, whatever is raised (a second Ctrl-C included)."""
    code = 1
    try:
        try:
            code = _become_and_run(conn, inherited, header, fds)
        except KeyboardInterrupt:  # before or after the command's own handling of Ctrl-C
            code = 130
            sys.stderr.write("error: aborted\n")
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is over: nothing left to interrupt
            _exit_as_a_process_does(conn, code)
    finally:
        os._exit(code)


def _become_and_run(conn: socket.socket, inherited: list[int], header: dict[str, Any], fds: list[int]) -> int:
    for fd in inherited:
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own subprocesses are waited for as usual
    _signals_as_the_client_has_them(set(header.get("ignored", ())))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    fds.clear()
    os.chdir(header["cwd"])
    os.umask(int(header["umask"]))
    os.environ.clear()
    os.environ.update(header["env"])
    time.tzset()
    sys.argv = list(header["argv"])
    _reopen_streams(header.get("encoding") or "utf-8")
    conn.settimeout(None)
    send_line(conn, {"pid": os.getpid()})  # fails if the client is gone: then nothing runs
    return _run(sys.argv[1:], header.get("prog") or "phasewatch")


def _signals_as_the_client_has_them(ignored: set[int]) -> None:
    """Ctrl-C and the termination signals as a process the client started would have them:
    ignored where the client ignores them (a background job's Ctrl-C, say), else Python's
    own (KeyboardInterrupt for Ctrl-C) whatever the server inherited."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        if int(signum) in ignored:
            signal.signal(signum, signal.SIG_IGN)
        else:
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)


def _exit_as_a_process_does(conn: socket.socket, code: int) -> None:
    """Run the exit handlers (logging flushes its files, ...), flush the streams, report."""
    import atexit

    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    with contextlib.suppress(BaseException):
        send_line(conn, {"exit": code})


def _reopen_streams(encoding: str) -> None:
    """Standard streams over the client's descriptors, buffered as a new process's would be."""
    import io

    tty = os.isatty(1)
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding=encoding)
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding=encoding, line_buffering=tty)
    sys.stderr = io.TextIOWrapper(
        open(2, "wb", buffering=0, closefd=False), encoding=encoding, errors="backslashreplace", write_through=True
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # as a new process has them


def _run(argv: list[str], prog: str) -> int:
    from phasewatch.cli.app import for_arguments

    try:
        for_arguments(argv)(prog_name=prog)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    import argparse
    import fcntl

    parser = argparse.ArgumentParser(prog="python -m phasewatch.cli.command_server")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--socket", type=Path, default=None)
    parser.add_argument("--idle-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    path = args.socket or default_socket()
    with open(path.with_suffix(".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for life: one server per socket
        except BlockingIOError:
            raise SystemExit(f"a command server already runs for {path}") from None
        idle = args.idle_timeout if args.idle_timeout is not None else idle_timeout()
        server = CommandServer(path, idle, lock.fileno())
        server.preload()
        server.serve()


if __name__ == "__main__":
    main()
