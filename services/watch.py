"""The Hugging Face Hub watch's use cases: which Hub organisations each lab publishes
under (``labs hub set/list``), and one poll of them (``phasewatch watch``) that registers
each new open-weight release and queues its steering evaluation.

Each function takes the engine (and the clock for the day a release is logged) and
returns typed records; the loop of ``watch --every`` (sleeping on the clock between
polls) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasewatch.registry.db import transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.registry.clock import Clock
    from phasewatch.registry.hub import Found, HubClient, LabOrgs


def set_orgs(engine: Engine, lab: str, orgs: list[str]) -> LabOrgs:
    """Set a lab's Hub organisations, replacing those it had (none removes them)."""
    from phasewatch.registry.hub import set_orgs as store

    with transaction(engine) as session:
        return store(session, lab, orgs)


def list_orgs(engine: Engine) -> tuple[LabOrgs, ...]:
    """Each lab that has Hub organisations, with them."""
    from phasewatch.registry.hub import list_orgs as stored

    with transaction(engine) as session:
        return tuple(stored(session))


@dataclass(frozen=True)
class Poll:
    """One poll of the Hub: where it asked, and the repositories seen for the first time."""

    endpoint: str
    found: tuple[Found, ...]


def poll(engine: Engine, clock: Clock, orgs: list[str] | None = None, client: HubClient | None = None) -> Poll:
    """Poll every stored organisation (or only ``orgs``) once through ``client`` (default:
    the Hub at ``HF_ENDPOINT``); each new open-weight repository is registered and queued,
    or recorded as skipped with the reason."""
    from phasewatch.registry.hub import HubClient, watch_once

    hub = client or HubClient()
    return Poll(hub.endpoint, tuple(watch_once(engine, hub, clock=clock, orgs=orgs)))
