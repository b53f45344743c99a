"""Stored coupling fits (with posterior draws), release verdicts and coverage checks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:49:20.380824
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coverage_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("panels", sa.String(length=400), nullable=False),
        sa.Column("held_out", sa.String(length=400), nullable=True),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column("x_benchmark", sa.String(length=64), nullable=False),
        sa.Column("y_benchmark", sa.String(length=64), nullable=False),
        sa.Column("nominal", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_checks")),
    )
    op.create_table(
        "fits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("panels", sa.String(length=400), nullable=False),
        sa.Column("x_benchmark", sa.String(length=64), nullable=False),
        sa.Column("y_benchmark", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("n_models", sa.Integer(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("diagnostics", sa.JSON(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("ols", sa.JSON(), nullable=False),
        sa.Column("posterior", sa.LargeBinary(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fits")),
    )
    op.create_table(
        "release_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("fit_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("h_mean", sa.Float(), nullable=False),
        sa.Column("h_low", sa.Float(), nullable=False),
        sa.Column("h_high", sa.Float(), nullable=False),
        sa.Column("predicted_low", sa.Float(), nullable=False),
        sa.Column("predicted_high", sa.Float(), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.Column("lab_known", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fit_id"], ["fits.id"], name=op.f("fk_release_verdicts_fit_id_fits"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_release_verdicts_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_verdicts")),
        sa.UniqueConstraint("model_id", "fit_id", name=op.f("uq_release_verdicts_model_id")),
    )
    with op.batch_alter_table("release_verdicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_verdicts_fit_id"), ["fit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_release_verdicts_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("release_verdicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_verdicts_model_id"))
        batch_op.drop_index(batch_op.f("ix_release_verdicts_fit_id"))

    op.drop_table("release_verdicts")
    op.drop_table("fits")
    op.drop_table("coverage_checks")
