"""Stored joint coupling matrices: `fit-matrix` keeps its fit for `fits matrix`, the report and the dashboard.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupling_matrix_fits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("panel", sa.String(length=100), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("min_models", sa.Integer(), nullable=False),
        sa.Column("benchmarks", sa.String(length=2000), nullable=False),
        sa.Column("n_models", sa.Integer(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("diagnostics", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("observations", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupling_matrix_fits")),
    )


def downgrade() -> None:
    op.drop_table("coupling_matrix_fits")
