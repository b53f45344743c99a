"""Export and import: round trips, idempotent re-import, all-or-nothing files."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError, PhasewatchError
from phasewatch.registry.io import COLUMNS, export_rows, import_rows, read_rows, render_export
from phasewatch.registry.queries import show_model
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from tests.helpers import table_counts

TODAY = dt.date(2026, 11, 23)


def _export(engine: Engine, fmt: str, panel: str | None = None) -> str:
    with transaction(engine) as session:
        return render_export(export_rows(session, panel), fmt, panel=panel)


def _add_user_data(engine: Engine) -> None:
    with transaction(engine) as session:
        add_release(
            session,
            ReleaseRequest(
                name="Nova Model 1",
                lab="Mistral",
                date="2026-07",
                open_weight=True,
                hf_repo="mistralai/Nova-1",
                scores=(ScoreInput("swe_bench_verified", 70.5), ScoreInput("hle", 30.25)),
                source_url="https://e.org/n",
                params_total_b=120.0,
                params_active_b=12.0,
            ),
            today=TODAY,
        )
        add_release(
            session,
            ReleaseRequest(
                name="Nova Model 1 (max)",
                lab="Mistral",
                date="2026-07",
                variant_of="Nova Model 1",
                scores=(ScoreInput("gpqa_diamond", 81.0),),
            ),
            today=TODAY,
        )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_round_trips_through_import(
    engine: Engine, new_registry: Callable[[], str], fmt: str, tmp_path: Path
) -> None:
    _add_user_data(engine)
    exported = _export(engine, fmt)
    path = tmp_path / f"export.{fmt}"
    path.write_text(exported)

    before = table_counts(engine)  # into the registry it came from: nothing changes
    with transaction(engine) as session:
        result = import_rows(session, read_rows(path), today=TODAY)
    assert result.new_observations == 0 and result.rows == before["observations"]
    assert table_counts(engine) == before

    other = make_engine(new_registry())  # into a fresh registry: the same export comes back out
    with transaction(other) as session:
        result = import_rows(session, read_rows(path), today=TODAY)
        assert show_model(session, "Nova Model 1 (max)").variant_of == "Nova Model 1"
    assert result.new_models == 2 and result.new_observations == 3
    assert _export(other, fmt) == exported
    other.dispose()


def test_panel_export_has_only_the_panel(engine: Engine) -> None:
    rows = list(csv.DictReader(_export(engine, "csv", "growing-pains-34").splitlines()))
    assert len(rows) == 68 and {r["reported_by"] for r in rows} == {"paper"}
    assert list(rows[0]) == list(COLUMNS)


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


GOOD = {
    "model": "Claude Opus 4.6",
    "lab": "",
    "benchmark": "hle",
    "value": "40.0",
    "reported_by": "third_party",
    "source_url": "https://example.org/a",
}


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"value": "150"}, InvalidInputError, r"row 3: score 150 .* outside \[0, 100\]"),
        ({"value": "high"}, InvalidInputError, "row 3: value 'high' is not a number"),
        ({"benchmark": "hel"}, NotFoundError, "row 3: unknown benchmark 'hel'"),
        (
            {"model": "Brand New 1"},
            InvalidInputError,
            "row 3: model 'Brand New 1' is not in the registry and the row names no lab",
        ),
        (
            {"model": "Brand New 1", "lab": "Antropic"},
            NotFoundError,
            "row 3: unknown lab 'Antropic'; did you mean 'Anthropic'",
        ),
        ({"reported_by": "someone"}, InvalidInputError, "row 3: unknown reporter"),
        ({"reported_by": ""}, InvalidInputError, "row 3: reported_by is empty"),
    ],
)
def test_file_with_one_bad_row_imports_nothing(
    engine: Engine, tmp_path: Path, bad: dict[str, str], error: type[PhasewatchError], message: str
) -> None:
    rows = [GOOD, {**GOOD, "benchmark": "ifeval", "value": "90.0"}, {**GOOD, "value": "41.0", **bad}]
    path = _write_csv(tmp_path / "scores.csv", rows)
    before = table_counts(engine)
    with pytest.raises(error, match=message):
        with transaction(engine) as session:
            import_rows(session, read_rows(path), today=TODAY)
    assert table_counts(engine) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scores.json", "{not json", "not valid JSON"),
        ("scores.json", '{"rows": []}', "holds no list of observations"),
        ("scores.xlsx", "x", "unknown file type"),
        ("scores.csv", "model,value\nx,1\n", "lacks the column"),
    ],
)
def test_unreadable_files_are_rejected(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        read_rows(path)


def test_json_import_accepts_a_plain_list(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    path.write_text(json.dumps([GOOD]))
    with transaction(engine) as session:
        assert import_rows(session, read_rows(path), today=TODAY).new_observations == 1
