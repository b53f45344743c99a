"""The input contract (registry/validation.py), the enumerations and the exit codes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, String

from phasewatch.migrations import HEAD_REVISION
from phasewatch.models import coupling
from phasewatch.models.errors import ModelInputError, SteeringError
from phasewatch.registry import enums, validation
from phasewatch.registry.db import downgrade_plan, transaction
from phasewatch.registry.errors import EXIT_CODES, InvalidInputError, NotFoundError, PhasewatchError
from phasewatch.registry.schema import Base, Lab, LabName, Observation
from tests.helpers import table_counts

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_every_limit_fits_its_column() -> None:
    for (table, column), limit in validation.COLUMNS.items():
        type_ = Base.metadata.tables[table].columns[column].type
        assert isinstance(type_, String)
        if type_.length is not None:
            assert limit.max_chars <= type_.length, (table, column, limit.max_chars, type_.length)


def test_docs_list_every_limit_and_exit_code_once() -> None:
    text = DOCS.read_text(encoding="utf-8")
    limits = text[text.index("## Input limits") : text.index("Numbers are finite")]
    for limit in validation.LIMITS:
        assert f"| {limit.max_chars:,} |" in limits, limit
    assert text.count("## Exit codes") == 1
    codes = text[text.index("## Exit codes") : text.index("## Input limits")]
    assert [int(c) for c in re.findall(r"^\| (\d) \|", codes, re.M)] == sorted(EXIT_CODES)


def test_docs_list_every_choice() -> None:
    text = DOCS.read_text(encoding="utf-8")
    choices = text[text.index("Choices (case-insensitive") :]
    for kind in (enums.ModelKind, enums.ReportedBy, enums.JobStatus, enums.Sampler, enums.Link, enums.Pooling):
        assert ", ".join(f"`{m.value}`" for m in kind) in choices, kind


@pytest.mark.parametrize(
    ("value", "limit", "says"),
    [
        ("x" * 201, validation.NAME, "201 characters long"),
        ("Evil\x1b[2J", validation.NAME, "control character '\\x1b' at position 5"),
        ("a\nb", validation.NAME, "control character '\\n'"),
        ("a\x85b", validation.NAME, "control character '\\x85'"),
        ("   ", validation.NAME, "is empty"),
        ("a\x1bb", validation.TEXT, "control character"),
        ("x" * 10_001, validation.TEXT, "10,001 characters"),
        ({"a": 1}, validation.TEXT, "must be text, not an object"),
    ],
)
def test_check_text_refuses(value: object, limit: validation.Limit, says: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(says)):
        validation.check_text(value, "--name", limit)  # type: ignore[arg-type]


def test_check_text_accepts_and_previews_briefly() -> None:
    assert validation.check_text("x" * 200, "--name") == "x" * 200
    assert validation.check_text("line one\n\tline two", "--reason", validation.TEXT)
    with pytest.raises(InvalidInputError) as caught:
        validation.check_text("y" * 10_000, "--name")
    assert len(str(caught.value)) < 300


def test_finite_numbers() -> None:
    assert validation.check_finite(1.5, "--x") == 1.5
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidInputError, match="not a finite number"):
            validation.check_finite(bad, "--x")
    with pytest.raises(InvalidInputError, match="holds nan"):
        validation.check_json({"pass": {"all": [{"value": math.nan}]}}, "criterion")


def test_every_flush_obeys_the_contract(engine: Engine) -> None:
    """A value reaching the ORM another way than an option is refused before the driver sees it,
    the same on SQLite and PostgreSQL, and the transaction leaves nothing behind."""
    before = table_counts(engine)
    for lab in (Lab(name="L" * 300), Lab(name="Evil\x1b[2J")):
        with pytest.raises(InvalidInputError, match="lab name"), transaction(engine) as session:
            session.add(lab)
            session.add(LabName(lab=lab, name="ok", name_key="ok"))
    with pytest.raises(InvalidInputError, match="not a finite number"), transaction(engine) as session:
        observation = session.query(Observation).first()
        assert observation is not None
        observation.value = math.nan
    assert table_counts(engine) == before


def test_downgrade_plan_names_what_it_drops(engine: Engine) -> None:
    assert downgrade_plan(engine, HEAD_REVISION) == []
    dropped = {
        "coupling_matrix_fits",
        "nc_results",
        "fits.posterior_tree",
        "models.tier",
        "registry_state",
        "grading_inputs",
        "observation_changes",
        "registry_state.logged_from",
        "registry_state.logged_data_from",
    }  # 0009's indexes drop no data
    assert set(downgrade_plan(engine, "0008")) == dropped
    plan = downgrade_plan(engine, "0007")
    assert {"hub_repos", "lab_hub_orgs", "steering_jobs.not_before"} <= set(plan)
    assert {"labs", "models", "observations"} <= set(downgrade_plan(engine, "base"))


def test_enumerations_match_the_science() -> None:
    assert {m.value for m in enums.Link} == set(coupling.LINKS)
    assert {m.value for m in enums.Pooling} == set(coupling.POOLINGS)
    assert {m.value for m in enums.Sampler} == set(coupling.SAMPLERS)
    from phasewatch.registry.coverage import METHODS

    assert {m.value for m in enums.CoverageMethod} == set(METHODS)
    assert enums.choices(enums.JobStatus) == "queued, running, done or failed"


def test_error_hierarchy_and_codes() -> None:
    assert issubclass(SteeringError, ModelInputError) and issubclass(ModelInputError, ValueError)
    assert NotFoundError.exit_code == 5 and InvalidInputError.exit_code == 2
    assert PhasewatchError.exit_code == 2
    with pytest.raises(ModelInputError, match="at least 3 points"):
        coupling.ols_trend([1.0, 2.0], [1.0, 2.0])
