"""Tamper-evident prediction logs: a genesis link and unique prev_hash (no forks),
retrodictions, and sealed gradings (chained, with the observations they used) that
are never cascaded away.

Existing gradings are sealed as they stand (their observations unknown: an empty
list); the first prediction row's NULL link becomes the genesis hash, which the
hash formula reads as empty, so every existing prediction hash still verifies.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 00:40:00
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # frozen here: registry/predictions.py GENESIS


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(content: dict, prev: str) -> str:
    prev_text = "" if prev == GENESIS else prev
    return hashlib.sha256((prev_text + "\n" + _canonical(content)).encode()).hexdigest()


def _day(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


STASH = "SELECT id, prediction_id, as_of, state, panels, evidence, graded_at FROM prediction_gradings ORDER BY id"


def _stash(conn) -> list:
    """Take the gradings out while ``predictions`` is rebuilt: on SQLite a batch rebuild drops
    the table, which would cascade them away (or, under RESTRICT, fail)."""
    rows = conn.execute(sa.text(STASH)).all()
    conn.execute(sa.text("DELETE FROM prediction_gradings"))
    return rows


def _evidence(value):
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    stashed = _stash(conn)
    conn.execute(sa.text("UPDATE predictions SET prev_hash = :g WHERE prev_hash IS NULL"), {"g": GENESIS})
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retrodiction", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_predictions_prev_hash"), ["prev_hash"])

    with op.batch_alter_table("prediction_gradings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prediction_hash", sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column("reason", sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column("observations", sa.JSON(), nullable=False))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_prediction_gradings_prev_hash"), ["prev_hash"])
        batch_op.create_unique_constraint(batch_op.f("uq_prediction_gradings_content_hash"), ["content_hash"])
        batch_op.drop_constraint("fk_prediction_gradings_prediction_id_predictions", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_prediction_gradings_prediction_id_predictions"),
            "predictions",
            ["prediction_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    hashes = dict(conn.execute(sa.text("SELECT id, content_hash FROM predictions")).all())
    insert = sa.text(
        "INSERT INTO prediction_gradings (id, prediction_id, prediction_hash, as_of, state, reason, panels, evidence, "
        "observations, prev_hash, content_hash, graded_at) VALUES (:id, :pid, :p, :as_of, :state, '', :panels, :e, :o, "
        ":prev, :h, :graded_at)"
    ).bindparams(sa.bindparam("e", type_=sa.JSON()), sa.bindparam("o", type_=sa.JSON()))
    prev = GENESIS
    for row in stashed:  # sealed as they stand; which observations they used is unknown
        evidence = _evidence(row.evidence)
        content = {
            "prediction": hashes[row.prediction_id],
            "as_of": _day(row.as_of),
            "state": row.state,
            "reason": "",
            "panels": row.panels,
            "evidence": evidence,
            "observations": [],
        }
        digest = _hash(content, prev)
        conn.execute(
            insert,
            {
                "id": row.id,
                "pid": row.prediction_id,
                "p": hashes[row.prediction_id],
                "as_of": row.as_of,
                "state": row.state,
                "panels": row.panels,
                "e": evidence,
                "o": [],
                "prev": prev,
                "h": digest,
                "graded_at": row.graded_at,
            },
        )
        prev = digest


def downgrade() -> None:
    conn = op.get_bind()
    stashed = _stash(conn)
    with op.batch_alter_table("prediction_gradings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_prediction_gradings_prediction_id_predictions", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_prediction_gradings_prediction_id_predictions"),
            "predictions",
            ["prediction_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(batch_op.f("uq_prediction_gradings_content_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_prediction_gradings_prev_hash"), type_="unique")
        for name in ("content_hash", "prev_hash", "observations", "reason", "prediction_hash"):
            batch_op.drop_column(name)
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_predictions_prev_hash"), type_="unique")
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.drop_column("retrodiction")
    conn.execute(sa.text("UPDATE predictions SET prev_hash = NULL WHERE prev_hash = :g"), {"g": GENESIS})
    insert = sa.text(
        "INSERT INTO prediction_gradings (id, prediction_id, as_of, state, panels, evidence, graded_at) "
        "VALUES (:id, :pid, :as_of, :state, :panels, :e, :graded_at)"
    ).bindparams(sa.bindparam("e", type_=sa.JSON()))
    for row in stashed:
        conn.execute(
            insert,
            {
                "id": row.id,
                "pid": row.prediction_id,
                "as_of": row.as_of,
                "state": row.state,
                "panels": row.panels,
                "e": _evidence(row.evidence),
                "graded_at": row.graded_at,
            },
        )
