"""``analyze`` called from Python against a stored fit: the verdict is the interval's."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from phasewatch.registry.errors import NotFoundError, UnconvergedFitError
from phasewatch.services.analysis import analyze

pytestmark = pytest.mark.slow  # the fitted registry samples one fit per session


def test_a_score_inside_and_one_far_outside_the_labs_interval(fitted_engine: Engine) -> None:
    centre = analyze(fitted_engine, "OpenAI", 70.0, 0.0)
    predicted = centre.check.predicted
    assert predicted.low < predicted.mean < predicted.high
    inside = analyze(fitted_engine, "OpenAI", 70.0, predicted.mean)
    outside = analyze(fitted_engine, "OpenAI", 70.0, min(predicted.high + 20.0, 100.0))
    assert inside.inside and inside.fit_id == centre.fit_id
    assert (outside.inside, outside.check.predicted) == (False, predicted)  # the same interval, another y
    assert outside.check.h.mean > inside.check.h.mean  # a higher y for the same x: a larger h-field
    new_lab = analyze(fitted_engine, "Nowhere Labs", 70.0, predicted.mean)
    assert not new_lab.check.lab_known  # a new lab: its effect drawn from the hierarchy


def test_without_a_fit_it_says_so(engine: Engine) -> None:
    with pytest.raises((NotFoundError, UnconvergedFitError)):
        analyze(engine, "OpenAI", 70.0, 80.0)
