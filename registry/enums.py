"""Every closed set of values, defined once.

The schema's CHECK constraints, the services and the CLI (as Typer choices, so a
wrong value is a usage error listing the choices) all use these. Importing this
module costs nothing: it imports only :mod:`enum`.
"""

from __future__ import annotations

import enum


class ReportedBy(enum.StrEnum):
    """Who published a score."""

    LAB = "lab"
    THIRD_PARTY = "third_party"
    PAPER = "paper"


class ModelKind(enum.StrEnum):
    """Frontier (post-trained, product) models versus base (pretrained) checkpoints."""

    FRONTIER = "frontier"
    BASE = "base"


class JobStatus(enum.StrEnum):
    """Where a steering job is in the queue."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class OutputFormat(enum.StrEnum):
    """How a query prints: a table for people, JSON or CSV (full values) for programs."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class ExportFormat(enum.StrEnum):
    """The file formats `export` writes and `scores import` reads."""

    CSV = "csv"
    JSON = "json"


class Sampler(enum.StrEnum):
    """The NUTS implementation a fit runs on (``models.coupling.SAMPLERS``)."""

    NUTPIE = "nutpie"
    PYMC = "pymc"


class Link(enum.StrEnum):
    """The coupling model's scale (``models.coupling.LINKS``)."""

    LOGIT = "logit"
    IDENTITY = "identity"


class Pooling(enum.StrEnum):
    """How the coupling model shares strength across labs (``models.coupling.POOLINGS``)."""

    PARTIAL = "partial"
    COMPLETE = "complete"
    NONE = "none"


class CoverageMethod(enum.StrEnum):
    """How `coverage` holds data out (``registry.coverage.METHODS``)."""

    LOO = "loo"
    LFO = "lfo"
    HOLDOUT = "holdout"


class DeviceKind(enum.StrEnum):
    """The devices a steering run or worker may ask for; ``cuda:N`` names one GPU."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class Dtype(enum.StrEnum):
    """The weights' precision for a steering run."""

    AUTO = "auto"
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"


class SteeringMethod(enum.StrEnum):
    """How the truth direction is computed (``auto`` compares them on validation)."""

    AUTO = "auto"
    MEAN_DIFF = "mean_diff"
    PCA = "pca"
    LOGISTIC = "logistic"


def choices(kind: type[enum.StrEnum]) -> str:
    """``"queued, running, done or failed"``: the values of ``kind`` for a message."""
    values = [member.value for member in kind]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def sql_in(column: str, kind: type[enum.StrEnum]) -> str:
    """``"kind IN ('frontier', 'base')"``: a CHECK constraint's text for ``kind``'s values."""
    return f"{column} IN ({', '.join(repr(member.value) for member in kind)})"
