"""The fit use case's service layer: the compiled-model cache, the fit server (started
and stopped inside each test, on a socket in a temp dir), and the fallback when the
server cannot start. No network: the server is a Unix socket."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from phasewatch.models.coupling import CouplingData, ModelSpec, SamplerSettings, tree_from_bytes
from phasewatch.services import fitting
from phasewatch.services.fit_server import FitServerClient, FitServerUnavailable

SPEC = ModelSpec("logit", "partial")


def _data(labs: tuple[str, ...], per_lab: int, seed: int) -> CouplingData:
    rng = np.random.default_rng(seed)
    lab_of = np.repeat(np.arange(len(labs)), per_lab)
    slopes = 0.6 + 0.2 * rng.standard_normal(len(labs))
    x = rng.uniform(-1.5, 1.5, lab_of.size)
    y = 0.9 + slopes[lab_of] * x + 0.3 * rng.standard_normal(lab_of.size)
    to_pct = lambda v: 100 / (1 + np.exp(-v))  # noqa: E731
    return CouplingData(
        tuple(f"m{seed}-{i}" for i in range(lab_of.size)), tuple(labs[j] for j in lab_of), to_pct(x), to_pct(y)
    )


def test_compiled_models_are_keyed_by_lab_count_not_names_or_rows() -> None:
    models = fitting.CompiledModels(capacity=2)
    first = models.sampler(_data(("a", "b", "c"), 3, seed=1), None, SPEC)
    other_names_more_rows = models.sampler(_data(("d", "e", "f"), 5, seed=2), None, SPEC)
    assert other_names_more_rows.model is first.model  # the same compiled log density
    assert other_names_more_rows.labs == ("d", "e", "f") and first.labs == ("a", "b", "c")
    four_labs = models.sampler(_data(("a", "b", "c", "d"), 3, seed=3), None, SPEC)
    assert four_labs.model is not first.model
    many_per_lab = models.sampler(_data(("a", "b", "c"), 12, seed=4), None, SPEC)  # median 12: centred
    assert many_per_lab.parametrisation == "centred" and first.parametrisation == "non-centred"
    assert len(models.keys) == 2  # capacity 2: the least recently used model left


def test_an_unreachable_server_falls_back_to_this_process_with_one_note(monkeypatch: pytest.MonkeyPatch) -> None:
    class Recorder:
        name = "in process"

        def outcome(self, *args, **kwargs):
            return "sampled here"

    notes: list[str] = []
    monkeypatch.setattr(fitting, "IN_PROCESS", Recorder())
    missing = Path(tempfile.mkdtemp()) / "no-such-dir" / "fit-server.sock"  # cannot even take the start lock
    sampling = fitting.ServerWithFallback(FitServerClient(missing), notes.append)
    assert sampling.outcome(_data(("a", "b"), 3, 1), SPEC, None, SamplerSettings()) == "sampled here"
    assert sampling.name == "in process"
    assert len(notes) == 1 and "\n" not in notes[0] and notes[0].startswith("note: the fit server could not start")


def test_server_choice_follows_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fitting.SERVER_ENV, "off")
    assert fitting.backend() is fitting.IN_PROCESS
    assert isinstance(fitting.backend(use_server=True), fitting.ServerWithFallback)
    monkeypatch.setenv(fitting.SERVER_ENV, "on")
    assert fitting.server_wanted() and not fitting.server_wanted(False)


@pytest.fixture
def server_client() -> Iterator[FitServerClient]:
    """A client whose server (started on demand) lives in a temp dir and is stopped after the test."""
    folder = Path(tempfile.mkdtemp(prefix="pw-fs-"))  # short: a Unix socket path must fit in 107 bytes
    client = FitServerClient(folder / "fit-server.sock", idle_s=120)
    pids: list[int] = []
    client.pids = pids  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        client.stop()
        for pid in pids:  # reap it (it is this process's child); kill it if stop did not reach it
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
            except ChildProcessError:
                pass


@pytest.mark.slow
def test_fit_server_reuses_the_compiled_model_for_new_data_and_stops(server_client: FitServerClient) -> None:
    settings = SamplerSettings(draws=200, tune=200, chains=2, seed=3)
    first = server_client.fit(_data(("a", "b", "c"), 3, seed=1), SPEC, None, settings)
    state = server_client.status()
    assert state is not None
    server_client.pids.append(state["pid"])  # type: ignore[attr-defined]
    assert stat.S_IMODE(server_client.socket_path.stat().st_mode) == 0o600
    # a new release from a new lab of the same count and one more row: no recompile
    events: list[dict] = []
    second = server_client.fit(
        _data(("a", "b", "z"), 4, seed=2), SPEC, None, settings, progress=lambda d, t: events.append({"p": (d, t)})
    )
    assert first.timings["compile_s"] > 1.0 and second.timings["compile_s"] < 0.01
    assert second.posterior.labs == ("a", "b", "z") and second.posterior.n_draws == 400
    assert events and events[-1]["p"][0] == events[-1]["p"][1] == 800  # (200 tune + 200 draws) × 2 chains
    tree = tree_from_bytes(second.tree)
    assert tree["log_likelihood"]["obs"].shape == (2, 200, 12)
    np.testing.assert_allclose(
        tree["log_likelihood"]["obs"].values.reshape(400, 12),
        second.posterior.log_likelihood(_data(("a", "b", "z"), 4, seed=2)),
        rtol=1e-5,
    )
    state = server_client.status()
    assert state is not None and state["fits"] == 2 and len(state["models"]) == 1
    assert server_client.stop()
    os.waitpid(state["pid"], 0)  # it exits (blocks until it does; the fixture would kill it)
    assert server_client.status() is None and not server_client.socket_path.exists()


def test_a_bad_request_gets_an_error_and_a_server_with_other_code_makes_way(server_client: FitServerClient) -> None:
    answer = server_client.request({"op": "bogus"})
    state = server_client.status()
    assert state is not None
    server_client.pids.append(state["pid"])  # type: ignore[attr-defined]
    assert answer == {"ok": False, "error": "unknown op 'bogus'"}
    assert server_client.status() is not None  # still serving
    # a request from other code: the server unlinks its socket, answers "stale" and exits; the
    # client starts a current server once and asks again (that one is stale for it too here)
    stale = server_client.request({"op": "fit", "fingerprint": "other code"})
    assert stale["ok"] is False and stale["stale"] is True
    os.waitpid(state["pid"], 0)  # the first server exited
    assert server_client.status() is None and not server_client.socket_path.exists()


def test_client_without_start_does_not_start_a_server() -> None:
    folder = Path(tempfile.mkdtemp(prefix="pw-fs-"))
    client = FitServerClient(folder / "fit-server.sock", start=False)
    assert client.status() is None and client.stop() is False
    with pytest.raises(FitServerUnavailable):
        client.connect()
    assert not client.socket_path.exists()


def test_fit_server_cli_without_a_server(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("phasewatch"))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    status = subprocess.run([exe, "fit-server", "status", "--format", "json"], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {"running": False, "socket": str(tmp_path / "phasewatch" / "fit-server.sock")}
    stop = subprocess.run([exe, "fit-server", "stop"], env=env, capture_output=True, text=True)
    assert stop.returncode == 0 and stop.stdout.startswith("no fit server running")
