"""The panels' use cases called from Python: a frozen panel is what the live one held on
its date, and a refused freeze writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError
from phasewatch.registry.schema import Observation, Panel, PanelObservation
from phasewatch.services import panels
from tests.helpers import table_counts

DAY = dt.date(2026, 6, 1)


def test_list_and_show_return_the_stored_panels(engine: Engine) -> None:
    listed = {p.name: p for p in panels.list_panels(engine)}
    with transaction(engine) as session:
        assert set(listed) == set(session.scalars(select(Panel.name)))
        panel_id = session.scalar(select(Panel.id).where(Panel.name == "growing-pains-34"))
        members = select(PanelObservation.observation_id).where(PanelObservation.panel_id == panel_id)
        observations = session.scalar(select(func.count()).select_from(members.subquery()))
        models = session.scalar(
            select(func.count(func.distinct(Observation.model_id))).where(Observation.id.in_(members))
        )
    shown = panels.show_panel(engine, "growing-pains-34")
    assert shown == listed["growing-pains-34"]
    assert (shown.models, shown.observations) == (models, observations) and models == 34


def test_the_live_panel_as_of_a_date_holds_only_what_was_known(engine: Engine) -> None:
    assert panels.is_live("frontier") and panels.is_live("frontier@2026-06-01")
    assert not panels.is_live("growing-pains-34")
    everything = panels.live_panel(engine)
    then = panels.live_panel(engine, as_of=DAY)
    assert 0 < len(then.chosen) < len(everything.chosen)
    assert all(c.release_date is None or c.release_date <= DAY.isoformat() for c in then.chosen)
    assert panels.live_panel(engine, f"frontier@{DAY}") == then  # the date in the name
    gpqa = panels.live_panel(engine, as_of=DAY, benchmarks=("GPQA_Diamond",))  # any case
    assert {c.benchmark for c in gpqa.chosen} == {"gpqa_diamond"}
    assert panels.live_panel(engine, prefer="third_party").precedence[0] == "third_party"


def test_freeze_stores_the_live_selection_and_a_refused_freeze_writes_nothing(engine: Engine) -> None:
    live = panels.live_panel(engine, as_of=DAY)
    frozen = panels.freeze(engine, "snapshot-1", as_of=DAY, description="for a test")
    assert frozen == panels.FrozenPanel("snapshot-1", live.models, len(live.chosen))
    shown = panels.show_panel(engine, "snapshot-1")
    assert (shown.models, shown.observations, shown.frozen) == (live.models, len(live.chosen), True)
    before = table_counts(engine)
    with pytest.raises(ConflictError, match="already exists"):
        panels.freeze(engine, "snapshot-1", as_of=DAY)
    with pytest.raises(InvalidInputError, match="cannot freeze from"):
        panels.freeze(engine, "snapshot-2", source="growing-pains-34")
    with pytest.raises(InvalidInputError, match="bad panel name"):
        panels.freeze(engine, "frontier")
    assert table_counts(engine) == before
