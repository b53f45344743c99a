"""Coupling fits: build the data from panels, sample, store, and answer from
stored fits (h-field, predictions, release verdicts) without PyMC."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, defer, selectinload

from phasewatch.models.coupling import (
    CouplingData,
    CouplingSummary,
    Diagnostics,
    FitOutcome,
    ModelSpec,
    OLSTrend,
    Posterior,
    Priors,
    ReleaseCheck,
    SamplerSettings,
    check_release,
)
from phasewatch.models.intervals import Interval
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import format_partial_date
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.schema import Benchmark, Fit, Model, Observation, PanelObservation, ReleaseVerdict

DEFAULT_SPEC = ModelSpec(link="logit", pooling="partial")
METHOD = DEFAULT_SPEC.method  # the model whose latest accepted fit gives verdicts (docs/coupling.md says why)
DEFAULT_X = "swe_bench_verified"
DEFAULT_Y = "gpqa_diamond"
DEFAULT_PANELS = ("growing-pains-34",)


def panel_data(session: Session, panels: tuple[str, ...], x: str, y: str) -> CouplingData:
    """One row per model holding both benchmarks in the given panels.

    A model with two different values of one benchmark across the panels is
    an error, not an average: choose panels that agree. The live panel
    ``frontier`` (or ``frontier@YYYY-MM-DD``, as known on that date) is
    computed by :mod:`phasewatch.registry.frontier`'s selection policy and is
    fitted alone.
    """
    from phasewatch.registry.frontier import coupling_data, is_live

    catalog = Catalog(session)
    keys = (catalog.benchmark(x).key, catalog.benchmark(y).key)  # an unknown benchmark is named, on every panel
    if keys[0] == keys[1]:
        raise InvalidInputError(f"x and y are both {x}", "choose two different benchmarks")
    if any(is_live(p) for p in panels):
        if len(panels) > 1:
            raise InvalidInputError(
                f"the live panel is fitted alone, not with {', '.join(panels)}", "pass --panel frontier once"
            )
        return coupling_data(session, panels[0], *keys)
    panel_ids = [catalog.panel(name).id for name in panels]
    query = (
        select(Observation.model_id, Benchmark.key, Observation.value)
        .join(Benchmark)
        .join(PanelObservation, PanelObservation.observation_id == Observation.id)
        .where(PanelObservation.panel_id.in_(panel_ids), Benchmark.key.in_(keys))
    )
    values: dict[int, dict[str, set[float]]] = defaultdict(lambda: defaultdict(set))
    for model_id, key, value in session.execute(query):
        values[model_id][key].add(value)
    models = {
        m.id: m for m in session.scalars(select(Model).options(selectinload(Model.lab)).where(Model.id.in_(values)))
    }
    rows = []
    for model_id, by_key in values.items():
        if len(by_key) < 2:
            continue
        model = models[model_id]
        for key in keys:
            if len(by_key[key]) > 1:
                raise InvalidInputError(
                    f"{model.name} has several {key} values in {', '.join(panels)}: {sorted(by_key[key])}",
                    "fit on panels that hold one value per model",
                )
        date = format_partial_date(model.release_date, model.release_date_precision) or None
        rows.append((model.name, model.lab.name, next(iter(by_key[keys[0]])), next(iter(by_key[keys[1]])), date))
    if len(rows) < 5:
        raise InvalidInputError(
            f"only {len(rows)} model{'' if len(rows) == 1 else 's'} in {', '.join(panels)} {'has' if len(rows) == 1 else 'have'} both {x} and {y}",
            "use a larger panel",
        )
    rows.sort(key=lambda r: (r[4] or "9999", r[0]))
    return CouplingData(
        names=tuple(r[0] for r in rows),
        labs=tuple(r[1] for r in rows),
        x=np.array([r[2] for r in rows]),
        y=np.array([r[3] for r in rows]),
        dates=tuple(r[4] for r in rows),
    )


def data_hash(data: CouplingData) -> str:
    rows = sorted(
        zip(data.names, data.labs, data.x.tolist(), data.y.tolist(), data.dates or [None] * data.n, strict=False)
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    out = {}
    for name in ("phasewatch", "pymc", "pytensor", "nutpie", "arviz", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class FitResult:
    id: int
    panels: str
    x: str
    y: str
    n_models: int
    converged: bool
    accepted: bool
    problems: list[str]
    diagnostics: dict[str, Any]
    ols: dict[str, Any]
    summary: dict[str, Any]
    elapsed_s: float
    created_at: str
    seed: int
    data_hash: str
    spec: dict[str, Any]
    versions: dict[str, str]
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # this run's phases (not stored)
    via: str = ""  # where it was sampled: "fit server" or "in process" (not stored)


def record_fit(
    session: Session,
    data: CouplingData,
    panels: tuple[str, ...],
    x: str,
    y: str,
    spec: ModelSpec,
    settings: SamplerSettings,
    outcome: FitOutcome,
    *,
    accept_unconverged: bool = False,
    used: Any = None,
    elapsed_s: float = 0.0,
) -> FitResult:
    """Store one computed fit (``outcome``) with the observations it used (``used``; looked up
    from the panels when not given). The posterior goes in twice: the draws predictions need
    (``posterior``, numpy only) and the ArviZ DataTree with log-likelihood (``posterior_tree``)."""
    from phasewatch.registry.frontier import observations_used, record_fit_observations

    diagnostics = outcome.diagnostics
    fit = Fit(
        panels=",".join(panels),
        x_benchmark=x,
        y_benchmark=y,
        method=spec.method,
        spec={
            "method": spec.method,
            "link": spec.link,
            "pooling": spec.pooling,
            "sampler": settings.sampler,
            "priors": asdict(outcome.priors),
            "settings": asdict(settings),
            "parametrisation": outcome.parametrisation,
        },
        seed=settings.seed,
        data_hash=data_hash(data),
        n_models=data.n,
        versions=library_versions(),
        diagnostics={**asdict(diagnostics), "problems": diagnostics.problems},
        converged=diagnostics.converged,
        accepted=diagnostics.converged or accept_unconverged,
        summary=asdict(outcome.summary),
        ols={**asdict(outcome.ols), "paper_band": outcome.ols.paper_band},
        posterior=outcome.posterior.to_bytes(),
        posterior_tree=outcome.tree,
        elapsed_s=elapsed_s,
    )
    session.add(fit)
    session.flush()
    if used is None:
        used = observations_used(session, panels, x, y, data.names)
    record_fit_observations(session, fit.id, used)
    return dataclasses.replace(_result(fit), timings=dict(outcome.timings))


def check_bounded(data: CouplingData, spec: ModelSpec) -> None:
    """The bounded model needs every score strictly inside (0, 100)."""
    if spec.link == "logit" and (np.any((data.x <= 0) | (data.x >= 100)) or np.any((data.y <= 0) | (data.y >= 100))):
        raise InvalidInputError("the bounded model needs every score strictly between 0 and 100", "use --link identity")


def store_fit(
    engine: Engine,
    data: CouplingData,
    panels: tuple[str, ...],
    x: str,
    y: str,
    settings: SamplerSettings,
    priors: Priors | None = None,
    accept_unconverged: bool = False,
    spec: ModelSpec = DEFAULT_SPEC,
) -> FitResult:
    """Sample ``spec`` on ``data`` in this process (compiling it) and store the fit.

    Kept for :func:`phasewatch.registry.comparison.compare_fits` until model comparison
    moves to ``services/``; the ``fit`` use case (with its compiled-model cache and the
    fit server) is :mod:`phasewatch.services.fitting`.
    """
    from phasewatch.models.coupling import CouplingSampler, fit_outcome

    check_bounded(data, spec)
    started = time.perf_counter()
    outcome = fit_outcome(CouplingSampler(data, priors, spec), data, settings, clock=time.perf_counter)
    elapsed = time.perf_counter() - started
    with transaction(engine) as session:
        return record_fit(
            session,
            data,
            panels,
            x,
            y,
            spec,
            settings,
            outcome,
            accept_unconverged=accept_unconverged,
            elapsed_s=elapsed,
        )


def _result(fit: Fit) -> FitResult:
    return FitResult(
        id=fit.id,
        panels=fit.panels,
        x=fit.x_benchmark,
        y=fit.y_benchmark,
        n_models=fit.n_models,
        converged=fit.converged,
        accepted=fit.accepted,
        problems=list(fit.diagnostics.get("problems", [])),
        diagnostics=fit.diagnostics,
        ols=fit.ols,
        summary=fit.summary,
        elapsed_s=fit.elapsed_s,
        created_at=fit.created_at.isoformat(timespec="seconds") if fit.created_at else "",
        seed=fit.seed,
        data_hash=fit.data_hash,
        spec=fit.spec,
        versions=fit.versions,
    )


def get_fit(session: Session, fit_id: int | None = None, *, x: str = DEFAULT_X, y: str = DEFAULT_Y) -> Fit:
    """A fit by id, else the latest accepted fit of x and y."""
    if fit_id is not None:
        fit = session.get(Fit, fit_id)
        if fit is None:
            raise NotFoundError(f"no fit #{fit_id}", "see `phasewatch fits list`")
        return fit
    fit = latest_accepted_fit(session, x, y)
    if fit is None:
        raise NotFoundError(f"no accepted fit of {y} on {x} yet", "run `phasewatch fit`")
    return fit


def latest_accepted_fit(
    session: Session, x: str = DEFAULT_X, y: str = DEFAULT_Y, method: str = METHOD, *, posterior: bool = True
) -> Fit | None:
    """The latest accepted fit of the default model (comparison fits of other models never give
    verdicts). ``posterior=False``: its draws (~1.5 MB) are read only if asked for."""
    query = (
        select(Fit)
        .where(Fit.accepted.is_(True), Fit.x_benchmark == x, Fit.y_benchmark == y, Fit.method == method)
        .order_by(Fit.id.desc())
        .limit(1)
    )
    return session.scalar(query if posterior else query.options(defer(Fit.posterior)))


# --- read-back: stored fits as typed records -----------------------------------------------


def summary_of(fit: Fit) -> CouplingSummary:
    """The stored summary as typed objects."""
    return _summary(fit.summary)


def _summary(stored: dict[str, Any]) -> CouplingSummary:
    from phasewatch.models.coupling import LabCoupling, ModelHField
    from phasewatch.models.intervals import Interval

    raw = dict(stored)
    labs = [
        LabCoupling(**{**lab, "slope": Interval(**lab["slope"]), "mean_h": Interval(**lab["mean_h"])})
        for lab in raw.pop("labs")
    ]
    models = [ModelHField(**{**m, "h": Interval(**m["h"])}) for m in raw.pop("models")]
    scalars = {k: Interval(**v) if isinstance(v, dict) else v for k, v in raw.items()}
    return CouplingSummary(**scalars, labs=labs, models=models)


def _fields(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``stored`` that are fields of the dataclass ``cls`` (lists back to tuples)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in names}


@dataclass(frozen=True)
class StoredFit:
    """A stored fit read back as typed objects: what went in (panels, spec, sampler
    settings, priors, data hash, versions), how it sampled (:class:`Diagnostics`),
    the paper's :class:`OLSTrend` and the posterior's :class:`CouplingSummary`
    (population trend, per-lab slopes, every model's h-field)."""

    id: int
    created_at: str
    panels: tuple[str, ...]
    x: str
    y: str
    n_models: int
    spec: ModelSpec
    settings: SamplerSettings
    priors: Priors
    seed: int
    data_hash: str
    versions: dict[str, str]
    diagnostics: Diagnostics
    converged: bool
    accepted: bool
    elapsed_s: float
    ols: OLSTrend
    summary: CouplingSummary

    @property
    def problems(self) -> list[str]:
        return self.diagnostics.problems

    @property
    def is_default_model(self) -> bool:
        """Whether this is the model whose fits give verdicts (the others are for `fits compare`)."""
        return self.spec.method == METHOD

    @property
    def scale(self) -> str:
        """The unit of slopes and residuals: the logit scale or percentage points."""
        return "logit scale" if self.spec.link == "logit" else "pp"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (the stored layout: diagnostics with their problems, OLS with the paper's band)."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "panels": ",".join(self.panels),
            "x": self.x,
            "y": self.y,
            "n_models": self.n_models,
            "converged": self.converged,
            "accepted": self.accepted,
            "problems": self.problems,
            "diagnostics": {**asdict(self.diagnostics), "problems": self.problems},
            "ols": {**asdict(self.ols), "paper_band": self.ols.paper_band},
            "summary": asdict(self.summary),
            "elapsed_s": self.elapsed_s,
            "seed": self.seed,
            "data_hash": self.data_hash,
            "spec": {
                "method": self.spec.method,
                "link": self.spec.link,
                "pooling": self.spec.pooling,
                "sampler": self.settings.sampler,
                "priors": asdict(self.priors),
                "settings": asdict(self.settings),
            },
            "versions": self.versions,
        }


def _stored(
    *,
    id: int,
    created_at: str,
    panels: str,
    x: str,
    y: str,
    n_models: int,
    spec: dict[str, Any],
    seed: int,
    data_hash: str,
    versions: dict[str, str],
    diagnostics: dict[str, Any],
    converged: bool,
    accepted: bool,
    elapsed_s: float,
    ols: dict[str, Any],
    summary: dict[str, Any],
) -> StoredFit:
    model = ModelSpec.from_method(spec.get("method", METHOD))
    settings = spec.get("settings") or {"seed": seed}
    return StoredFit(
        id=id,
        created_at=created_at,
        panels=tuple(p for p in panels.split(",") if p),
        x=x,
        y=y,
        n_models=n_models,
        spec=model,
        settings=SamplerSettings(**_fields(SamplerSettings, settings)),
        priors=Priors(**_fields(Priors, spec["priors"])) if spec.get("priors") else Priors.for_link(model.link),
        seed=seed,
        data_hash=data_hash,
        versions=dict(versions),
        diagnostics=Diagnostics(**_fields(Diagnostics, diagnostics)),
        converged=converged,
        accepted=accepted,
        elapsed_s=elapsed_s,
        ols=OLSTrend(**_fields(OLSTrend, ols)),
        summary=_summary(summary),
    )


def read_fit(fit: Fit) -> StoredFit:
    """A stored fit row as a typed record."""
    return _stored(
        id=fit.id,
        created_at=fit.created_at.isoformat(timespec="seconds") if fit.created_at else "",
        panels=fit.panels,
        x=fit.x_benchmark,
        y=fit.y_benchmark,
        n_models=fit.n_models,
        spec=fit.spec,
        seed=fit.seed,
        data_hash=fit.data_hash,
        versions=fit.versions,
        diagnostics=fit.diagnostics,
        converged=fit.converged,
        accepted=fit.accepted,
        elapsed_s=fit.elapsed_s,
        ols=fit.ols,
        summary=fit.summary,
    )


def typed_result(result: FitResult) -> StoredFit:
    """A just-stored fit's :class:`FitResult` as the same typed record :func:`read_fit` gives."""
    return _stored(
        id=result.id,
        created_at=result.created_at,
        panels=result.panels,
        x=result.x,
        y=result.y,
        n_models=result.n_models,
        spec=result.spec,
        seed=result.seed,
        data_hash=result.data_hash,
        versions=result.versions,
        diagnostics=result.diagnostics,
        converged=result.converged,
        accepted=result.accepted,
        elapsed_s=result.elapsed_s,
        ols=result.ols,
        summary=result.summary,
    )


def list_fits(session: Session) -> list[StoredFit]:
    """Every stored fit, newest first, read back as typed records."""
    return [read_fit(f) for f in session.scalars(select(Fit).order_by(Fit.id.desc()))]


def show_fit(session: Session, fit_id: int | None = None) -> StoredFit:
    """A fit by id (default: the latest accepted fit), read back as a typed record."""
    return read_fit(get_fit(session, fit_id))


@dataclass(frozen=True)
class Prediction:
    """The 95 % posterior-predictive interval of y for a hypothetical release."""

    fit_id: int
    x_benchmark: str
    y_benchmark: str
    lab: str
    lab_known: bool
    x: float
    predicted: Interval


def predict(session: Session, lab: str, x_score: float, fit_id: int | None = None) -> Prediction:
    """The 95 % predictive interval of y for a hypothetical release of ``lab`` at x."""
    from phasewatch.models.coupling import clip_to_scale
    from phasewatch.models.intervals import eti
    from phasewatch.registry.catalog import check_score

    fit = get_fit(session, fit_id)
    check_score(x_score, benchmark=fit.x_benchmark)
    lab_name = _lab_name(session, lab)
    posterior = Posterior.from_bytes(fit.posterior)
    draws, known = posterior.predictive(x_score, lab_name, seed=fit.seed)
    return Prediction(fit.id, fit.x_benchmark, fit.y_benchmark, lab_name, known, x_score, clip_to_scale(eti(draws)))


def _lab_name(session: Session, lab: str) -> str:
    """A registered lab's canonical name; an unregistered one is predicted as a new lab."""
    try:
        return Catalog(session).lab(lab).name
    except NotFoundError:
        return lab


@dataclass(frozen=True)
class Verdict:
    fit_id: int
    fit_panels: str
    x_benchmark: str
    y_benchmark: str
    check: ReleaseCheck

    def as_dict(self) -> dict[str, Any]:
        check = dataclasses.asdict(self.check)
        return {
            "fit_id": self.fit_id,
            "fit_panels": self.fit_panels,
            "x_benchmark": self.x_benchmark,
            "y_benchmark": self.y_benchmark,
            **check,
            "inside": self.check.inside,
        }


def verdict_of(session: Session, model_name: str) -> Verdict | None:
    """A logged release's h-field and inside/outside verdict against the latest accepted
    fit, computed from its stored draws (numpy only); reads only.

    ``None`` when there is no accepted fit or the release lacks either score.
    """
    model = Catalog(session).model(model_name)  # an unknown name is NotFoundError, fit or no fit
    fit = latest_accepted_fit(session)
    if fit is None:
        return None
    scores: dict[str, float] = {}
    observations = session.execute(
        select(Benchmark.key, Observation.value)
        .join(Benchmark, Observation.benchmark_id == Benchmark.id)
        .where(Observation.model_id == model.id, Benchmark.key.in_((fit.x_benchmark, fit.y_benchmark)))
        .order_by(Observation.created_at.desc(), Observation.id.desc())
    )
    for key, value in observations:  # the most recently logged figure of each benchmark
        scores.setdefault(key, value)
    if fit.x_benchmark not in scores or fit.y_benchmark not in scores:
        return None
    posterior = Posterior.from_bytes(fit.posterior)
    check = check_release(
        posterior, model.name, model.lab.name, scores[fit.x_benchmark], scores[fit.y_benchmark], seed=fit.seed
    )
    return Verdict(fit.id, fit.panels, fit.x_benchmark, fit.y_benchmark, check)


def store_verdict(session: Session, model_name: str, verdict: Verdict) -> bool:
    """Store a verdict unless the release already holds one against that fit (the check is
    deterministic, seeded by the fit, so the stored one stands); returns whether it wrote."""
    model = Catalog(session).model(model_name)
    stored = session.scalar(
        select(ReleaseVerdict.id).where(ReleaseVerdict.model_id == model.id, ReleaseVerdict.fit_id == verdict.fit_id)
    )
    if stored is not None:
        return False
    check = verdict.check
    session.add(
        ReleaseVerdict(
            model_id=model.id,
            fit_id=verdict.fit_id,
            x=check.x,
            y=check.y,
            h_mean=check.h.mean,
            h_low=check.h.low,
            h_high=check.h.high,
            predicted_low=check.predicted.low,
            predicted_high=check.predicted.high,
            inside=check.inside,
            lab_known=check.lab_known,
        )
    )
    session.flush()
    return True


def record_verdict(session: Session, model_name: str) -> Verdict | None:
    """Compute a logged release's verdict (:func:`verdict_of`) and store it (:func:`store_verdict`)."""
    verdict = verdict_of(session, model_name)
    if verdict is not None:
        store_verdict(session, model_name, verdict)
    return verdict
