"""h-fields of models against a stored fit (numpy only: no refit, no PyMC)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from phasewatch.models.coupling import Posterior
from phasewatch.models.intervals import Interval, hdi
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.fits import get_fit, panel_data, summary_of


@dataclass(frozen=True)
class HFieldRow:
    name: str
    lab: str
    date: str | None
    x: float
    y: float
    h: Interval
    in_fit: bool


def hfield_rows(
    session: Session, *, lab: str | None = None, panel: str | None = None, fit_id: int | None = None
) -> tuple[int, list[HFieldRow]]:
    """The fit's own models, or a panel's (which may lie outside the fit), by h."""
    fit = get_fit(session, fit_id)
    models = summary_of(fit).models
    fitted = {m.name for m in models}
    if panel is None:
        rows = [HFieldRow(m.name, m.lab, m.date, m.x, m.y, m.h, True) for m in models]
    else:
        data = panel_data(session, (panel,), fit.x_benchmark, fit.y_benchmark)
        posterior = Posterior.from_bytes(fit.posterior)
        rows = [
            HFieldRow(data.names[i], data.labs[i], data.dates[i] if data.dates else None, float(data.x[i]),
                      float(data.y[i]), hdi(posterior.h_field(float(data.x[i]), float(data.y[i]))),
                      data.names[i] in fitted)
            for i in range(data.n)
        ]  # fmt: skip
    if lab is not None:
        name = Catalog(session).lab(lab).name
        rows = [r for r in rows if r.lab == name]
    rows.sort(key=lambda r: -r.h.mean)
    return fit.id, rows
