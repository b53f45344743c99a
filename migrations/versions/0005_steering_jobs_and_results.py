"""Steering jobs (a leased work queue) and their results.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 01:00:40.562182
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "steering_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("hf_repo", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.String(length=100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_steering_jobs_status")),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_steering_jobs_model_id_models"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steering_jobs")),
        sa.UniqueConstraint("hf_repo", "revision", "config_hash", name=op.f("uq_steering_jobs_hf_repo")),
    )
    with op.batch_alter_table("steering_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_steering_jobs_model_id"), ["model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_steering_jobs_status"), ["status"], unique=False)

    op.create_table(
        "steering_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["steering_jobs.id"], name=op.f("fk_steering_results_job_id_steering_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_steering_results_model_id_models"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steering_results")),
        sa.UniqueConstraint("job_id", name=op.f("uq_steering_results_job_id")),
    )
    with op.batch_alter_table("steering_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_steering_results_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("steering_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steering_results_model_id"))

    op.drop_table("steering_results")
    with op.batch_alter_table("steering_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steering_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_steering_jobs_model_id"))

    op.drop_table("steering_jobs")
