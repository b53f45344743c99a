"""The registry's change count: triggers count every change to the tables a grading reads.

``registry_state`` holds one row: ``change_count`` (raised by triggers on every insert,
update and delete of the watched tables, by any writer, raw SQL included) and
``verified_at`` (the count at which the prediction logs last verified). A grading trusts
an earlier verification only while the two are equal. On SQLite the triggers are per row;
on PostgreSQL per statement, through one trigger function.

A later migration that rebuilds a watched table (SQLite batch mode copies the table and
drops the old one, with its triggers) must create that table's triggers again;
``tests/registry/test_changes.py`` checks every watched table has them at head.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never changes); phasewatch.registry.changes.WATCHED_TABLES must equal it.
WATCHED = (
    "benchmarks",
    "labs",
    "models",
    "observations",
    "panel_observations",
    "panels",
    "prediction_gradings",
    "predictions",
)
EVENTS = ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE registry_state SET change_count = change_count + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_count", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    op.execute("INSERT INTO registry_state (id, change_count, verified_at) VALUES (1, 0, NULL)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION registry_change_count() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER registry_change_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION registry_change_count()"
            )
    else:
        for table in WATCHED:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER registry_change_{table}_{event.lower()} AFTER {event} ON {table} BEGIN {BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS registry_change_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS registry_change_count()")
    else:
        for table in WATCHED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS registry_change_{table}_{event.lower()}")
    op.drop_table("registry_state")
