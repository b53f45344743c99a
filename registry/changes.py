"""The registry's change count: when an earlier verification of the prediction logs still holds.

Migration 0016 adds ``registry_state`` (one row) and triggers that raise its
``change_count`` on every insert, update and delete of :data:`WATCHED_TABLES` (the
tables a grading reads), whoever makes the change: phasewatch, an import, or raw SQL.
``verified_at`` is the count at which the prediction logs were last known intact.

- A grading trusts that verification only while ``verified_at == change_count``;
  otherwise it verifies everything again (:func:`phasewatch.registry.predictions.intact_since`).
- A writer that appends (logs a release, seals gradings) while holding the write lock,
  on a registry it knew intact, moves ``verified_at`` to the count after its own changes
  (:func:`carry_verified`): appends cannot break a seal, so the next grading need not
  re-hash the observations the seals rest on.

What this does not defend against: someone who can write SQL can also drop the
triggers or set ``verified_at``. ``phasewatch predictions verify`` never trusts the
mark, and a published head catches rewritten logs (docs/predictions.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from phasewatch.registry.schema import RegistryState

WATCHED_TABLES = (
    "benchmarks",
    "labs",
    "models",
    "observations",
    "panel_observations",
    "panels",
    "prediction_gradings",
    "predictions",
)


@dataclass(frozen=True)
class ChangeState:
    count: int
    verified_at: int | None

    @property
    def verified(self) -> bool:
        """Whether the logs were verified (or kept intact by phasewatch's own appends) at this count."""
        return self.verified_at == self.count


def change_state(session: Session, *, lock: bool = False) -> ChangeState | None:
    """The change count and the count the logs last verified at (``None``: the row is gone,
    so nothing can be trusted). With ``lock``, first take the write lock that the triggers
    need, so no other writer changes a watched table until this transaction ends: on
    SQLite a no-op update (which begins the write), on PostgreSQL ``SELECT … FOR UPDATE``."""
    query = select(RegistryState.change_count, RegistryState.verified_at).where(RegistryState.id == 1)
    if lock:
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        else:
            session.execute(
                update(RegistryState).where(RegistryState.id == 1).values(change_count=RegistryState.change_count)
            )
    row = session.execute(query).first()
    return None if row is None else ChangeState(row.change_count, row.verified_at)


def record_verified(session: Session, count: int) -> bool:
    """Record that the logs verified at ``count``, if the registry has not changed since
    (one conditional update: no lock needed). Whether it was recorded."""
    result = session.execute(
        update(RegistryState)
        .where(RegistryState.id == 1, RegistryState.change_count == count)
        .values(verified_at=count)
    )
    return bool(result.rowcount)


def carry_verified(session: Session) -> None:
    """Record that the logs are intact at the count after this transaction's own changes.
    Only for a caller that took the lock (:func:`change_state` with ``lock``) on logs it
    knew intact, and since then only appended."""
    session.flush()  # pending rows fire their triggers first
    session.execute(update(RegistryState).where(RegistryState.id == 1).values(verified_at=RegistryState.change_count))
