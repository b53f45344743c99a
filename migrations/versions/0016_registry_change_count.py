"""The registry's change counts, kept by triggers, and the cache of grading inputs they key.

``registry_state`` holds one row:

- ``change_count``: raised by triggers on every insert, update and delete of the watched
  tables, by any writer, raw SQL included;
- ``data_count``: the same for the tables a grading's input is read from (every watched
  table but ``prediction_gradings`` and ``grading_inputs``);
- ``verified_at``: the change count at which the prediction logs last verified.

``grading_inputs`` keeps the releases a grading read and the grades they gave, by data
count, date and panels, so the next grading of unchanged data need not read or evaluate
them again. On SQLite the triggers are
per row; on PostgreSQL per statement, through two trigger functions.

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

# Frozen here (a migration never changes); phasewatch.registry.changes must agree.
DATA = ("benchmarks", "labs", "models", "observations", "panel_observations", "panels", "predictions")
LOGS = ("prediction_gradings", "grading_inputs")  # counted in change_count only
EVENTS = ("INSERT", "UPDATE", "DELETE")
BUMP_DATA = "UPDATE registry_state SET change_count = change_count + 1, data_count = data_count + 1 WHERE id = 1"
BUMP_LOGS = "UPDATE registry_state SET change_count = change_count + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_count", sa.BigInteger(), nullable=False),
        sa.Column("data_count", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    op.create_table(
        "grading_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data_count", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("panels", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("grades", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_inputs")),
    )
    op.execute("INSERT INTO registry_state (id, change_count, data_count, verified_at) VALUES (1, 0, 0, NULL)")
    if op.get_bind().dialect.name == "postgresql":
        for name, bump in (("registry_data_change", BUMP_DATA), ("registry_log_change", BUMP_LOGS)):
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$"
            )
        for table in DATA + LOGS:
            function = "registry_data_change" if table in DATA else "registry_log_change"
            op.execute(
                f"CREATE TRIGGER registry_change_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    else:
        for table in DATA + LOGS:
            bump = BUMP_DATA if table in DATA else BUMP_LOGS
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER registry_change_{table}_{event.lower()} AFTER {event} ON {table} BEGIN {bump}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in DATA + LOGS:
            op.execute(f"DROP TRIGGER IF EXISTS registry_change_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS registry_data_change()")
        op.execute("DROP FUNCTION IF EXISTS registry_log_change()")
    else:
        for table in DATA + LOGS:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS registry_change_{table}_{event.lower()}")
    op.drop_table("grading_inputs")
    op.drop_table("registry_state")
