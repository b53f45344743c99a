"""``phasewatch analyze``: two typed scores and a lab against a stored fit — the numbers the
dashboard's Analyze form computes in the browser from the same posterior draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phasewatch.registry.db import transaction

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.registry.analysis import Analysis


def analyze(engine: Engine, lab: str, x: float, y: float, fit_id: int | None = None) -> Analysis:
    """A hypothetical release's h-field (95 % HDI) and whether ``y`` lies in its lab's 95 %
    predictive interval, against fit ``fit_id`` (default: the latest accepted fit). An
    unknown lab is analysed as a new one (its effect drawn from the hierarchy). Numpy only:
    nothing is refitted."""
    from phasewatch.registry.analysis import analyze_scores

    with transaction(engine) as session:
        return analyze_scores(session, lab, x, y, fit_id)
