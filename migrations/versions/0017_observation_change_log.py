"""Which observations changed since the prediction logs were last known intact.

Migration 0016 counts changes; this one says *what* changed, so that a grading after a
change phasewatch did not make (raw SQL, another program) need not verify everything and
read every figure again:

- ``observation_changes``: one row per inserted, updated or deleted observation (its id and
  model; an update logs the row before and after), written by triggers, whoever writes;
- ``registry_state.logged_from``: the change count at which that log was last emptied
  (when the logs were marked verified, :func:`phasewatch.registry.changes.vouch`), or
  ``NULL`` once any other watched table changed (the log then no longer says all that
  changed); ``registry_state.logged_data_from``: the data count then.

On SQLite the triggers are per row; on PostgreSQL per statement, reading the statement's
transition tables (one trigger per event: PostgreSQL allows transition tables only on
single-event triggers), so that a statement that changed no row (a cascade that found
nothing to delete) ends nothing. On SQLite (one writer at a time) an ended log is not
written to until it begins again; on PostgreSQL it is, since a writer cannot tell whether
a concurrent one is about to begin it again. The log starts empty and untrusted (``logged_from`` is ``NULL``)
until the next verification.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never changes); phasewatch.registry.changes must agree.
OTHERS = (
    "benchmarks",
    "labs",
    "models",
    "panel_observations",
    "panels",
    "predictions",
    "prediction_gradings",
    "grading_inputs",
)  # a change to any of these makes the log incomplete
FORGET = "UPDATE registry_state SET logged_from = NULL WHERE id = 1 AND logged_from IS NOT NULL"
LOGGING = "(SELECT logged_from FROM registry_state WHERE id = 1) IS NOT NULL"  # SQLite: one writer at a time
LOG = "INSERT INTO observation_changes (operation, observation_id, model_id)"
SQLITE_LOGS = {
    "insert": f"{LOG} VALUES ('I', NEW.id, NEW.model_id)",
    "update": f"{LOG} VALUES ('U', OLD.id, OLD.model_id); {LOG} VALUES ('U', NEW.id, NEW.model_id)",
    "delete": f"{LOG} VALUES ('D', OLD.id, OLD.model_id)",
}
POSTGRES_LOGS = {  # event -> (REFERENCING clause, what the function inserts)
    "insert": ("NEW TABLE AS added", f"{LOG} SELECT 'I', id, model_id FROM added"),
    "update": (
        "OLD TABLE AS before NEW TABLE AS after",
        f"{LOG} SELECT 'U', id, model_id FROM before UNION ALL SELECT 'U', id, model_id FROM after",
    ),
    "delete": ("OLD TABLE AS removed", f"{LOG} SELECT 'D', id, model_id FROM removed"),
}


def upgrade() -> None:
    op.create_table(
        "observation_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=1), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_changes")),
    )
    op.add_column("registry_state", sa.Column("logged_from", sa.BigInteger(), nullable=True))
    op.add_column("registry_state", sa.Column("logged_data_from", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION registry_forget_log() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {FORGET}; RETURN NULL; END $$"
        )
        op.execute(  # a statement that changed no row (a cascade that found none) changes nothing
            "CREATE FUNCTION registry_forget_log_rows() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF EXISTS (SELECT 1 FROM changed) THEN {FORGET}; END IF; RETURN NULL; END $$"
        )
        for table in OTHERS:
            for event in SQLITE_LOGS:
                side = "OLD" if event == "delete" else "NEW"
                op.execute(
                    f"CREATE TRIGGER registry_forget_{table}_{event} AFTER {event.upper()} ON {table} "
                    f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION registry_forget_log_rows()"
                )
        for table in (*OTHERS, "observations"):
            op.execute(
                f"CREATE TRIGGER registry_forget_{table}_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION registry_forget_log()"
            )
        for event, (referencing, insert) in POSTGRES_LOGS.items():
            op.execute(
                f"CREATE FUNCTION registry_log_observation_{event}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {insert}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER registry_log_observation_{event} AFTER {event.upper()} ON observations "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION registry_log_observation_{event}()"
            )
    else:
        for table in OTHERS:
            for event in SQLITE_LOGS:
                op.execute(
                    f"CREATE TRIGGER registry_forget_{table}_{event} AFTER {event.upper()} ON {table} BEGIN {FORGET}; END"
                )
        for event, insert in SQLITE_LOGS.items():  # once the log has ended, nothing more is written to it
            op.execute(
                f"CREATE TRIGGER registry_log_observation_{event} AFTER {event.upper()} ON observations "
                f"WHEN {LOGGING} BEGIN {insert}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in POSTGRES_LOGS:
            op.execute(f"DROP TRIGGER IF EXISTS registry_log_observation_{event} ON observations")
            op.execute(f"DROP FUNCTION IF EXISTS registry_log_observation_{event}()")
        for table in (*OTHERS, "observations"):
            for event in (*SQLITE_LOGS, "truncate"):
                op.execute(f"DROP TRIGGER IF EXISTS registry_forget_{table}_{event} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS registry_forget_log_rows()")
        op.execute("DROP FUNCTION IF EXISTS registry_forget_log()")
    else:
        for event in SQLITE_LOGS:
            op.execute(f"DROP TRIGGER IF EXISTS registry_log_observation_{event}")
            for table in OTHERS:
                op.execute(f"DROP TRIGGER IF EXISTS registry_forget_{table}_{event}")
    # Not batch mode: copying registry_state would rename a table the 0016 triggers name.
    op.drop_column("registry_state", "logged_data_from")
    op.drop_column("registry_state", "logged_from")
    op.drop_table("observation_changes")
