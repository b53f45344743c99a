"""Panel models: the parameter count (and label) each source used for a model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:41:09.914330
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "panel_models",
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("params_b", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_panel_models_model_id_models"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["panel_id"], ["panels.id"], name=op.f("fk_panel_models_panel_id_panels"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("panel_id", "model_id", name=op.f("pk_panel_models")),
    )
    with op.batch_alter_table("panel_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_models_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("panel_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_models_model_id"))

    op.drop_table("panel_models")
