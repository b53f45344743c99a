"""Model tiers: a lab's product tier (Opus, Sonnet, Haiku, Pro, Flash, mini) on each model.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("models", sa.Column("tier", sa.String(length=50), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite >= 3.35): a batch copy would drop and
    # recreate `models`, which the foreign keys of its dependants refuse.
    op.drop_column("models", "tier")
