"""The registry's change count: when an earlier verification of the prediction logs still holds.

Migration 0016 adds ``registry_state`` (one row) and triggers that raise its
``change_count`` on every insert, update and delete of :data:`WATCHED_TABLES` (the
tables a grading reads), whoever makes the change: phasewatch, an import, or raw SQL.
``verified_at`` is the count at which the prediction logs were last known intact.

- A grading trusts that verification only while ``verified_at == change_count``;
  otherwise it verifies everything again (:func:`phasewatch.registry.predictions.intact_since`).
- A writer that appends (logs a release, seals gradings) while holding the write lock,
  on a registry it knew intact, moves ``verified_at`` to the count after its own changes
  (:func:`vouch`): appends cannot break a seal, so the next grading need not
  re-hash the observations the seals rest on.
- ``data_count`` counts only the tables a grading's input is read from: the releases a
  grading read are kept by it (:mod:`phasewatch.registry.grading_inputs`) and reused
  while it is unchanged and the logs are marked verified. A cache entry can only have
  been written by someone else if the mark broke since; re-earning the mark drops them all.

Migration 0017 also logs *which* observations changed (``observation_changes``: id and
model, by triggers, whoever writes) since the mark was last earned; ``logged_from`` is the
count the log began at, and is cleared as soon as any other watched table changes. While
it still equals ``verified_at``, the log holds every change since the mark
(:func:`logged_changes`), so a grading after an outside edit of a few figures checks only
the seals resting on them and reads only their models' releases again.

What this does not defend against: someone who can write SQL can also drop the
triggers or set ``verified_at``. ``phasewatch predictions verify`` never trusts the
mark, and a published head catches rewritten logs (docs/predictions.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from phasewatch.registry.schema import GradingInputCache, ObservationChange, RegistryState

DATA_TABLES = ("benchmarks", "labs", "models", "observations", "panel_observations", "panels", "predictions")
WATCHED_TABLES = (*DATA_TABLES, "prediction_gradings", "grading_inputs")
LOGGED_TABLE = "observations"  # its changes are logged row by row; a change elsewhere ends the log
MAX_LOGGED = 20_000  # more logged changes than this: verifying and reading everything is as quick


@dataclass(frozen=True)
class ChangeState:
    count: int  # every watched table
    data_count: int  # the tables a grading's input is read from
    verified_at: int | None
    logged_from: int | None = None  # the count the observation log began at (None: it ended)
    logged_data_from: int | None = None  # the data count then

    @property
    def verified(self) -> bool:
        """Whether the logs were verified (or kept intact by phasewatch's own appends) at this count."""
        return self.verified_at == self.count

    @property
    def logged(self) -> bool:
        """Whether every change since the logs were last marked verified was to an
        observation, and the observation log holds each one."""
        return (
            self.verified_at is not None and self.logged_from == self.verified_at and self.logged_data_from is not None
        )


@dataclass(frozen=True)
class LoggedChanges:
    """The observations changed since the logs were last marked verified (all that changed)."""

    data_count: int  # the data count at the mark: a grading input kept then is patched, not read again
    altered: frozenset[int]  # updated or deleted: the seals resting on them are checked again
    models: frozenset[int]  # whose figures changed (before or after): their releases are read again


def change_state(session: Session, *, lock: bool = False) -> ChangeState | None:
    """The change count and the count the logs last verified at (``None``: the row is gone,
    so nothing can be trusted). With ``lock``, first take the write lock that the triggers
    need, so no other writer changes a watched table until this transaction ends: on
    SQLite a no-op update (which begins the write), on PostgreSQL ``SELECT … FOR UPDATE``."""
    query = select(
        RegistryState.change_count,
        RegistryState.data_count,
        RegistryState.verified_at,
        RegistryState.logged_from,
        RegistryState.logged_data_from,
    ).where(RegistryState.id == 1)
    if lock:
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        else:
            session.execute(
                update(RegistryState).where(RegistryState.id == 1).values(change_count=RegistryState.change_count)
            )
    row = session.execute(query).first()
    return None if row is None else ChangeState(*row)


def logged_changes(session: Session, state: ChangeState | None, *, limit: int = MAX_LOGGED) -> LoggedChanges | None:
    """What changed since the logs were last marked verified, where the observation log
    says it all (:attr:`ChangeState.logged`) in at most ``limit`` rows; else ``None``."""
    if state is None or not state.logged or state.logged_data_from is None:
        return None
    query = select(ObservationChange.operation, ObservationChange.observation_id, ObservationChange.model_id)
    rows = session.execute(query.limit(limit + 1)).all()
    if len(rows) > limit:
        return None
    altered = frozenset(obs_id for operation, obs_id, _ in rows if operation != "I")
    return LoggedChanges(state.logged_data_from, altered, frozenset(model_id for _, _, model_id in rows))


def vouch(session: Session, state: ChangeState) -> None:
    """The logs were intact at ``state`` (read under the lock: :func:`change_state` with
    ``lock``) and this transaction has only appended since: mark them verified at the count
    after its own changes, and empty the observation log (it begins again here). If they
    were not marked at ``state``, the cached grading inputs are dropped first: they were
    written while nothing vouched for them."""
    if not state.verified:
        session.execute(delete(GradingInputCache))
    session.flush()  # pending rows fire their triggers first
    session.execute(delete(ObservationChange))
    session.execute(
        update(RegistryState)
        .where(RegistryState.id == 1)
        .values(
            verified_at=RegistryState.change_count,
            logged_from=RegistryState.change_count,
            logged_data_from=RegistryState.data_count,
        )
    )


def record_verified(session: Session, count: int) -> bool:
    """Record that the logs verified at ``count``, if the registry has not changed since
    (takes the lock). Whether it was recorded."""
    state = change_state(session, lock=True)
    if state is None or state.count != count:
        return False
    vouch(session, state)
    return True


def end_log(session: Session) -> None:
    """End the observation log (a change too large for it to be worth reading: an import of
    more than :data:`MAX_LOGGED` figures); the next grading verifies everything again."""
    session.execute(
        update(RegistryState)
        .where(RegistryState.id == 1, RegistryState.logged_from.is_not(None))
        .values(logged_from=None)
    )
