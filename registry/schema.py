"""The registry's tables as a typed SQLAlchemy 2 ORM.

The schema changes only through Alembic revisions in ``migrations/``; a test
checks that the revisions and these classes agree.

Names are unique through the ``*_names`` tables: every lab and model has its
display name and its aliases there, keyed case-insensitively, so one database
constraint (not a read-then-write check) keeps "Google" and "Google DeepMind"
one lab and stops two writers from logging the same release twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import JSON

from phasewatch.registry.enums import JobStatus, ModelKind, ReportedBy, sql_in

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Lab(Base):
    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    founded: Mapped[dt.date | None] = mapped_column(Date)  # releases dated earlier are refused
    created_at: Mapped[dt.datetime] = _created_at()

    names: Mapped[list[LabName]] = relationship(back_populates="lab", cascade="all, delete-orphan")
    models: Mapped[list[Model]] = relationship(back_populates="lab")

    @property
    def aliases(self) -> list[str]:
        return sorted(n.name for n in self.names if n.name != self.name)


class LabName(Base):
    """A lab's display name or one of its aliases."""

    __tablename__ = "lab_names"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)

    lab: Mapped[Lab] = relationship(back_populates="names")


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint(sql_in("kind", ModelKind), name="kind"),
        CheckConstraint(
            "release_date_precision IS NULL OR release_date_precision IN ('day', 'month', 'year')",
            name="release_date_precision",
        ),
        CheckConstraint("params_total_b IS NULL OR params_total_b > 0", name="params_total_b"),
        CheckConstraint("params_active_b IS NULL OR params_active_b > 0", name="params_active_b"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    family: Mapped[str | None] = mapped_column(String(100))
    # The lab's product tier (Opus, Sonnet, Haiku, Pro, Flash, mini): a tier change
    # is a change of weights, read apart from a lab's moves (docs/coupling.md).
    tier: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(16), default=ModelKind.FRONTIER)
    release_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    release_date_precision: Mapped[str | None] = mapped_column(String(8))
    release_date_source: Mapped[str | None] = mapped_column(Text)
    open_weight: Mapped[bool | None] = mapped_column(Boolean)
    hf_repo: Mapped[str | None] = mapped_column(String(200))
    hf_revision: Mapped[str | None] = mapped_column(String(100))
    params_total_b: Mapped[float | None] = mapped_column(Float)
    params_active_b: Mapped[float | None] = mapped_column(Float)
    d_model: Mapped[int | None] = mapped_column(Integer)
    n_layers: Mapped[int | None] = mapped_column(Integer)
    n_heads: Mapped[int | None] = mapped_column(Integer)
    variant_of_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created_at()

    lab: Mapped[Lab] = relationship(back_populates="models")
    names: Mapped[list[ModelName]] = relationship(back_populates="model", cascade="all, delete-orphan")
    variant_of: Mapped[Model | None] = relationship(remote_side=[id])
    observations: Mapped[list[Observation]] = relationship(back_populates="model")

    @property
    def aliases(self) -> list[str]:
        return sorted(n.name for n in self.names if n.name != self.name)


class ModelName(Base):
    """A model's display name or one of its aliases (e.g. the paper's spelling)."""

    __tablename__ = "model_names"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)

    model: Mapped[Model] = relationship(back_populates="names")


class Benchmark(Base):
    __tablename__ = "benchmarks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    standard_setting: Mapped[str | None] = mapped_column(Text)  # what the live panel accepts
    nonstandard_markers: Mapped[str | None] = mapped_column(Text)  # "|"-separated setting phrases it refuses


class Observation(Base):
    """One reported score of one model on one benchmark, with its provenance.

    Several observations of a model × benchmark may coexist (lab vs third party,
    different scaffolds); ``fingerprint`` makes re-loading the same figure a no-op.
    """

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint("value >= 0 AND value <= 100", name="value_percent"),
        CheckConstraint("stderr IS NULL OR stderr >= 0", name="stderr"),
        CheckConstraint(sql_in("reported_by", ReportedBy), name="reported_by"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id"), index=True)
    value: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    setting: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(16))
    retrieved_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    retracted_on: Mapped[dt.date | None] = mapped_column(Date)  # corrected: kept, but no live panel uses it
    created_at: Mapped[dt.datetime] = _created_at()

    model: Mapped[Model] = relationship(back_populates="observations")
    benchmark: Mapped[Benchmark] = relationship()


class Panel(Base):
    """A named selection of observations; frozen panels never change."""

    __tablename__ = "panels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(String(200))
    frozen: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created_at()

    members: Mapped[list[PanelObservation]] = relationship(back_populates="panel", cascade="all, delete-orphan")


class PanelObservation(Base):
    __tablename__ = "panel_observations"

    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    subset: Mapped[str | None] = mapped_column(String(64))

    panel: Mapped[Panel] = relationship(back_populates="members")
    observation: Mapped[Observation] = relationship()


class Fit(Base):
    """A stored coupling fit: what went in, how it was sampled, what came out.

    ``posterior`` holds the draws needed for predictions (numpy ``.npz``), so
    verdicts need neither a refit nor PyMC. A fit whose diagnostics fail is
    kept (and shown) but not ``accepted`` for verdicts unless the user insists.
    """

    __tablename__ = "fits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = _created_at()
    panels: Mapped[str] = mapped_column(String(400))
    x_benchmark: Mapped[str] = mapped_column(String(64))
    y_benchmark: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    n_models: Mapped[int] = mapped_column(Integer)
    versions: Mapped[dict] = mapped_column(JSON)
    diagnostics: Mapped[dict] = mapped_column(JSON)
    converged: Mapped[bool] = mapped_column(Boolean)
    accepted: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[dict] = mapped_column(JSON)
    ols: Mapped[dict] = mapped_column(JSON)
    posterior: Mapped[bytes] = mapped_column(LargeBinary)
    # the ArviZ DataTree with log_likelihood (Zarr store in a zip; models.coupling.tree_from_bytes); None before 0010
    posterior_tree: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    elapsed_s: Mapped[float] = mapped_column(Float)


class ReleaseVerdict(Base):
    """Where a logged release fell against a stored fit."""

    __tablename__ = "release_verdicts"
    __table_args__ = (UniqueConstraint("model_id", "fit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    fit_id: Mapped[int] = mapped_column(ForeignKey("fits.id", ondelete="CASCADE"), index=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    h_mean: Mapped[float] = mapped_column(Float)
    h_low: Mapped[float] = mapped_column(Float)
    h_high: Mapped[float] = mapped_column(Float)
    predicted_low: Mapped[float] = mapped_column(Float)
    predicted_high: Mapped[float] = mapped_column(Float)
    inside: Mapped[bool] = mapped_column(Boolean)
    lab_known: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = _created_at()

    model: Mapped[Model] = relationship()
    fit: Mapped[Fit] = relationship()


class CoverageCheck(Base):
    """Out-of-sample coverage of the 95 % predictive intervals (LOO, LFO, hold-out)."""

    __tablename__ = "coverage_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = _created_at()
    panels: Mapped[str] = mapped_column(String(400))
    held_out: Mapped[str | None] = mapped_column(String(400))
    method: Mapped[str] = mapped_column(String(200))
    x_benchmark: Mapped[str] = mapped_column(String(64))
    y_benchmark: Mapped[str] = mapped_column(String(64))
    nominal: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    inside: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict] = mapped_column(JSON)
    details: Mapped[list] = mapped_column(JSON)


class Prediction(Base):
    """A registered, timestamped prediction; append-only and hash-chained.

    A change is a new row (``revision`` + 1, ``supersedes_id``), never an UPDATE.
    ``content_hash`` = SHA-256 of the canonical content and ``prev_hash`` (the
    previous row's hash), so altering any row breaks the chain from there on.
    """

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("key", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text)
    criterion: Mapped[dict] = mapped_column(JSON)
    registered_at: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    probability: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    retrodiction: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the first row's is the genesis hash
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = _created_at()


class PredictionGrading(Base):
    """One grading of one prediction as of a date, stored when its state changes: the
    sealed audit trail. Its hash covers the prediction hash it graded, its state,
    evidence and the fingerprints of the observations it used, chained like predictions.
    """

    __tablename__ = "prediction_gradings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="RESTRICT"), index=True)
    prediction_hash: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    panels: Mapped[str] = mapped_column(String(400))
    evidence: Mapped[dict] = mapped_column(JSON)
    observations: Mapped[list] = mapped_column(JSON)  # [[observation id, content fingerprint], ...]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    graded_at: Mapped[dt.datetime] = _created_at()

    prediction: Mapped[Prediction] = relationship()


class PanelModel(Base):
    """What a panel's source said about a model beyond its scores: the parameter
    count it used (the paper's nominal N, not the counted one) and its label."""

    __tablename__ = "panel_models"

    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True, index=True)
    params_b: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(200))


class SteeringJob(Base):
    """A queued steering evaluation of one open-weight model; one per repo, revision and config."""

    __tablename__ = "steering_jobs"
    __table_args__ = (
        UniqueConstraint("hf_repo", "revision", "config_hash"),
        CheckConstraint(sql_in("status", JobStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), index=True)
    hf_repo: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created_at()
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # retry backoff
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=3600, server_default="3600")
    engine_job_id: Mapped[int | None] = mapped_column(BigInteger)  # procrastinate's job, on PostgreSQL

    model: Mapped[Model | None] = relationship()


class LabHubOrg(Base):
    """A Hugging Face Hub organisation (or user) a lab publishes open weights under."""

    __tablename__ = "lab_hub_orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    org: Mapped[str] = mapped_column(String(100), unique=True)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    lab: Mapped[Lab] = relationship()


class HubRepo(Base):
    """A repository ``phasewatch watch`` found on the Hub, with the metadata it registered."""

    __tablename__ = "hub_repos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    sha: Mapped[str | None] = mapped_column(String(64))
    hub_created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    license: Mapped[str | None] = mapped_column(String(100))
    params_total: Mapped[int | None] = mapped_column(BigInteger)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("steering_jobs.id", ondelete="SET NULL"))
    skipped: Mapped[str | None] = mapped_column(Text)  # why it was not registered (no weights, private, ...)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    model: Mapped[Model | None] = relationship()


class SteeringResult(Base):
    """The report of a finished steering job, stored next to its model."""

    __tablename__ = "steering_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("steering_jobs.id", ondelete="CASCADE"), unique=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), index=True)
    worker: Mapped[str] = mapped_column(String(200))
    report: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = _created_at()


class FitObservation(Base):
    """An observation a stored fit used (what went into it, row by row)."""

    __tablename__ = "fit_observations"

    fit_id: Mapped[int] = mapped_column(ForeignKey("fits.id", ondelete="CASCADE"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ModelEdit(Base):
    """One correction of a model or of one of its scores; the old value is kept here."""

    __tablename__ = "model_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    edited_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = _created_at()


class NcResult(Base):
    """A stored N_c bootstrap (`phase nc`, `phase reproduce`): the report reads it, never reruns it.

    One row per question (panel, pooled families, resamples, seed, RNG); running the command again
    replaces it. ``data_hash`` is the SHA-256 of the pooled points, so a reader can tell whether
    the panel has changed since.
    """

    __tablename__ = "nc_results"
    __table_args__ = (UniqueConstraint("panel", "families", "resamples", "seed", "legacy_rng"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    panel: Mapped[str] = mapped_column(String(100))
    families: Mapped[str] = mapped_column(String(400))  # canonical names, comma-separated, in pooling order
    resamples: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    legacy_rng: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    quadratic: Mapped[dict] = mapped_column(JSON)
    gamma: Mapped[dict] = mapped_column(JSON)
    command: Mapped[str] = mapped_column(String(100))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CouplingMatrixFit(Base):
    """A stored joint coupling matrix (`phasewatch fit-matrix`): the multivariate model of the
    live frontier panel's benchmarks as of a date. `fits matrix`, the report and the dashboard
    read it, never refit it. ``summary`` is :meth:`phasewatch.models.joint_matrix.JointMatrix.to_dict`;
    ``observations`` the chosen figure of every cell fitted ([model, benchmark, observation id]),
    so a reader can tell what has arrived since."""

    __tablename__ = "coupling_matrix_fits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    panel: Mapped[str] = mapped_column(String(100))  # "frontier" or "frontier@YYYY-MM-DD"
    as_of: Mapped[dt.date] = mapped_column(Date)
    min_models: Mapped[int] = mapped_column(Integer)
    benchmarks: Mapped[str] = mapped_column(String(2000))  # keys, comma-separated, in the matrix's order
    n_models: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    converged: Mapped[bool] = mapped_column(Boolean)
    diagnostics: Mapped[dict] = mapped_column(JSON)
    summary: Mapped[dict] = mapped_column(JSON)
    observations: Mapped[list] = mapped_column(JSON)
    versions: Mapped[dict] = mapped_column(JSON)
    elapsed_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # from the injected clock


class RegistryState(Base):
    """One row: how many changes the registry has seen (all watched tables, and those a
    grading's input is read from), and the count at which the prediction logs were last
    known intact. Triggers (migration 0016) count every insert, update and delete, whoever
    makes it (:mod:`phasewatch.registry.changes`)."""

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_count: Mapped[int] = mapped_column(BigInteger)
    data_count: Mapped[int] = mapped_column(BigInteger)
    verified_at: Mapped[int | None] = mapped_column(BigInteger)  # change_count when the logs last verified
    # change_count when observation_changes was last emptied (None: another watched table changed since)
    logged_from: Mapped[int | None] = mapped_column(BigInteger)
    logged_data_from: Mapped[int | None] = mapped_column(BigInteger)  # data_count then


class ObservationChange(Base):
    """An observation inserted (``I``), updated (``U``: the row before and after) or deleted
    (``D``) since the log was last emptied, by any writer: triggers (migration 0017) write it,
    :func:`phasewatch.registry.changes.vouch` empties it."""

    __tablename__ = "observation_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation: Mapped[str] = mapped_column(String(1))
    observation_id: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[int] = mapped_column(Integer)


class GradingInputCache(Base):
    """The releases a grading read and the grades they gave (:mod:`phasewatch.registry.grading_inputs`),
    kept for the next grading of the same data, date and panels; trusted only while the logs are marked
    verified, and dropped whenever that mark had to be re-earned."""

    __tablename__ = "grading_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_count: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[dt.date] = mapped_column(Date)
    panels: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)  # the releases read (grading_inputs.encode)
    grades: Mapped[str | None] = mapped_column(Text, nullable=True)  # what they gave (grading_inputs.encode_grades)
