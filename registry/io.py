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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from phasewatch.registry.catalog import Catalog, check_hf_repo, check_reported_by
from phasewatch.registry.dates import format_partial_date, parse_past_date
from phasewatch.registry.errors import InvalidInputError, PhasewatchError
from phasewatch.registry.schema import Model, ModelKind, Observation, PanelObservation

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


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of an export file (CSV or JSON), before validation."""
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}", "give the path of a .csv or .json export")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text", "save it as UTF-8 CSV or JSON") from None
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInputError(
                f"{path.name} lacks the column(s) {', '.join(missing)}", f"a CSV needs {', '.join(REQUIRED)}"
            )
        return list(reader)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{path.name} is not valid JSON: {exc}", "fix the file or export it again"
            ) from None
        rows = data.get("observations") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInputError(
                f"{path.name} holds no list of observations", 'expected {"observations": [{...}, ...]}'
            )
        return rows
    raise InvalidInputError(
        f"cannot import {path.name}: unknown file type {suffix or '(none)'}", "use a .csv or .json file"
    )


def import_rows(session: Session, rows: Iterable[dict[str, Any]], *, today: dt.date) -> ImportResult:
    """Validate and import every row, or raise naming the first bad row.

    Runs inside the caller's transaction, so a file with one bad row imports
    nothing.
    """
    catalog = Catalog(session, bulk=True)
    rows = list(rows)
    pending_variants: list[tuple[Model, str, str]] = []
    for number, raw in enumerate(rows, start=1):
        where = f"row {number}"
        try:
            _import_row(catalog, raw, where, today, pending_variants)
        except PhasewatchError as exc:
            if exc.message.startswith(where):
                raise
            raise type(exc)(f"{where}: {exc.message}", exc.hint) from None
    for model, name, where in pending_variants:
        try:
            model.variant_of = catalog.model(name)
        except PhasewatchError as exc:
            raise type(exc)(f"{where}: variant_of: {exc.message}", exc.hint) from None
    session.flush()
    return ImportResult(rows=len(rows), new_observations=catalog.counts.observations, new_models=catalog.counts.models)


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


def _import_row(
    catalog: Catalog, raw: dict[str, Any], where: str, today: dt.date, pending_variants: list[tuple[Model, str, str]]
) -> None:
    for key in REQUIRED:
        if _text(raw, key) is None:
            raise InvalidInputError(f"{where}: {key} is empty", f"every row needs {', '.join(REQUIRED)}")
    benchmark = catalog.benchmark(_text(raw, "benchmark") or "")
    value = _number(raw, "value")
    assert value is not None
    reported_by = check_reported_by(_text(raw, "reported_by") or "")
    retrieved = _text(raw, "retrieved_on")
    retrieved_on = None
    if retrieved:
        retrieved_on, precision = parse_past_date(retrieved, what="retrieved_on", today=today)
        if precision != "day":
            raise InvalidInputError(f"retrieved_on {retrieved!r} is not a full date", "write it as YYYY-MM-DD")
    name = _text(raw, "model") or ""
    model = catalog.find_model(name)
    if model is None:
        model = _create_model(catalog, raw, name, today)
        if variant := _text(raw, "variant_of"):
            pending_variants.append((model, variant, where))
    retracted = _text(raw, "retracted_on")
    retracted_on = parse_past_date(retracted, what="retracted_on", today=today)[0] if retracted else None
    observation, _ = catalog.add_observation(
        model,
        benchmark,
        value,
        reported_by=reported_by,
        stderr=_number(raw, "stderr"),
        setting=_text(raw, "setting"),
        source_url=_text(raw, "source_url"),
        retrieved_on=retrieved_on,
        note=_text(raw, "note"),
        where=where,
    )
    if retracted_on is not None and observation.retracted_on is None:  # a correction travels with the export
        observation.retracted_on = retracted_on


def _create_model(catalog: Catalog, raw: dict[str, Any], name: str, today: dt.date) -> Model:
    lab_name = _text(raw, "lab")
    if lab_name is None:
        raise InvalidInputError(f"model {name!r} is not in the registry and the row names no lab", "add a lab column")
    lab = catalog.lab(lab_name)
    day = precision = None
    if date_text := _text(raw, "release_date"):
        day, precision = parse_past_date(date_text, what="release_date", today=today)
    kind_text = _text(raw, "kind") or ModelKind.FRONTIER.value
    try:
        kind = ModelKind(kind_text)
    except ValueError:
        raise InvalidInputError(f"unknown kind {kind_text!r}", "use frontier or base") from None
    hf_repo = _text(raw, "hf_repo")
    return catalog.add_model(
        name,
        lab,
        kind=kind,
        release_date=day,
        release_date_precision=precision,
        family=_text(raw, "family"),
        open_weight=_flag(raw, "open_weight"),
        hf_repo=check_hf_repo(hf_repo) if hf_repo else None,
        hf_revision=_text(raw, "hf_revision"),
        params_total_b=_number(raw, "params_total_b"),
        params_active_b=_number(raw, "params_active_b"),
    )
