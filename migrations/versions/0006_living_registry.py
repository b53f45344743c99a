"""A living registry: fit inputs, edit history, retractions, benchmark settings, lab founding dates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fit_observations",
        sa.Column("fit_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fit_id"], ["fits.id"], name=op.f("fk_fit_observations_fit_id_fits"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_fit_observations_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fit_id", "observation_id", name=op.f("pk_fit_observations")),
    )
    with op.batch_alter_table("fit_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fit_observations_observation_id"), ["observation_id"], unique=False)
    op.create_table(
        "model_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("edited_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_edits_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_edits")),
    )
    with op.batch_alter_table("model_edits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_edits_model_id"), ["model_id"], unique=False)
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("founded", sa.Date(), nullable=True))
    with op.batch_alter_table("benchmarks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("standard_setting", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("nonstandard_markers", sa.Text(), nullable=True))
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retracted_on", sa.Date(), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE … DROP COLUMN (SQLite >= 3.35): a batch copy would drop tables other rows reference
    op.drop_column("observations", "retracted_on")
    op.drop_column("benchmarks", "nonstandard_markers")
    op.drop_column("benchmarks", "standard_setting")
    op.drop_column("labs", "founded")
    with op.batch_alter_table("model_edits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_edits_model_id"))
    op.drop_table("model_edits")
    with op.batch_alter_table("fit_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fit_observations_observation_id"))
    op.drop_table("fit_observations")
