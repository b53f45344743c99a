"""``phasewatch watch`` against a fake Hub on loopback serving recorded API answers (never the network)."""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.clock import FrozenClock, WallClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError
from phasewatch.registry.hub import HubClient, HubError, set_orgs, watch_once
from phasewatch.registry.jobs import ClaimedJob
from phasewatch.registry.schema import HubRepo, Model, SteeringJob
from phasewatch.services.table_queue import run_table_worker

ANSWERS = json.loads((Path(__file__).parent / "hub_answers" / "answers.json").read_text())
PAGE = 2  # the fake pages by two, so the client must follow the Link header as on the real Hub


class FakeHub:
    """Serves /api/models?author=ORG (newest first, paged) and /api/models/ORG/NAME for the visible repos."""

    def __init__(self) -> None:
        self.visible: set[str] = set()
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hub.requests.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/api/models":
                    assert query["sort"] == "createdAt" and query["direction"] == "-1"
                    items = [i for i in ANSWERS["lists"].get(query["author"], []) if i["id"] in hub.visible]
                    start = int(query.get("cursor", 0))
                    headers = {}
                    if start + PAGE < len(items):
                        nxt = urllib.parse.urlencode({**query, "cursor": start + PAGE})
                        headers["Link"] = f'<http://{self.headers["Host"]}/api/models?{nxt}>; rel="next"'
                    return self._send(200, items[start : start + PAGE], headers)
                repo = urllib.parse.unquote(url.path.removeprefix("/api/models/"))
                if repo in hub.visible:
                    return self._send(200, ANSWERS["models"][repo])
                return self._send(404, {"error": "Repository not found"})

            def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub()
    thread = threading.Thread(target=hub.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield hub
    hub.server.shutdown()
    hub.server.server_close()


def _run_all(engine: Engine, db_url: str, runner) -> None:
    if engine.dialect.name == "postgresql":
        from phasewatch.services.engine_queue import run_worker

        run_worker(db_url, engine, runner, owner="w", clock=WallClock(), drain=True, poll_seconds=0.1)
    else:
        run_table_worker(engine, runner, clock=WallClock(), owner="w", stop=threading.Event(), drain=True)


def test_three_new_repos_on_the_hub_become_three_jobs_that_run(
    engine: Engine, db_url: str, fake_hub: FakeHub, tmp_path: Path
) -> None:
    clock = FrozenClock(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))
    with transaction(engine) as session:
        set_orgs(session, "Mistral AI", ["mistralai"])
        set_orgs(session, "Qwen", ["Qwen"])  # an alias of Alibaba
    client = HubClient()
    assert client.endpoint == fake_hub.url  # HF_ENDPOINT
    ran = tmp_path / "ran.log"  # jobs run in child processes: they report through a file

    def runner(job: ClaimedJob) -> dict[str, object]:  # a fast fake evaluation
        return {"repo": job.hf_repo, "revision": job.revision}

    fake_hub.visible = {"mistralai/Ministral-4-3B-Instruct-2609"}
    first = watch_once(engine, client, clock=clock)
    assert [(f.repo, f.status) for f in first] == [("mistralai/Ministral-4-3B-Instruct-2609", "registered")]
    _run_all(engine, db_url, runner)

    fake_hub.visible = set(ANSWERS["models"])  # three open-weight repos appear, and a repo without weights
    found = watch_once(engine, client, clock=clock)
    assert sorted((f.repo, f.status) for f in found) == [
        ("Qwen/Qwen4-0.6B-GGUF", "registered"),
        ("Qwen/Qwen4-1.7B", "registered"),
        ("Qwen/Qwen4-Technical-Report", "skipped"),
        ("mistralai/Ministral-4-8B-Base-2611", "registered"),
    ]
    assert any(p.startswith("/api/models?") and "cursor=2" in p for p in fake_hub.requests)  # paged
    assert watch_once(engine, client, clock=clock) == []  # idempotent: nothing new, nothing queued
    with transaction(engine) as session:
        new_jobs = list(session.scalars(select(SteeringJob).where(SteeringJob.status == "queued")))
        assert len(new_jobs) == 3
        qwen = session.scalar(select(Model).where(Model.hf_repo == "Qwen/Qwen4-1.7B"))
        detail = ANSWERS["models"]["Qwen/Qwen4-1.7B"]
        assert (qwen.name, qwen.lab.name, qwen.hf_revision, qwen.open_weight) == (
            "Qwen4-1.7B",
            "Alibaba",
            detail["sha"],
            True,
        )
        assert qwen.params_total_b == pytest.approx(detail["safetensors"]["total"] / 1e9)
        assert qwen.release_date == dt.date(2026, 11, 20)
        row = session.scalar(select(HubRepo).where(HubRepo.repo == "Qwen/Qwen4-1.7B"))
        assert (row.license, row.params_total, row.model_id) == ("apache-2.0", detail["safetensors"]["total"], qwen.id)
        base = session.scalar(select(Model).where(Model.hf_repo == "mistralai/Ministral-4-8B-Base-2611"))
        assert base.kind == "base"
        skipped = session.scalar(select(HubRepo).where(HubRepo.repo == "Qwen/Qwen4-Technical-Report"))
        assert skipped.model_id is None and "no weight files" in skipped.skipped

    def counting(job: ClaimedJob) -> dict[str, object]:
        with ran.open("a") as handle:
            handle.write(job.hf_repo + "\n")
        return runner(job)

    _run_all(engine, db_url, counting)
    assert sorted(ran.read_text().split()) == [
        "Qwen/Qwen4-0.6B-GGUF",
        "Qwen/Qwen4-1.7B",
        "mistralai/Ministral-4-8B-Base-2611",
    ]
    with transaction(engine) as session:
        statuses = collections.Counter(session.scalars(select(SteeringJob.status)))
        assert statuses == {"done": 4}
        assert session.scalar(select(func.count()).select_from(HubRepo)) == 5


def test_orgs_are_validated_and_belong_to_one_lab(engine: Engine) -> None:
    with transaction(engine) as session:
        set_orgs(session, "Meta", ["meta-llama", "facebook"])
        with pytest.raises(ConflictError, match="belongs to Meta"):
            set_orgs(session, "Google", ["facebook"])
        with pytest.raises(InvalidInputError):
            set_orgs(session, "Google", ["not an org"])
        assert set_orgs(session, "Meta", ["meta-llama"]).orgs == ("meta-llama",)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unreachable_hub_is_one_clear_error(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with transaction(engine) as session:
        set_orgs(session, "Alibaba", ["Qwen"])
    with pytest.raises(HubError, match="cannot reach the Hub"):
        watch_once(engine, HubClient(timeout=5), clock=WallClock())
