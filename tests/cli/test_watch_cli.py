"""`phasewatch labs hub set` and `phasewatch watch` from the command line, against the fake Hub."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run
from tests.registry.test_hub import FakeHub, fake_hub  # noqa: F401 (the fixture)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_watch_registers_new_repos_once(cli_env: str, fake_hub: FakeHub) -> None:  # noqa: F811
    assert run("labs", "hub", "set", "Qwen", "Qwen")[0] == 0
    fake_hub.visible = {"Qwen/Qwen4-1.7B", "Qwen/Qwen4-Technical-Report"}
    code, out, err = run("watch", "--json")
    assert code == 0, err
    found = {f["repo"]: f for f in json.loads(out)}
    assert found["Qwen/Qwen4-1.7B"]["status"] == "registered" and found["Qwen/Qwen4-1.7B"]["license"] == "apache-2.0"
    assert found["Qwen/Qwen4-Technical-Report"]["status"] == "skipped"
    code, out, _ = run("watch")
    assert code == 0 and "0 new repositories, 0 registered" in out
    jobs = json.loads(run("steer", "jobs", "list", "--json")[1])
    assert [(j["hf_repo"], j["status"]) for j in jobs] == [("Qwen/Qwen4-1.7B", "queued")]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hub_bad_input_is_one_line_and_changes_nothing(cli_env: str) -> None:
    assert run("labs", "hub", "set", "Meta", "facebook")[0] == 0
    code, _, err = run("labs", "hub", "set", "Google", "facebook")
    assert code == 2 and err.startswith("error: Hub organisation 'facebook' already belongs to Meta")
    code, _, err = run("labs", "hub", "set", "Gogle", "google")
    assert code == 5 and "unknown lab 'Gogle'" in err
    code, _, err = run("watch", "--org", "nobody")
    assert code == 2 and "no lab has the Hub organisation 'nobody'" in err
    assert json.loads(run("labs", "hub", "list", "--json")[1]) == [{"lab": "Meta", "orgs": ["facebook"]}]
