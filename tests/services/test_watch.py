"""The Hub watch's use cases called from Python, against a local fake Hub: organisations
are stored and listed, and a poll registers each new open-weight repository once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.clock import FrozenClock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.schema import SteeringJob
from phasewatch.services import watch
from tests.helpers import table_counts
from tests.registry.test_hub import FakeHub, fake_hub  # noqa: F401 (the fixture)

CLOCK = FrozenClock(dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC))


def test_organisations_are_stored_replaced_and_listed(engine: Engine) -> None:
    assert watch.set_orgs(engine, "Qwen", ["Qwen", "QwenLM"]).orgs == ("Qwen", "QwenLM")  # an alias of Alibaba
    assert watch.set_orgs(engine, "Mistral AI", ["mistralai"]).lab == "Mistral AI"
    assert watch.set_orgs(engine, "Alibaba", ["Qwen"]).orgs == ("Qwen",)  # replaces
    assert {(r.lab, r.orgs) for r in watch.list_orgs(engine)} == {
        ("Alibaba", ("Qwen",)),
        ("Mistral AI", ("mistralai",)),
    }
    before = table_counts(engine)
    with pytest.raises(NotFoundError, match="unknown lab"):
        watch.set_orgs(engine, "Nowhere Labs", ["x"])
    assert table_counts(engine) == before


def test_a_poll_registers_new_repositories_once(engine: Engine, fake_hub: FakeHub) -> None:  # noqa: F811
    watch.set_orgs(engine, "Mistral AI", ["mistralai"])
    fake_hub.visible = {"mistralai/Ministral-4-3B-Instruct-2609"}
    first = watch.poll(engine, CLOCK)
    assert first.endpoint == fake_hub.url  # HF_ENDPOINT
    assert [(f.repo, f.status) for f in first.found] == [("mistralai/Ministral-4-3B-Instruct-2609", "registered")]
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(SteeringJob)) == 1
    assert watch.poll(engine, CLOCK).found == ()  # nothing new, nothing queued again
    before = table_counts(engine)
    with pytest.raises(InvalidInputError, match="no lab has the Hub organisation"):
        watch.poll(engine, CLOCK, ["nobody"])
    assert table_counts(engine) == before
