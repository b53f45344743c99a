"""Export and import: round trips, idempotent re-import, all-or-nothing files."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from phasewatch.registry import io as io_module
from phasewatch.registry.db import make_engine, transaction
from phasewatch.registry.errors import InvalidInputError, NotFoundError, PhasewatchError
from phasewatch.registry.io import COLUMNS, export_rows, import_rows, read_rows, render_export
from phasewatch.registry.queries import show_model
from phasewatch.registry.releases import ReleaseRequest, ScoreInput, add_release
from phasewatch.registry.schema import Observation
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

    assert any(row.get("tier") for row in read_rows(path))  # the bundled tiers travel with their models
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


# --- streaming import in batches (issue #16) ---------------------------------------------


def _scale_rows(n_models: int, per_model: int = 3, *, start: int = 0) -> list[dict[str, str]]:
    benchmarks = ("swe_bench_verified", "gpqa_diamond", "hle", "ifeval", "mmlu_pro")[:per_model]
    return [
        {
            "model": f"Batch Model {i:05d}",
            "lab": ("Anthropic", "OpenAI", "DeepSeek")[i % 3],
            "release_date": f"2025-{1 + i % 12:02d}",
            "benchmark": key,
            "value": f"{(i * 7 + j * 13) % 90 + 5}.5",
            "reported_by": "third_party",
            "source_url": f"https://bench.example/{i}",
        }
        for i in range(start, start + n_models)
        for j, key in enumerate(benchmarks)
    ]


def test_a_bad_row_late_in_a_large_file_writes_nothing_and_names_the_row(engine: Engine, tmp_path: Path) -> None:
    rows = _scale_rows(2_000)  # 6,000 rows: three batches of 2,000 are written before the bad one is read
    rows[5_998] = {**rows[5_998], "value": "101"}
    path = _write_csv(tmp_path / "big.csv", rows)
    before = table_counts(engine)
    with pytest.raises(InvalidInputError, match=r"^row 5999: score 101 for gpqa_diamond is outside \[0, 100\]"):
        with transaction(engine) as session:
            import_rows(session, read_rows(path), today=TODAY)
    assert table_counts(engine) == before


def test_rows_are_written_a_batch_at_a_time_not_held(engine: Engine) -> None:
    """The import pulls rows lazily and writes each full batch before reading on, so memory is
    bounded by the batch: when row 2 × batch + 1 is pulled, two batches are already in the table."""
    seen: dict[int, int] = {}

    def rows(session: Session) -> Iterator[dict[str, str]]:
        for number, row in enumerate(_scale_rows(400), start=1):
            if number in (1, 201, 401):
                seen[number] = session.scalar(select(func.count()).select_from(Observation)) or 0
            yield row

    with transaction(engine) as session:
        base = session.scalar(select(func.count()).select_from(Observation)) or 0
        result = import_rows(session, rows(session), today=TODAY, batch_size=200)
    assert seen == {1: base, 201: base + 200, 401: base + 400}
    assert (result.rows, result.new_observations, result.new_models) == (1_200, 1_200, 400)


def test_an_interrupted_import_leaves_nothing(engine: Engine) -> None:
    def rows() -> Iterator[dict[str, str]]:
        yield from _scale_rows(300)
        raise KeyboardInterrupt  # Ctrl-C after 900 rows, 4 batches written

    before = table_counts(engine)
    with pytest.raises(KeyboardInterrupt):
        with transaction(engine) as session:
            import_rows(session, rows(), today=TODAY, batch_size=200)
    assert table_counts(engine) == before


def test_repeats_corrections_and_late_variants_across_batches(engine: Engine) -> None:
    first = _scale_rows(4)  # 12 rows
    variant = {**first[0], "model": "Batch Variant", "variant_of": "Batch Model 00009", "benchmark": "hle"}
    again = {**first[1], "retracted_on": "2026-01-05"}  # the same figure, now corrected, in a later batch
    rows = [variant, *first, first[2], again, *_scale_rows(6, start=4)]  # the variant's model comes last
    with transaction(engine) as session:
        result = import_rows(session, rows, today=TODAY, batch_size=5)
        assert show_model(session, "Batch Variant").variant_of == "Batch Model 00009"
        retracted = [o.retracted_on for o in show_model(session, first[1]["model"]).observations]
    assert (result.rows, result.new_models, result.new_observations, result.already_present) == (33, 11, 31, 2)
    assert retracted.count("2026-01-05") == 1
    with transaction(engine) as session:  # the same file again: nothing new
        assert import_rows(session, rows, today=TODAY, batch_size=7).new_observations == 0


def test_an_unknown_variant_names_its_row(engine: Engine) -> None:
    rows = [*_scale_rows(3), {**_scale_rows(1, start=9)[0], "variant_of": "No Such Model"}]
    before = table_counts(engine)
    with pytest.raises(NotFoundError, match="^row 10: variant_of: unknown model 'No Such Model'"):
        with transaction(engine) as session:
            import_rows(session, rows, today=TODAY, batch_size=4)
    assert table_counts(engine) == before


def test_the_first_bad_row_is_named_even_inside_a_batch(engine: Engine) -> None:
    rows = _scale_rows(3)
    rows[1] = {**rows[1], "model": "Brand New 2", "lab": "Antropic"}  # found only when its model is created
    rows[4] = {**rows[4], "benchmark": "hel"}  # found while reading
    with pytest.raises(NotFoundError, match="^row 2: unknown lab 'Antropic'"):
        with transaction(engine) as session:
            import_rows(session, rows, today=TODAY, batch_size=100)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("model", "Evil\x1b[2J Model", "row 3: model 'Evil.*control character"),
        ("source_url", "https://x.example/" + "a" * 2_000, "row 3: source_url is 2,018 characters long"),
        ("setting", "pass@1\x07", "row 3: setting .*control character"),
    ],
)
def test_imported_text_meets_the_same_limits_as_every_other_way_in(
    engine: Engine, column: str, value: str, message: str
) -> None:
    rows = _scale_rows(1)
    rows[2] = {**rows[2], column: value}  # bulk inserts skip the ORM's flush check, so the importer checks
    before = table_counts(engine)
    with pytest.raises(InvalidInputError, match=f"^{message}"):
        with transaction(engine) as session:
            import_rows(session, rows, today=TODAY)
    assert table_counts(engine) == before


def _json_text(rows: list[dict[str, str]], layout: str) -> str:
    if layout == "list":
        return json.dumps(rows, indent=1)
    if layout == "export":
        return render_export(rows, "json")  # type: ignore[arg-type]
    # keys after the list, odd spacing and strings full of JSON punctuation
    return (
        '  {"panel" : {"a": [1, "]}"]}, "observations":[\n'
        + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
        + '\n ] , "format": "phasewatch-observations/1", "n": 1.5e3 }\n'
    )


@pytest.mark.parametrize("layout", ["list", "export", "odd"])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
def test_json_rows_stream_in_any_layout_and_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, chunk: int
) -> None:
    monkeypatch.setattr(io_module, "_READ", chunk)
    rows = _scale_rows(4)
    rows[0] = {**rows[0], "note": 'quote " bracket ] brace } comma , \\ backslash, é ü 漢'}
    rows[1] = {**rows[1], "value": 12345.678e-3}  # type: ignore[dict-item]
    path = tmp_path / "rows.json"
    path.write_text(_json_text(rows, layout), encoding="utf-8")
    assert list(read_rows(path)) == json.loads(json.dumps(rows))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"model": "a"}, 5]', "row 2 is not an object"),
        ('[{"model": "a"}] x', "not valid JSON: extra data"),
        ('[{"model": "a"}, {"model": ', "not valid JSON"),
        ('[{"model": "a"} {"model": "b"}]', "not valid JSON: expected ',' or ']'"),
        ('{"observations": 3}', "holds no list of observations"),
    ],
)
def test_json_errors_found_while_streaming(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rows.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        list(read_rows(path))


def test_a_file_that_stops_being_utf8_is_named(engine: Engine, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "scores.csv", _scale_rows(3))
    path.write_bytes(path.read_bytes() + b"Batch Model 9,Anthropic,2025-01,hle,\xff\xfe,third_party,\n")
    before = table_counts(engine)
    with pytest.raises(InvalidInputError, match="is not UTF-8 text"):
        with transaction(engine) as session:
            import_rows(session, read_rows(path), today=TODAY)
    assert table_counts(engine) == before
