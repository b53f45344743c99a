"""h-fields of models against a stored fit (numpy only: no refit, no PyMC).

Views see every release: besides the fit's own models, any release with both
of the fit's scores known as of a date is placed against the fit's posterior
and marked out-of-fit (its lab, if the fit never saw it, is drawn from the
hierarchy when a lab effect is needed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from phasewatch.models.coupling import Posterior
from phasewatch.models.intervals import Interval, hdi
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.dates import format_partial_date
from phasewatch.registry.fits import get_fit, panel_data, summary_of
from phasewatch.registry.schema import Benchmark, Model, Observation


@dataclass(frozen=True)
class HFieldRow:
    name: str
    lab: str
    date: str | None
    x: float
    y: float
    h: Interval
    in_fit: bool


@dataclass(frozen=True)
class Release:
    """A release with both scores, as the registry knows it on a date."""

    name: str
    lab: str
    date: str | None
    x: float
    y: float


def releases_with_scores(session: Session, x: str, y: str, as_of: dt.date | None = None) -> list[Release]:
    """Every model with both benchmarks logged (and released, if dated, by ``as_of``).

    Value policy: the fit's own value for models in the fit is applied by the
    caller; otherwise the most recently logged value of each benchmark (the
    one `releases add` verdicts use).
    """
    query = (
        select(Observation.model_id, Benchmark.key, Observation.value)
        .join(Benchmark)
        .where(Benchmark.key.in_((x, y)))
        .order_by(Observation.created_at, Observation.id)
    )
    latest: dict[int, dict[str, float]] = {}
    for model_id, key, value in session.execute(query):
        latest.setdefault(model_id, {})[key] = value
    both = [mid for mid, values in latest.items() if len(values) == 2]
    models = session.scalars(select(Model).options(selectinload(Model.lab)).where(Model.id.in_(both)))
    out = []
    for m in models:
        if as_of is not None and m.release_date is not None and m.release_date > as_of:
            continue
        date = format_partial_date(m.release_date, m.release_date_precision) or None
        out.append(Release(m.name, m.lab.name, date, latest[m.id][x], latest[m.id][y]))
    return sorted(out, key=lambda r: (r.date or "9999", r.name))


def hfield_rows(
    session: Session,
    *,
    lab: str | None = None,
    panel: str | None = None,
    fit_id: int | None = None,
    as_of: dt.date | None = None,
) -> tuple[int, list[HFieldRow]]:
    """Every release with both scores as of ``as_of`` (in-fit ones with the fit's
    values), or only a panel's models; sorted by h."""
    fit = get_fit(session, fit_id)
    models = summary_of(fit).models
    fitted = {m.name for m in models}
    posterior = Posterior.from_bytes(fit.posterior)

    def row(name: str, lab_name: str, date: str | None, x: float, y: float) -> HFieldRow:
        return HFieldRow(name, lab_name, date, x, y, hdi(posterior.h_field(x, y)), name in fitted)

    if panel is None:
        rows = [HFieldRow(m.name, m.lab, m.date, m.x, m.y, m.h, True) for m in models]
        rows += [
            row(r.name, r.lab, r.date, r.x, r.y)
            for r in releases_with_scores(session, fit.x_benchmark, fit.y_benchmark, as_of)
            if r.name not in fitted
        ]
    else:
        data = panel_data(session, (panel,), fit.x_benchmark, fit.y_benchmark)
        rows = [
            row(data.names[i], data.labs[i], data.dates[i] if data.dates else None, float(data.x[i]), float(data.y[i]))
            for i in range(data.n)
        ]
    if lab is not None:
        name = Catalog(session).lab(lab).name
        rows = [r for r in rows if r.lab == name]
    rows.sort(key=lambda r: -r.h.mean)
    return fit.id, rows
