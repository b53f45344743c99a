"""Read-only views of the registry, returned as small frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import format_partial_date, parse_partial_date, period_end
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.jobs import results_for_model
from phasewatch.registry.schema import Benchmark, Lab, Model, ModelKind, Observation, Panel, PanelObservation


def as_dict(value: Any) -> Any:
    """A result (or list of results) as JSON-ready data."""
    if isinstance(value, list):
        return [as_dict(v) for v in value]
    return asdict(value)


@dataclass(frozen=True)
class LabSummary:
    name: str
    aliases: list[str]
    models: int
    open_weight_models: int
    first_release: str | None
    last_release: str | None


def list_labs(session: Session) -> list[LabSummary]:
    labs = session.scalars(select(Lab).options(selectinload(Lab.names), selectinload(Lab.models)).order_by(Lab.name))
    out = []
    for lab in labs:
        dated = sorted((m.release_date, m.release_date_precision) for m in lab.models if m.release_date)
        out.append(
            LabSummary(
                name=lab.name,
                aliases=lab.aliases,
                models=len(lab.models),
                open_weight_models=sum(1 for m in lab.models if m.open_weight),
                first_release=format_partial_date(*dated[0]) if dated else None,
                last_release=format_partial_date(*dated[-1]) if dated else None,
            )
        )
    return out


@dataclass(frozen=True)
class ModelRow:
    name: str
    lab: str
    kind: str
    family: str | None
    release_date: str | None
    open_weight: bool | None
    hf_repo: str | None
    params_total_b: float | None
    scores: dict[str, list[float]]
    observations: int


@dataclass(frozen=True)
class ModelPage:
    """One page of ``models list``: its rows, how many match in all, and where it starts."""

    rows: list[ModelRow]
    total: int
    offset: int
    limit: int | None

    @property
    def remaining(self) -> int:
        """Matching models after this page."""
        return max(0, self.total - self.offset - len(self.rows))


def list_models(
    session: Session,
    *,
    lab: str | None = None,
    panel: str | None = None,
    open_weight: bool | None = None,
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
) -> list[ModelRow]:
    """Every model matching the filters (see :func:`page_models`)."""
    return page_models(session, lab=lab, panel=panel, open_weight=open_weight, since=since, until=until, kind=kind).rows


def page_models(
    session: Session,
    *,
    lab: str | None = None,
    panel: str | None = None,
    open_weight: bool | None = None,
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> ModelPage:
    """Models matching every filter, ordered by release date, lab and name, with their
    scores (a panel's only, when given); ``limit`` rows from ``offset`` (all when None).

    Filtering, counting, ordering and paging happen in SQL; scores are read only for
    the models on the page. ``scores`` maps each benchmark to every distinct value
    held, so conflicting figures show side by side instead of one being picked
    silently. Date filters compare at each model's own precision: a model known only
    as "2025" is inside ``--since 2025-06`` only if the whole year could be.
    """
    if limit is not None and limit < 0:
        raise InvalidInputError(f"--limit must be 0 or more, not {limit}", "e.g. --limit 50 (0 shows every model)")
    if offset < 0:
        raise InvalidInputError(f"--offset must be 0 or more, not {offset}", "e.g. --offset 50 for the second page")
    catalog = Catalog(session)
    filters: list[ColumnElement[bool]] = []
    if lab is not None:
        filters.append(Model.lab_id == catalog.lab(lab).id)
    if open_weight is not None:
        filters.append(Model.open_weight.is_(open_weight))
    if kind is not None:
        kinds = [k.value for k in ModelKind]
        if kind not in kinds:
            raise InvalidInputError(f"unknown kind {kind!r}", f"use one of {', '.join(kinds)}")
        filters.append(Model.kind == kind)
    panel_id = catalog.panel(panel).id if panel is not None else None
    if panel_id is not None:
        members = select(Observation.model_id).join(PanelObservation).where(PanelObservation.panel_id == panel_id)
        filters.append(Model.id.in_(members))
    if since:
        filters.append(Model.release_date >= parse_partial_date(since, what="--since")[0])
    if until:
        filters.append(_ends_by(period_end(*parse_partial_date(until, what="--until"))))
    total = session.scalar(select(func.count()).select_from(Model).where(*filters)) or 0
    precision_rank = case(
        (Model.release_date_precision == "year", 0), (Model.release_date_precision == "month", 1), else_=2
    )
    query = (
        select(
            Model.id,
            Model.name,
            Lab.name,
            Model.kind,
            Model.family,
            Model.release_date,
            Model.release_date_precision,
            Model.open_weight,
            Model.hf_repo,
            Model.params_total_b,
        )
        .join(Lab, Model.lab_id == Lab.id)
        .where(*filters)
        # the order of the rendered dates: undated last, "2025" before "2025-01" before "2025-01-01"
        .order_by(Model.release_date.is_(None), Model.release_date, precision_rank, Lab.name, Model.name)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    models = session.connection().execute(query).all()  # plain rows: no ORM loading for 10,000 models
    scores, counts = _page_scores(session, [m[0] for m in models], panel_id)
    rows = [
        ModelRow(
            name=name,
            lab=lab_name,
            kind=model_kind,
            family=family,
            release_date=format_partial_date(day, precision) or None,
            open_weight=open_,
            hf_repo=hf_repo,
            params_total_b=params,
            scores={k: sorted(v) for k, v in sorted(scores[model_id].items())},
            observations=counts[model_id],
        )
        for model_id, name, lab_name, model_kind, family, day, precision, open_, hf_repo, params in models
    ]
    return ModelPage(rows=rows, total=total, offset=offset, limit=limit)


def _ends_by(high: dt.date) -> ColumnElement[bool]:
    """The model's whole release period ends on or before ``high`` (dates are stored as the
    first day of their period: a month ends by ``high`` if it starts before the first day of
    the month holding ``high + 1``, a year likewise)."""
    after = high + dt.timedelta(days=1)
    return or_(
        and_(
            or_(Model.release_date_precision.is_(None), Model.release_date_precision == "day"),
            Model.release_date <= high,
        ),
        and_(Model.release_date_precision == "month", Model.release_date < after.replace(day=1)),
        and_(Model.release_date_precision == "year", Model.release_date < after.replace(month=1, day=1)),
    )


_CHUNK = 500  # ids per IN (...): well inside every driver's parameter limit


def _page_scores(
    session: Session, model_ids: list[int], panel_id: int | None
) -> tuple[dict[int, dict[str, set[float]]], dict[int, int]]:
    """Each listed model's distinct values per benchmark and its number of observations
    (a panel's only, when ``panel_id`` is given)."""
    scores: dict[int, dict[str, set[float]]] = defaultdict(lambda: defaultdict(set))
    counts: dict[int, int] = defaultdict(int)
    for start in range(0, len(model_ids), _CHUNK):
        query = (
            select(Observation.model_id, Benchmark.key, Observation.value)
            .join(Benchmark, Observation.benchmark_id == Benchmark.id)
            .where(Observation.model_id.in_(model_ids[start : start + _CHUNK]))
        )
        if panel_id is not None:
            query = query.join(PanelObservation).where(PanelObservation.panel_id == panel_id)
        for model_id, key, value in session.connection().execute(query).all():
            scores[model_id][key].add(value)
            counts[model_id] += 1
    return scores, counts


@dataclass(frozen=True)
class ObservationView:
    benchmark: str
    value: float
    stderr: float | None
    setting: str | None
    reported_by: str
    source_url: str | None
    retrieved_on: str | None
    note: str | None
    panels: list[str]
    retracted_on: str | None = None


@dataclass(frozen=True)
class ModelDetail:
    name: str
    aliases: list[str]
    lab: str
    kind: str
    family: str | None
    release_date: str | None
    release_date_precision: str | None
    release_date_source: str | None
    open_weight: bool | None
    hf_repo: str | None
    hf_revision: str | None
    params_total_b: float | None
    params_active_b: float | None
    d_model: int | None
    n_layers: int | None
    n_heads: int | None
    variant_of: str | None
    variants: list[str]
    notes: str | None
    observations: list[ObservationView]
    conflicts: dict[str, list[float]] = field(default_factory=dict)
    steering: list[dict[str, Any]] = field(default_factory=list)


def show_model(session: Session, name: str) -> ModelDetail:
    """A model with every observation and its source; ``conflicts`` lists
    benchmarks whose observations disagree."""
    model = Catalog(session).model(name)
    panel_names: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(PanelObservation.observation_id, Panel.name)
        .join(Panel)
        .join(Observation)
        .where(Observation.model_id == model.id)
        .order_by(Panel.name)
    )
    for observation_id, panel in rows:
        panel_names[observation_id].append(panel)
    observations = sorted(
        session.scalars(
            select(Observation).options(selectinload(Observation.benchmark)).where(Observation.model_id == model.id)
        ),
        key=lambda o: (o.benchmark.key, o.value, o.reported_by),
    )
    views = [
        ObservationView(
            benchmark=o.benchmark.key,
            value=o.value,
            stderr=o.stderr,
            setting=o.setting,
            reported_by=o.reported_by,
            source_url=o.source_url,
            retrieved_on=o.retrieved_on.isoformat() if o.retrieved_on else None,
            note=o.note,
            panels=panel_names[o.id],
            retracted_on=o.retracted_on.isoformat() if o.retracted_on else None,
        )
        for o in observations
    ]
    values: dict[str, set[float]] = defaultdict(set)
    for view in views:
        if view.retracted_on is None:  # a corrected figure is history (`models history`), not a disagreement
            values[view.benchmark].add(view.value)
    variants = session.scalars(select(Model.name).where(Model.variant_of_id == model.id).order_by(Model.name))
    return ModelDetail(
        name=model.name,
        aliases=model.aliases,
        lab=model.lab.name,
        kind=model.kind,
        family=model.family,
        release_date=format_partial_date(model.release_date, model.release_date_precision) or None,
        release_date_precision=model.release_date_precision,
        release_date_source=model.release_date_source,
        open_weight=model.open_weight,
        hf_repo=model.hf_repo,
        hf_revision=model.hf_revision,
        params_total_b=model.params_total_b,
        params_active_b=model.params_active_b,
        d_model=model.d_model,
        n_layers=model.n_layers,
        n_heads=model.n_heads,
        variant_of=model.variant_of.name if model.variant_of else None,
        variants=list(variants),
        notes=model.notes,
        observations=views,
        conflicts={k: sorted(v) for k, v in sorted(values.items()) if len(v) > 1},
        steering=results_for_model(session, model.id),
    )


@dataclass(frozen=True)
class PanelSummary:
    name: str
    description: str
    frozen: bool
    models: int
    observations: int
    benchmarks: dict[str, int]
    subsets: dict[str, int]
    source: str | None
    licence: str | None


def list_panels(session: Session) -> list[PanelSummary]:
    return [_panel_summary(session, p) for p in session.scalars(select(Panel).order_by(Panel.name))]


def show_panel(session: Session, name: str) -> PanelSummary:
    return _panel_summary(session, Catalog(session).panel(name))


def _panel_summary(session: Session, panel: Panel) -> PanelSummary:
    members = (
        select(Observation.model_id, Benchmark.key, PanelObservation.subset, Observation.id)
        .join(PanelObservation, PanelObservation.observation_id == Observation.id)
        .join(Benchmark)
        .where(PanelObservation.panel_id == panel.id)
    )
    rows = session.execute(members).all()
    benchmarks: dict[str, int] = defaultdict(int)
    subset_models: dict[str, set[int]] = defaultdict(set)
    for model_id, key, subset, _ in rows:
        benchmarks[key] += 1
        if subset:
            subset_models[subset].add(model_id)
    return PanelSummary(
        name=panel.name,
        description=panel.description,
        frozen=panel.frozen,
        models=len({r[0] for r in rows}),
        observations=len(rows),
        benchmarks=dict(sorted(benchmarks.items())),
        subsets={k: len(v) for k, v in sorted(subset_models.items())},
        source=panel.source,
        licence=panel.licence,
    )


@dataclass(frozen=True)
class BenchmarkRow:
    key: str
    name: str
    category: str
    version: str | None
    observations: int
    url: str | None
    standard_setting: str | None = None
    nonstandard_markers: list[str] = field(default_factory=list)


def list_benchmarks(session: Session) -> list[BenchmarkRow]:
    counts = dict(
        session.execute(select(Observation.benchmark_id, func.count()).group_by(Observation.benchmark_id)).all()
    )
    return [
        BenchmarkRow(
            b.key,
            b.name,
            b.category,
            b.version,
            counts.get(b.id, 0),
            b.url,
            b.standard_setting,
            [m for m in (b.nonstandard_markers or "").split("|") if m],
        )
        for b in session.scalars(select(Benchmark).order_by(Benchmark.category, Benchmark.key))
    ]
