"""A small local fit server: one process that keeps compiled coupling models, so a refit
costs its sampling (~1 s) instead of a fresh compile (~10-20 s of numba per process).

The first ``phasewatch fit`` starts it on demand (``python -m phasewatch.services.fit_server
serve``, detached); it listens on a Unix socket in the data directory, ``fit-server.sock``,
made 0600 (only its user may connect), and exits when idle for ``PHASEWATCH_FIT_SERVER_IDLE``
seconds (default 900), when asked (``phasewatch fit-server stop``), when its socket file
is removed or replaced, or when a client runs different phasewatch code (the code's
fingerprint travels with every request, so a server never answers with stale code).

It only samples: the client reads the registry and stores the fit, so the server needs no
database and serves any registry of its user. Messages are JSON lines, no pickle: a request
``{"op": "fit", ...}`` is answered by ``{"stage": ...}`` / ``{"progress": [done, total]}``
lines and one final ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import os
import select
import socket
import sys
import threading
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from phasewatch.services.local_server import bind_private, data_dir, spawn_detached, still_ours

IDLE_ENV = "PHASEWATCH_FIT_SERVER_IDLE"
DEFAULT_IDLE_S = 900.0
SOCKET_NAME = "fit-server.sock"
START_TIMEOUT_S = 20.0  # until the new server's socket accepts (it binds before the heavy imports)


class FitServerUnavailable(RuntimeError):
    """The server could not be reached, started, or failed mid-fit (the caller falls back)."""


def default_socket() -> Path:
    return data_dir() / SOCKET_NAME


def fingerprint() -> str:
    """The sampling code's identity: phasewatch's version and the source of the modules that fit."""
    from phasewatch.models import coupling

    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("phasewatch").encode())
    except metadata.PackageNotFoundError:
        pass
    for path in (Path(coupling.__file__), Path(__file__).with_name("fitting.py"), Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def idle_timeout() -> float:
    try:
        return float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S


# --- the wire format ---------------------------------------------------------------------------


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def encode_request(data, spec, priors, settings) -> dict[str, Any]:
    return {
        "op": "fit",
        "fingerprint": fingerprint(),
        "data": {
            "names": list(data.names),
            "labs": list(data.labs),
            "x": [float(v) for v in data.x],
            "y": [float(v) for v in data.y],
            "dates": list(data.dates),
        },
        "spec": asdict(spec),
        "priors": asdict(priors) if priors is not None else None,
        "settings": asdict(settings),
    }


def decode_request(message: dict[str, Any]):
    import numpy as np

    from phasewatch.models.coupling import CouplingData, ModelSpec, Priors, SamplerSettings

    raw = message["data"]
    data = CouplingData(
        tuple(raw["names"]),
        tuple(raw["labs"]),
        np.array(raw["x"], float),
        np.array(raw["y"], float),
        tuple(raw["dates"]),
    )
    priors = Priors(**message["priors"]) if message["priors"] is not None else None
    return data, ModelSpec(**message["spec"]), priors, SamplerSettings(**message["settings"])


def encode_outcome(outcome) -> dict[str, Any]:
    return {
        "posterior": _b64(outcome.posterior.to_bytes()),
        "diagnostics": asdict(outcome.diagnostics),
        "summary": asdict(outcome.summary),
        "ols": asdict(outcome.ols),
        "tree": _b64(outcome.tree),
        "priors": asdict(outcome.priors),
        "parametrisation": outcome.parametrisation,
        "timings": outcome.timings,
    }


def decode_outcome(raw: dict[str, Any]):
    from phasewatch.models.coupling import (
        Diagnostics,
        FitOutcome,
        OLSTrend,
        Posterior,
        Priors,
        summary_from_dict,
    )

    ols: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw["ols"].items()}
    return FitOutcome(
        posterior=Posterior.from_bytes(base64.b64decode(raw["posterior"])),
        diagnostics=Diagnostics(**raw["diagnostics"]),
        summary=summary_from_dict(raw["summary"]),
        ols=OLSTrend(**ols),
        tree=base64.b64decode(raw["tree"]),
        priors=Priors(**raw["priors"]),
        parametrisation=raw["parametrisation"],
        timings=dict(raw["timings"]),
    )


def _send(stream: Any, message: dict[str, Any], lock: threading.Lock | None = None) -> None:
    line = json.dumps(message).encode() + b"\n"
    with lock or contextlib.nullcontext():
        stream.write(line)
        stream.flush()


# --- the client ----------------------------------------------------------------------------------


class FitServerClient:
    """Talks to the server at ``socket_path``, starting it when ``start`` and it is not running."""

    def __init__(self, socket_path: Path | None = None, *, start: bool = True, idle_s: float | None = None) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None else default_socket()
        self.start = start
        self.idle_s = idle_s if idle_s is not None else idle_timeout()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        return sock

    def connect(self) -> socket.socket:
        """A connection to a running server, starting one (once, under a lock) if needed."""
        try:
            return self._connect()
        except OSError as exc:
            if not self.start:
                raise FitServerUnavailable(f"no fit server at {self.socket_path}") from exc
        import fcntl

        lock_path = self.socket_path.with_suffix(".lock")
        try:
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one client starts it; the others find it running
                try:
                    return self._connect()
                except OSError:
                    pass
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()  # a stale socket of a server that died
                self._spawn()
                return self._wait_for_server()
        except OSError as exc:
            raise FitServerUnavailable(f"the fit server could not start ({exc.strerror or exc})") from exc

    def _spawn(self) -> None:
        spawn_detached(
            [
                sys.executable,
                "-m",
                "phasewatch.services.fit_server",
                "serve",
                "--socket",
                str(self.socket_path),
                "--idle-timeout",
                str(self.idle_s),
            ],
            self.socket_path.with_suffix(".log"),
        )

    def _wait_for_server(self) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                return self._connect()
            except OSError as exc:
                if time.monotonic() > deadline:
                    log = self.socket_path.with_suffix(".log")
                    raise FitServerUnavailable(
                        f"the fit server did not start within {START_TIMEOUT_S:.0f} s (see {log})"
                    ) from exc
                time.sleep(0.05)

    def request(self, message: dict[str, Any], on_event=None) -> dict[str, Any]:
        """Send one request and return the final answer; ``on_event`` gets stage/progress lines."""
        for attempt in range(2):
            sock = self.connect()
            with sock, sock.makefile("rwb") as stream:
                try:
                    _send(stream, message)
                    for line in stream:
                        answer = json.loads(line)
                        if "ok" in answer:
                            break
                        if on_event:
                            on_event(answer)
                    else:
                        raise FitServerUnavailable("the fit server stopped before answering")
                except OSError as exc:
                    raise FitServerUnavailable(f"lost the fit server ({exc})") from exc
            if answer.get("stale") and attempt == 0:
                continue  # it ran older code and has exited; the next connect starts a current one
            return answer
        raise FitServerUnavailable("the fit server runs different phasewatch code")

    def fit(self, data, spec, priors, settings, progress=None, stage=None):
        """Sample on the server: a :class:`~phasewatch.models.coupling.FitOutcome`."""

        def on_event(event: dict[str, Any]) -> None:
            if "progress" in event and progress:
                progress(*event["progress"])
            elif "stage" in event and stage:
                stage(event["stage"])

        answer = self.request(encode_request(data, spec, priors, settings), on_event)
        if not answer["ok"]:
            raise FitServerUnavailable(f"the fit server failed: {answer['error']}")
        return decode_outcome(answer["result"])

    def status(self) -> dict[str, Any] | None:
        """The running server's status, or None (never starts one)."""
        try:
            sock = self._connect()
        except OSError:
            return None
        with sock, sock.makefile("rwb") as stream:
            _send(stream, {"op": "status"})
            line = stream.readline()
        return json.loads(line) if line else None

    def stop(self) -> bool:
        """Ask the running server to exit; False if none was running."""
        try:
            sock = self._connect()
        except OSError:
            return False
        with sock, sock.makefile("rwb") as stream:
            _send(stream, {"op": "stop"})
            stream.readline()
        return True


# --- the server ----------------------------------------------------------------------------------


class FitServer:
    """Serves fits on ``socket_path`` until idle for ``idle_s`` seconds (one request at a time)."""

    def __init__(self, socket_path: Path, idle_s: float) -> None:
        self.socket_path = Path(socket_path)
        self.idle_s = idle_s
        self.started = time.monotonic()
        self.last_active = self.started
        self.fingerprint = fingerprint()
        self.running = True
        self.models: Any = None  # services.fitting.CompiledModels, after the first import

    def bind(self) -> socket.socket:
        sock, self.inode = bind_private(self.socket_path, 8)
        return sock

    def still_ours(self) -> bool:
        return still_ours(self.socket_path, self.inode)

    def compiled_models(self) -> Any:
        """This process's compiled models (imported on the first fit: status and stop stay instant)."""
        if self.models is None:
            from phasewatch.services.fitting import IN_PROCESS

            self.models = IN_PROCESS
        return self.models

    def serve(self) -> None:
        sock = self.bind()
        try:
            while self.running:
                ready, _, _ = select.select([sock], [], [], 1.0)
                if ready:
                    conn, _ = sock.accept()
                    with conn:
                        self.handle(conn)
                    self.last_active = time.monotonic()
                elif time.monotonic() - self.last_active > self.idle_s or not self.still_ours():
                    self.running = False
        finally:
            sock.close()
            if self.still_ours():
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()

    def handle(self, conn: socket.socket) -> None:
        with conn.makefile("rwb") as stream:
            line = stream.readline()
            if not line:
                return
            try:
                message = json.loads(line)
                op = message.get("op")
                if op == "status":
                    _send(stream, self.status())
                elif op == "stop":
                    self.running = False
                    _send(stream, {"ok": True})
                elif op == "fit":
                    if message.get("fingerprint") != self.fingerprint:
                        self.running = False  # older code than the client's: make way for a new server
                        with contextlib.suppress(FileNotFoundError):
                            self.socket_path.unlink()
                        _send(stream, {"ok": False, "stale": True, "error": "the fit server runs other code"})
                        return
                    self.fit(message, stream)
                else:
                    _send(stream, {"ok": False, "error": f"unknown op {op!r}"})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away; the next one is served
            except Exception as exc:  # one bad request must not take the server down
                with contextlib.suppress(OSError):
                    _send(stream, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})

    def fit(self, message: dict[str, Any], stream: Any) -> None:
        data, spec, priors, settings = decode_request(message)
        lock = threading.Lock()

        def progress(done: int, total: int) -> None:  # on nutpie's thread
            with contextlib.suppress(OSError):
                _send(stream, {"progress": [done, total]}, lock)

        def stage(text: str) -> None:
            _send(stream, {"stage": text}, lock)

        outcome = self.compiled_models().outcome(data, spec, priors, settings, progress, stage)
        _send(stream, {"ok": True, "result": encode_outcome(outcome)}, lock)

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "ok": True,
            "pid": os.getpid(),
            "socket": str(self.socket_path),
            "uptime_s": round(now - self.started, 1),
            "idle_s": round(now - self.last_active, 1),
            "idle_timeout_s": self.idle_s,
            "fits": self.models.fits if self.models is not None else 0,
            "models": self.models.keys if self.models is not None else [],
            "fingerprint": self.fingerprint,
        }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m phasewatch.services.fit_server")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--socket", type=Path, default=None)
    parser.add_argument("--idle-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    path = args.socket or default_socket()
    idle = args.idle_timeout if args.idle_timeout is not None else idle_timeout()
    try:
        FitServer(path, idle).serve()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"a fit server already listens on {path}") from None
        raise


if __name__ == "__main__":
    main()
