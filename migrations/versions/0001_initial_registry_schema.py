"""Initial registry schema: labs, models, benchmarks, observations with provenance, panels.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 23:30:15.824166
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmarks")),
        sa.UniqueConstraint("key", name=op.f("uq_benchmarks_key")),
    )
    op.create_table(
        "labs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
        sa.UniqueConstraint("name", name=op.f("uq_labs_name")),
    )
    op.create_table(
        "panels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("licence", sa.String(length=200), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panels")),
        sa.UniqueConstraint("name", name=op.f("uq_panels_name")),
    )
    op.create_table(
        "lab_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_lab_names_lab_id_labs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_names")),
        sa.UniqueConstraint("name_key", name=op.f("uq_lab_names_name_key")),
    )
    with op.batch_alter_table("lab_names", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lab_names_lab_id"), ["lab_id"], unique=False)

    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("release_date_precision", sa.String(length=8), nullable=True),
        sa.Column("release_date_source", sa.Text(), nullable=True),
        sa.Column("open_weight", sa.Boolean(), nullable=True),
        sa.Column("hf_repo", sa.String(length=200), nullable=True),
        sa.Column("hf_revision", sa.String(length=100), nullable=True),
        sa.Column("params_total_b", sa.Float(), nullable=True),
        sa.Column("params_active_b", sa.Float(), nullable=True),
        sa.Column("d_model", sa.Integer(), nullable=True),
        sa.Column("n_layers", sa.Integer(), nullable=True),
        sa.Column("n_heads", sa.Integer(), nullable=True),
        sa.Column("variant_of_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('frontier', 'base')", name=op.f("ck_models_kind")),
        sa.CheckConstraint(
            "release_date_precision IS NULL OR release_date_precision IN ('day', 'month', 'year')",
            name=op.f("ck_models_release_date_precision"),
        ),
        sa.CheckConstraint("params_active_b IS NULL OR params_active_b > 0", name=op.f("ck_models_params_active_b")),
        sa.CheckConstraint("params_total_b IS NULL OR params_total_b > 0", name=op.f("ck_models_params_total_b")),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_models_lab_id_labs")),
        sa.ForeignKeyConstraint(["variant_of_id"], ["models.id"], name=op.f("fk_models_variant_of_id_models")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_lab_id"), ["lab_id"], unique=False)

    op.create_table(
        "model_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_names_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_names")),
        sa.UniqueConstraint("name_key", name=op.f("uq_model_names_name_key")),
    )
    with op.batch_alter_table("model_names", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_names_model_id"), ["model_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("benchmark_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("setting", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.String(length=16), nullable=False),
        sa.Column("retrieved_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("reported_by IN ('lab', 'third_party', 'paper')", name=op.f("ck_observations_reported_by")),
        sa.CheckConstraint("stderr IS NULL OR stderr >= 0", name=op.f("ck_observations_stderr")),
        sa.CheckConstraint("value >= 0 AND value <= 100", name=op.f("ck_observations_value_percent")),
        sa.ForeignKeyConstraint(
            ["benchmark_id"], ["benchmarks.id"], name=op.f("fk_observations_benchmark_id_benchmarks")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_observations_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_observations_fingerprint")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_benchmark_id"), ["benchmark_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_observations_model_id"), ["model_id"], unique=False)

    op.create_table(
        "panel_observations",
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("subset", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_panel_observations_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["panel_id"], ["panels.id"], name=op.f("fk_panel_observations_panel_id_panels"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("panel_id", "observation_id", name=op.f("pk_panel_observations")),
    )
    with op.batch_alter_table("panel_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_observations_observation_id"), ["observation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("panel_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_observations_observation_id"))

    op.drop_table("panel_observations")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_model_id"))
        batch_op.drop_index(batch_op.f("ix_observations_benchmark_id"))

    op.drop_table("observations")
    with op.batch_alter_table("model_names", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_names_model_id"))

    op.drop_table("model_names")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_lab_id"))

    op.drop_table("models")
    with op.batch_alter_table("lab_names", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_names_lab_id"))

    op.drop_table("lab_names")
    op.drop_table("panels")
    op.drop_table("labs")
    op.drop_table("benchmarks")
