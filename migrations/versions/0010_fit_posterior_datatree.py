"""Each stored fit keeps its posterior as an ArviZ DataTree with log-likelihood.

``fits.posterior_tree`` holds the DataTree (groups posterior, sample_stats,
log_likelihood, observed_data, constant_data) as a Zarr v3 store in a zip; fits
stored before this revision have none (NULL) and are read as before.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 03:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("posterior_tree", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fits", schema=None) as batch_op:
        batch_op.drop_column("posterior_tree")
