"""Steering queue on an engine: backoff, per-job timeouts, Procrastinate on PostgreSQL; labs' Hub organisations.

On PostgreSQL this installs Procrastinate's own schema (its bundled ``schema.sql``)
in a separate ``procrastinate`` schema, so the registry's tables and the engine's
never mix, and moves every queued or running steering job into it. SQLite keeps
the table-based queue in ``steering_jobs``.

Like every revision it imports no phasewatch code: the engine's schema name and the
queueing-lock format are frozen here as they were when it was written
(tests/registry/test_jobs_migration.py checks they still agree with
``phasewatch.registry.queue``).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01 00:50:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENGINE_SCHEMA = "procrastinate"  # the PostgreSQL schema Procrastinate's tables live in


def queueing_lock(hf_repo: str, revision: str, config_hash: str) -> str:
    """One waiting engine job per (repo, revision, config): the lock's format in 0008."""
    return f"steering:{hf_repo}@{revision}#{config_hash}"


def engine_schema_sql() -> str:
    """Procrastinate's own schema, as the installed version ships it."""
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def upgrade() -> None:
    with op.batch_alter_table("steering_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("timeout_seconds", sa.Integer(), server_default="3600", nullable=False))
        batch_op.add_column(sa.Column("engine_job_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "lab_hub_orgs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_lab_hub_orgs_lab_id_labs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_hub_orgs")),
        sa.UniqueConstraint("org", name=op.f("uq_lab_hub_orgs_org")),
    )
    with op.batch_alter_table("lab_hub_orgs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lab_hub_orgs_lab_id"), ["lab_id"], unique=False)
    op.create_table(
        "hub_repos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("hub_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("license", sa.String(length=100), nullable=True),
        sa.Column("params_total", sa.BigInteger(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["steering_jobs.id"], name=op.f("fk_hub_repos_job_id_steering_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_hub_repos_lab_id_labs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_hub_repos_model_id_models"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_repos")),
        sa.UniqueConstraint("repo", name=op.f("uq_hub_repos_repo")),
    )
    with op.batch_alter_table("hub_repos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_repos_lab_id"), ["lab_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_repos_model_id"), ["model_id"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {ENGINE_SCHEMA}")
    op.execute(f"SET LOCAL search_path TO {ENGINE_SCHEMA}, public")
    bind.exec_driver_sql(engine_schema_sql().replace("%", "%%"))  # the driver reads % as a placeholder
    # Existing jobs: queued and running (an old lease) go into the engine, queued again.
    rows = bind.execute(
        sa.text(
            "SELECT id, hf_repo, revision, config_hash FROM steering_jobs "
            "WHERE status IN ('queued', 'running') ORDER BY id"
        )
    ).all()
    for row in rows:
        engine_id = bind.execute(
            sa.text(
                "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW('steering', 'steering.evaluate', 0, NULL, "
                ":qlock, CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]))"
            ),
            {
                "qlock": queueing_lock(row.hf_repo, row.revision, row.config_hash),
                "args": json.dumps({"job_id": row.id}),
            },
        ).scalar_one()
        bind.execute(
            sa.text(
                "UPDATE steering_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, "
                "engine_job_id = :e WHERE id = :id"
            ),
            {"e": engine_id, "id": row.id},
        )
    op.execute("SET LOCAL search_path TO public")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Jobs the engine still held go back to the table queue as queued.
        op.execute(
            "UPDATE steering_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE status = 'running'"
        )
        op.execute(f"DROP SCHEMA IF EXISTS {ENGINE_SCHEMA} CASCADE")
    with op.batch_alter_table("hub_repos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_repos_model_id"))
        batch_op.drop_index(batch_op.f("ix_hub_repos_lab_id"))
    op.drop_table("hub_repos")
    with op.batch_alter_table("lab_hub_orgs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_hub_orgs_lab_id"))
    op.drop_table("lab_hub_orgs")
    with op.batch_alter_table("steering_jobs", schema=None) as batch_op:
        batch_op.drop_column("engine_job_id")
        batch_op.drop_column("timeout_seconds")
        batch_op.drop_column("not_before")
