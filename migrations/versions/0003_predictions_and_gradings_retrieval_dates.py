"""Predictions (append-only, hash-chained) and their gradings; retrieval dates on bundled observations.

Observation fingerprints no longer include when a figure was read, so the same
figure read on two dates is one observation; bundled observations get the dates
their sources held them (see registry/seed.py PANELS), which grading as of a
date relies on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:29:23.795935
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen here (migrations must not change when the app does): registry/seed.py PANELS.
BUNDLED_RETRIEVED_ON = {
    "sourced-2026-11": "2026-11-23",
    "base-families-2026-11": "2026-11-23",
    "growing-pains-34": "2026-05-04",
    "post-cutoff-2026-04": "2026-05-12",
    "lying-63": "2026-05-06",
    "lying-collected": "2026-05-06",
}
SELECT_ROWS = (
    "SELECT id, model_id, benchmark_id, value, stderr, setting, source_url, reported_by, retrieved_on "
    "FROM observations ORDER BY id"
)


def _fingerprint(row, with_retrieved: bool) -> str:
    parts = [
        str(row.model_id),
        str(row.benchmark_id),
        f"{row.value:.6f}",
        "" if row.stderr is None else f"{row.stderr:.6f}",
        row.setting or "",
        row.source_url or "",
        str(row.reported_by),
    ]
    if with_retrieved:
        retrieved = row.retrieved_on
        parts.append(retrieved.isoformat() if hasattr(retrieved, "isoformat") else (retrieved or ""))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _rehash(with_retrieved: bool) -> None:
    """Recompute every fingerprint; rows that become identical are merged into the oldest."""
    conn = op.get_bind()
    keep: dict[str, int] = {}
    new: dict[int, str] = {}
    for row in conn.execute(sa.text(SELECT_ROWS)):
        fp = _fingerprint(row, with_retrieved)
        if fp in keep:
            conn.execute(
                sa.text(
                    "UPDATE panel_observations SET observation_id = :keep WHERE observation_id = :dup AND panel_id NOT IN "
                    "(SELECT panel_id FROM panel_observations WHERE observation_id = :keep)"
                ),
                {"keep": keep[fp], "dup": row.id},
            )
            conn.execute(sa.text("DELETE FROM panel_observations WHERE observation_id = :dup"), {"dup": row.id})
            conn.execute(sa.text("DELETE FROM observations WHERE id = :dup"), {"dup": row.id})
        else:
            keep[fp] = row.id
            new[row.id] = fp
    for row_id, fp in new.items():
        conn.execute(sa.text("UPDATE observations SET fingerprint = :fp WHERE id = :id"), {"fp": fp, "id": row_id})


BUNDLED_IDS = (
    "SELECT po.observation_id FROM panel_observations po JOIN panels p ON p.id = po.panel_id WHERE p.name = :panel"
)


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("criterion", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["predictions.id"], name=op.f("fk_predictions_supersedes_id_predictions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_predictions_content_hash")),
        sa.UniqueConstraint("key", "revision", name=op.f("uq_predictions_key")),
    )
    op.create_table(
        "prediction_gradings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("panels", sa.String(length=400), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_prediction_gradings_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_gradings")),
    )
    with op.batch_alter_table("prediction_gradings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prediction_gradings_prediction_id"), ["prediction_id"], unique=False)

    conn = op.get_bind()
    for panel, day in BUNDLED_RETRIEVED_ON.items():
        conn.execute(
            sa.text(
                f"UPDATE observations SET retrieved_on = :day WHERE retrieved_on IS NULL AND id IN ({BUNDLED_IDS})"
            ),
            {"day": day, "panel": panel},
        )
    _rehash(with_retrieved=False)


def downgrade() -> None:
    conn = op.get_bind()
    for panel, day in BUNDLED_RETRIEVED_ON.items():
        conn.execute(
            sa.text(f"UPDATE observations SET retrieved_on = NULL WHERE retrieved_on = :day AND id IN ({BUNDLED_IDS})"),
            {"day": day, "panel": panel},
        )
    _rehash(with_retrieved=True)
    with op.batch_alter_table("prediction_gradings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_gradings_prediction_id"))

    op.drop_table("prediction_gradings")
    op.drop_table("predictions")
