"""Indexes for the registry at 100,000 observations: models by release date and by parent.

`models list --since/--until` filters on ``models.release_date``, and `models show`
lists a model's variants by ``models.variant_of_id`` (also the column a model's
deletion checks): without these both scan every model.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_release_date"), ["release_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_models_variant_of_id"), ["variant_of_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_variant_of_id"))
        batch_op.drop_index(batch_op.f("ix_models_release_date"))
