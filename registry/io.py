"""Exporting observations to CSV / JSON and importing them back.

The export is one row per observation with its model's metadata repeated, so
a file is self-contained: importing an export into a registry that lacks some
of its models creates them, and importing it where it came from changes
nothing (observations are matched by content fingerprint).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from phasewatch.registry.catalog import Catalog, check_hf_repo, check_reported_by, check_score, fingerprint
from phasewatch.registry.changes import MAX_LOGGED, end_log
from phasewatch.registry.dates import format_partial_date, parse_past_date
from phasewatch.registry.errors import ConflictError, InvalidInputError, PhasewatchError
from phasewatch.registry.names import name_key
from phasewatch.registry.schema import Benchmark, Model, ModelKind, ModelName, Observation, PanelObservation
from phasewatch.registry.validation import FAMILY, NAME, REVISION, TEXT, TIER, URL, Limit, check_text

FORMAT = "phasewatch-observations/1"
COLUMNS = (
    "model",
    "lab",
    "kind",
    "family",
    "release_date",
    "open_weight",
    "hf_repo",
    "hf_revision",
    "params_total_b",
    "params_active_b",
    "variant_of",
    "tier",
    "benchmark",
    "value",
    "stderr",
    "setting",
    "source_url",
    "reported_by",
    "retrieved_on",
    "note",
    "retracted_on",
)
REQUIRED = ("model", "benchmark", "value", "reported_by")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    new_observations: int
    new_models: int

    @property
    def already_present(self) -> int:
        return self.rows - self.new_observations


# --- export ----------------------------------------------------------------------------


def export_rows(session: Session, panel: str | None = None) -> list[dict[str, Any]]:
    """Every observation (or a panel's), as plain dicts in a stable order."""
    query = select(Observation).options(
        selectinload(Observation.model).selectinload(Model.lab),
        selectinload(Observation.model).selectinload(Model.variant_of),
        selectinload(Observation.benchmark),
    )
    if panel is not None:
        chosen = Catalog(session).panel(panel)
        query = query.join(PanelObservation).where(PanelObservation.panel_id == chosen.id)
    rows = [_row(o) for o in session.scalars(query)]
    rows.sort(
        key=lambda r: (r["model"].casefold(), r["benchmark"], r["value"], r["source_url"] or "", r["setting"] or "")
    )
    return rows


def _row(o: Observation) -> dict[str, Any]:
    m = o.model
    return {
        "model": m.name,
        "lab": m.lab.name,
        "kind": m.kind,
        "family": m.family,
        "release_date": format_partial_date(m.release_date, m.release_date_precision) or None,
        "open_weight": m.open_weight,
        "hf_repo": m.hf_repo,
        "hf_revision": m.hf_revision,
        "params_total_b": m.params_total_b,
        "params_active_b": m.params_active_b,
        "variant_of": m.variant_of.name if m.variant_of else None,
        "tier": m.tier,
        "benchmark": o.benchmark.key,
        "value": o.value,
        "stderr": o.stderr,
        "setting": o.setting,
        "source_url": o.source_url,
        "reported_by": o.reported_by,
        "retrieved_on": o.retrieved_on.isoformat() if o.retrieved_on else None,
        "note": o.note,
        "retracted_on": o.retracted_on.isoformat() if o.retracted_on else None,
    }


FORMATS = ("csv", "json")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown export format {fmt!r}", "use --format csv or --format json")
    return fmt


def render_export(rows: list[dict[str, Any]], fmt: str, *, panel: str | None = None) -> str:
    check_format(fmt)
    if fmt == "json":
        return json.dumps({"format": FORMAT, "panel": panel, "observations": rows}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# --- import ----------------------------------------------------------------------------


ROWS_PER_BATCH = 2000  # rows validated and written together: the import's memory is bounded by this, not the file
_CHUNK = 500  # values per IN (...): well inside every driver's parameter limit
_READ = 1 << 16  # characters read from a JSON file at a time


class RowSource:
    """The rows of an export file (CSV or JSON), read as they are consumed.

    Opening checks what can be checked at once (the file exists, its type, a CSV's
    header, a JSON file's outline up to its first row); each iteration reads the file
    again from the start, a buffer at a time, so a million-row file is never held.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidInputError(f"no such file: {path}", "give the path of a .csv or .json export")
        self.path = path
        self.kind = path.suffix.lower()
        if self.kind not in (".csv", ".json"):
            raise InvalidInputError(
                f"cannot import {path.name}: unknown file type {self.kind or '(none)'}", "use a .csv or .json file"
            )
        for _ in self._rows(check_only=True):
            break

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._rows(check_only=False)

    def _rows(self, *, check_only: bool) -> Iterator[dict[str, Any]]:
        name = self.path.name
        number = 0
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                if self.kind == ".csv":
                    reader = csv.DictReader(handle)
                    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
                    if missing:
                        raise InvalidInputError(
                            f"{name} lacks the column(s) {', '.join(missing)}", f"a CSV needs {', '.join(REQUIRED)}"
                        )
                    if check_only:
                        return
                    for number, row in enumerate(reader, start=1):  # noqa: B007 (named in errors below)
                        yield row
                else:
                    stream = _JsonRows(handle, name)
                    stream.open_list()
                    if check_only:
                        return
                    for number, row in enumerate(stream, start=1):  # noqa: B007
                        yield row
        except UnicodeDecodeError:
            where = f" (after row {number})" if number else ""
            raise InvalidInputError(f"{name} is not UTF-8 text{where}", "save it as UTF-8 CSV or JSON") from None
        except csv.Error as exc:
            raise InvalidInputError(f"{name}: row {number + 1} is not valid CSV: {exc}", "fix the file") from None


def read_rows(path: Path) -> RowSource:
    """The rows of an export file (CSV or JSON), before validation, read lazily."""
    return RowSource(path)


_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_TAIL = re.compile(r"[0-9.eE+\-]*")


class _JsonRows:
    """The objects of a JSON export's ``observations`` list (or of a top-level list), one at
    a time: only the current row and a read buffer are held."""

    def __init__(self, handle: IO[str], name: str) -> None:
        self.handle, self.name = handle, name
        self.buffer, self.pos, self.consumed, self.eof = "", 0, 0, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> None:
        chunk = self.handle.read(_READ)
        if not chunk:
            self.eof = True
            return
        self.consumed += self.pos
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0

    def _peek(self) -> str:
        while True:
            self.pos = _SPACE.match(self.buffer, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if self.eof:
                return ""
            self._fill()

    def _bad(self, what: str) -> InvalidInputError:
        return InvalidInputError(
            f"{self.name} is not valid JSON: {what} at character {self.consumed + self.pos + 1}",
            "fix the file or export it again",
        )

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or not (exc.pos >= len(self.buffer) - 8 or exc.msg.startswith("Unterminated")):
                    self.pos = exc.pos
                    raise self._bad(exc.msg) from None
                self._fill()
                continue
            if not self.eof and _NUMBER_TAIL.match(self.buffer, end).end() == len(self.buffer):  # type: ignore[union-attr]
                self._fill()  # a number (or what follows a value) may go on in the next chunk: "1" of "1.5e3"
                continue
            self.pos = end
            return value

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._bad(f"expected {char!r}")
        self.pos += 1

    def _no_list(self) -> InvalidInputError:
        return InvalidInputError(
            f"{self.name} holds no list of observations", 'expected {"observations": [{...}, ...]}'
        )

    def open_list(self) -> None:
        """Read up to the first row: a top-level list, or an object's ``observations`` list."""
        first = self._peek()
        if first == "[":
            self.pos += 1
            self._outer = False
            return
        if first != "{":
            if first and first not in '"-0123456789tfn':
                raise self._bad("expecting value")
            self._value()
            raise self._no_list()
        self.pos += 1
        self._outer = True
        while True:
            if self._peek() == "}":
                raise self._no_list()
            key = self._value()
            if not isinstance(key, str):
                raise self._bad("expecting property name")
            self._expect(":")
            if key == "observations":
                if self._peek() != "[":
                    raise self._no_list()
                self.pos += 1
                return
            self._value()
            if self._peek() == ",":
                self.pos += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        number = 0
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                number += 1
                row = self._value()
                if not isinstance(row, dict):
                    raise InvalidInputError(
                        f"{self.name}: row {number} is not an object", 'each observation is {"model": ..., ...}'
                    )
                yield row
                following = self._peek()
                self.pos += 1
                if following == "]":
                    break
                if following != ",":
                    self.pos -= 1
                    raise self._bad("expected ',' or ']'")
        if self._outer:  # the rest of the object: other keys, then its end
            while self._peek() == ",":
                self.pos += 1
                self._value()
                self._expect(":")
                self._value()
            self._expect("}")
        if self._peek():
            raise self._bad("extra data")


class _Row(NamedTuple):  # a NamedTuple: built once per row, ~5x cheaper than a frozen dataclass
    """One validated row, before its model is known to exist."""

    number: int
    raw: dict[str, str | None]  # every cell stripped, empty as None
    model_name: str
    model_key: str
    benchmark_id: int
    benchmark_key: str
    value: float
    stderr: float | None
    setting: str | None
    source_url: str | None
    reported_by: str
    retrieved_on: dt.date | None
    note: str | None
    retracted_on: dt.date | None


def _at(number: int, exc: PhasewatchError) -> PhasewatchError:
    """``exc`` with its row number in front (once)."""
    where = f"row {number}"
    if exc.message.startswith(where):
        return exc
    return type(exc)(f"{where}: {exc.message}", exc.hint)


class _Importer:
    """Validates rows and writes them a batch at a time (plain INSERTs, many rows each),
    looking models and fingerprints up per batch; the caller's transaction makes it all
    or nothing."""

    def __init__(self, session: Session, today: dt.date) -> None:
        self.session = session
        self.connection = session.connection()
        self.catalog = Catalog(session)  # labs and benchmarks: a few hundred rows, cached
        self.today = today
        self.dates: dict[tuple[str, str], tuple[dt.date, str]] = {}
        self.benchmarks: dict[str, Benchmark] = {}  # by the text as written in the file
        self.reporters: dict[str, str] = {}
        self.keys: dict[str, str] = {}  # model name as written -> name key (rows of a model come together)
        self.new_models = 0
        self.new_observations = 0
        self.variants: list[tuple[int, str, int]] = []  # (new model id, variant_of name, row)

    def _date(self, text: str, what: str) -> tuple[dt.date, str]:
        found = self.dates.get((text, what))
        if found is None:
            if len(self.dates) > 10_000:
                self.dates.clear()
            day, precision = parse_past_date(text, what=what, today=self.today)
            found = self.dates[(text, what)] = (day, str(precision))
        return found

    def validate(self, raw: Any, number: int) -> _Row:
        try:
            return self._validate(raw, number)
        except PhasewatchError as exc:
            raise _at(number, exc) from None

    def _validate(self, raw: dict[str, Any], number: int) -> _Row:
        where = f"row {number}"
        # every cell stripped once, empty as None (an extra CSV cell has the key None and is dropped)
        cells = {k: (v if type(v) is str else str(v)).strip() or None for k, v in raw.items() if v is not None and k}
        for key in REQUIRED:
            if cells.get(key) is None:
                raise InvalidInputError(f"{where}: {key} is empty", f"every row needs {', '.join(REQUIRED)}")
        for column, limit in TEXT_LIMITS.items():  # the bulk insert bypasses the ORM's flush check
            if (text := cells.get(column)) is not None:
                check_text(text, f"{where}: {column}", limit)
        benchmark_text, reporter_text, name = cells["benchmark"], cells["reported_by"], cells["model"]
        benchmark = self.benchmarks.get(benchmark_text)  # type: ignore[arg-type]
        if benchmark is None:
            benchmark = self.benchmarks[benchmark_text] = self.catalog.benchmark(benchmark_text or "")  # type: ignore[index]
        value = _number(cells, "value")
        assert value is not None
        reported_by = self.reporters.get(reporter_text)  # type: ignore[arg-type]
        if reported_by is None:
            reported_by = self.reporters[reporter_text] = str(check_reported_by(reporter_text or ""))  # type: ignore[index]
        retrieved = cells.get("retrieved_on")
        retrieved_on = None
        if retrieved:
            retrieved_on, precision = self._date(retrieved, "retrieved_on")
            if precision != "day":
                raise InvalidInputError(f"retrieved_on {retrieved!r} is not a full date", "write it as YYYY-MM-DD")
        retracted = cells.get("retracted_on")
        retracted_on = self._date(retracted, "retracted_on")[0] if retracted else None
        if not 0.0 <= value <= 100.0:
            check_score(value, benchmark=benchmark.key, where=where)  # raises, worded as everywhere else
        stderr = _number(cells, "stderr")
        if stderr is not None and stderr < 0:
            raise InvalidInputError(f"{where}: stderr {stderr:g} is negative", "give a standard error >= 0")
        key = self.keys.get(name)  # type: ignore[arg-type]
        if key is None:
            if len(self.keys) > 10_000:
                self.keys.clear()
            key = self.keys[name] = name_key(name or "")  # type: ignore[index]
        return _Row(
            number,
            cells,
            name or "",
            key,
            benchmark.id,
            benchmark.key,
            value,
            stderr,
            cells.get("setting"),
            cells.get("source_url"),
            reported_by,
            retrieved_on,
            cells.get("note"),
            retracted_on,
        )

    def _lookup(self, column: Any, key_column: Any, keys: Iterable[str], *extra: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            for key, *values in self.connection.execute(
                select(key_column, column, *extra).where(key_column.in_(chunk))
            ).all():
                found[key] = values[0] if not extra else tuple(values)
        return found

    def write(self, batch: list[_Row]) -> None:
        """Create the batch's new models, then insert its new observations and retract those it says."""
        if not batch:
            return
        model_ids = self._lookup(ModelName.model_id, ModelName.name_key, (r.model_key for r in batch))
        known = set(model_ids.values())
        self._create_models([r for r in batch if r.model_key not in model_ids], model_ids)
        fresh: dict[str, dict[str, Any]] = {}
        retract: dict[str, dt.date] = {}
        keys = []
        for row in batch:
            key = fingerprint(
                model_ids[row.model_key],
                row.benchmark_id,
                row.value,
                stderr=row.stderr,
                setting=row.setting or None,
                source_url=row.source_url or None,
                reported_by=row.reported_by,
            )
            keys.append((key, row))
        # a model created by this batch has no observation yet: only the others' fingerprints are looked up
        held = self._lookup(
            Observation.retracted_on,
            Observation.fingerprint,
            (k for k, row in keys if model_ids[row.model_key] in known),
        )
        for key, row in keys:
            if key in held:  # already in the registry: a correction travels with the export
                if row.retracted_on is not None and held[key] is None and key not in retract:
                    retract[key] = row.retracted_on
                continue
            pending = fresh.get(key)
            if pending is not None:  # the same figure twice in one batch: one observation
                if pending["retracted_on"] is None:
                    pending["retracted_on"] = row.retracted_on
                continue
            fresh[key] = {
                "model_id": model_ids[row.model_key],
                "benchmark_id": row.benchmark_id,
                "value": row.value,
                "stderr": row.stderr,
                "setting": row.setting or None,
                "source_url": row.source_url or None,
                "reported_by": row.reported_by,
                "retrieved_on": row.retrieved_on,
                "note": row.note or None,
                "fingerprint": key,
                "retracted_on": row.retracted_on,
            }
        if fresh:
            self._insert_observations(list(fresh.values()))
            self.new_observations += len(fresh)
        if retract:
            table = Observation.__table__
            self.connection.execute(
                update(table)
                .where(table.c.fingerprint == bindparam("key"), table.c.retracted_on.is_(None))
                .values(retracted_on=bindparam("day")),
                [{"key": k, "day": d} for k, d in retract.items()],
            )

    def _insert_observations(self, rows: list[dict[str, Any]]) -> None:
        """One many-row INSERT; on PostgreSQL a COPY, which the server takes several times faster."""
        if self.connection.dialect.name != "postgresql":
            self.connection.execute(insert(Observation.__table__), rows)
            return
        import psycopg

        columns = list(rows[0])
        cursor = self.connection.connection.cursor()  # the session's own connection and transaction
        try:
            with cursor.copy(f"COPY observations ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(tuple(row.values()))
        except psycopg.errors.IntegrityError:
            raise ConflictError(
                "another writer just added some of these observations", "run the import again: they will be skipped"
            ) from None
        finally:
            cursor.close()

    def _create_models(self, rows: list[_Row], model_ids: dict[str, int]) -> None:
        """Insert the models first named by these rows (validated as `releases add` would)."""
        new: dict[str, tuple[_Row, dict[str, Any]]] = {}
        for row in rows:
            if row.model_key not in new:
                try:
                    new[row.model_key] = (row, self._model_fields(row))
                except PhasewatchError as exc:
                    raise _at(row.number, exc) from None
        if not new:
            return
        try:
            ids = self.connection.execute(
                insert(Model.__table__).returning(Model.__table__.c.id, sort_by_parameter_order=True),
                [fields for _, fields in new.values()],
            ).scalars()
            created = dict(zip(new, ids, strict=True))
            self.connection.execute(
                insert(ModelName.__table__),
                [{"model_id": created[k], "name": new[k][1]["name"], "name_key": k} for k in new],
            )
        except IntegrityError:
            first = next(iter(new.values()))[0]
            raise ConflictError(
                f"row {first.number}: a model of this batch was just added by another writer",
                "run the import again: models already present are reused",
            ) from None
        model_ids.update(created)
        self.new_models += len(created)
        for key, (row, _) in new.items():
            if variant := _text(row.raw, "variant_of"):
                self.variants.append((created[key], variant, row.number))

    def _model_fields(self, row: _Row) -> dict[str, Any]:
        raw, name = row.raw, " ".join(row.model_name.split())
        lab_name = _text(raw, "lab")
        if lab_name is None:
            raise InvalidInputError(
                f"model {row.model_name!r} is not in the registry and the row names no lab", "add a lab column"
            )
        lab = self.catalog.lab(lab_name)
        day = precision = None
        if date_text := _text(raw, "release_date"):
            day, precision = self._date(date_text, "release_date")
        kind_text = _text(raw, "kind") or ModelKind.FRONTIER.value
        try:
            kind = ModelKind(kind_text)
        except ValueError:
            raise InvalidInputError(f"unknown kind {kind_text!r}", "use frontier or base") from None
        hf_repo = _text(raw, "hf_repo")
        fields: dict[str, Any] = {
            "name": name,
            "lab_id": lab.id,
            "kind": str(kind),
            "release_date": day,
            "release_date_precision": precision,
            "family": _text(raw, "family"),
            "open_weight": _flag(raw, "open_weight"),
            "hf_repo": check_hf_repo(hf_repo) if hf_repo else None,
            "hf_revision": _text(raw, "hf_revision"),
            "params_total_b": _number(raw, "params_total_b"),
            "params_active_b": _number(raw, "params_active_b"),
            "tier": _text(raw, "tier"),
        }
        for label in ("params_total_b", "params_active_b"):
            value = fields[label]
            if value is not None and value <= 0:
                raise InvalidInputError(f"{label} must be positive, got {value}", f"give {label} as a positive number")
        return fields

    def link_variants(self) -> None:
        """Point each new variant at its model, which may come later in the file than the variant."""
        if not self.variants:
            return
        targets = self._lookup(ModelName.model_id, ModelName.name_key, (name_key(n) for _, n, _ in self.variants))
        links = []
        for model_id, name, number in self.variants:
            target = targets.get(name_key(name))
            if target is None:
                try:
                    Catalog(self.session).model(name)  # raises, with its "did you mean"
                except PhasewatchError as exc:
                    raise type(exc)(f"row {number}: variant_of: {exc.message}", exc.hint) from None
            links.append({"id_": model_id, "target": target})
        table = Model.__table__
        self.connection.execute(
            update(table).where(table.c.id == bindparam("id_")).values(variant_of_id=bindparam("target")), links
        )


# The same limits as every other way in (docs/cli.md's input limits table).
TEXT_LIMITS: dict[str, Limit] = {
    "model": NAME,
    "lab": NAME,
    "family": FAMILY,
    "tier": TIER,
    "hf_revision": REVISION,
    "source_url": URL,
    "setting": TEXT,
    "note": TEXT,
}


def import_rows(
    session: Session, rows: Iterable[dict[str, Any]], *, today: dt.date, batch_size: int = ROWS_PER_BATCH
) -> ImportResult:
    """Validate and import every row, or raise naming the first bad row.

    Rows are read, validated and written ``batch_size`` at a time inside the
    caller's transaction, so memory is bounded by a batch and a file with one bad
    row (or an interrupted import) leaves nothing behind when it rolls back.
    """
    importer = _Importer(session, today)
    batch: list[_Row] = []
    number = 0
    for number, raw in enumerate(rows, start=1):
        try:
            row = importer.validate(raw, number)
        except PhasewatchError:
            importer.write(batch)  # an earlier row's error (e.g. an unknown lab) comes first
            raise
        batch.append(row)
        if number == MAX_LOGGED + 1:
            end_log(session)  # too many figures for the observation log to be worth reading
        if len(batch) >= batch_size:
            importer.write(batch)
            batch = []
    importer.write(batch)
    importer.link_variants()
    return ImportResult(rows=number, new_observations=importer.new_observations, new_models=importer.new_models)


def _text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(raw: dict[str, Any], key: str) -> float | None:
    text = _text(raw, key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{key} {text!r} is not a number", f"write {key} as a plain number") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{key} {text!r} is not a finite number", f"write {key} as a plain number")
    return value


def _flag(raw: dict[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "none"):
        return None
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise InvalidInputError(f"{key} {value!r} is not yes/no", f"write {key} as yes or no")
