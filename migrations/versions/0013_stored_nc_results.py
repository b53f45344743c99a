"""Stored N_c bootstraps: `phase nc` and `phase reproduce` keep their result for the report.

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-01 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nc_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel", sa.String(length=100), nullable=False),
        sa.Column("families", sa.String(length=400), nullable=False),
        sa.Column("resamples", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("legacy_rng", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("quadratic", sa.JSON(), nullable=False),
        sa.Column("gamma", sa.JSON(), nullable=False),
        sa.Column("command", sa.String(length=100), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nc_results")),
        sa.UniqueConstraint("panel", "families", "resamples", "seed", "legacy_rng", name=op.f("uq_nc_results_panel")),
    )


def downgrade() -> None:
    op.drop_table("nc_results")
