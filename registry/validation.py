"""The input contract, in one place: lengths, characters and numbers every write obeys.

The limits are the program's, not the driver's, so SQLite (which would store a
10 kB name) and PostgreSQL (which would fail with ``value too long``) refuse the
same input with the same line. The CLI checks options with these functions before
it opens the database; :func:`install` adds the same checks to every ORM flush,
so a value arriving another way (a JSON or CSV file) is refused too, before the
driver sees it, and the transaction rolls back whole.

docs/cli.md lists :data:`LIMITS`; a test checks each one against its column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from phasewatch.registry.errors import InvalidInputError


@dataclass(frozen=True)
class Limit:
    """How long a kind of value may be, and which characters it may hold."""

    what: str  # for messages and docs: "a name"
    max_chars: int
    multiline: bool = False  # free text may hold newlines and tabs; names and keys may not


NAME = Limit("a lab, model or alias name", 200)
FAMILY = Limit("a model family", 100)
TIER = Limit("a model tier (the lab's product naming: Opus, Sonnet, Haiku, Pro, Flash, mini)", 50)
KEY = Limit("a benchmark key or category", 64)
PREDICTION_KEY = Limit("a prediction key", 100)
PANEL = Limit("a panel name", 100)
HF_REPO = Limit("a Hugging Face repo id (ORG/NAME)", 200)
REVISION = Limit("a Hugging Face revision", 100)
HUB_ORG = Limit("a Hub organisation", 100)
TITLE = Limit("a benchmark name, version or prediction title", 200)
URL = Limit("a URL", 2_000)
TEXT = Limit("free text (a setting, reason, description, note or statement)", 10_000, multiline=True)

LIMITS: tuple[Limit, ...] = (
    NAME,
    FAMILY,
    TIER,
    KEY,
    PREDICTION_KEY,
    PANEL,
    HF_REPO,
    REVISION,
    HUB_ORG,
    TITLE,
    URL,
    TEXT,
)

# C0 controls (ESC among them), DEL and C1 controls: a name holding them can clear a
# terminal or recolour a table when listed. Free text may keep newlines and tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def preview(value: str, width: int = 40) -> str:
    """A short, printable rendering of ``value`` for an error line (controls escaped)."""
    shown = value if len(value) <= width else value[: width - 1] + "…"
    return repr(shown)


def check_text(value: str, field: str, limit: Limit = NAME) -> str:
    """``value`` unchanged if it fits ``limit``; else :class:`InvalidInputError` naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{field} must be text, not {_kind(value)}", f'give {limit.what} as a string, e.g. "..."'
        )
    if len(value) > limit.max_chars:
        raise InvalidInputError(
            f"{field} is {len(value):,} characters long ({preview(value)}); {limit.what} has at most {limit.max_chars:,}",
            "shorten it (docs/cli.md lists the input limits)",
        )
    bad = (_CONTROL_IN_TEXT if limit.multiline else _CONTROL).search(value)
    if bad is not None:
        raise InvalidInputError(
            f"{field} {preview(value)} holds the control character {bad.group()!r} at position {bad.start() + 1}",
            "remove terminal escapes and control characters" + ("" if limit.multiline else " (names are one line)"),
        )
    if not limit.multiline and not value.strip():
        raise InvalidInputError(f"{field} is empty", f"give {limit.what}")
    return value


def check_finite(value: float, field: str) -> float:
    """``value`` unless it is NaN or infinite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{field} is {value}, not a finite number", "give an ordinary number, e.g. 1.5")
    return value


def check_json(value: Any, field: str) -> Any:
    """``value`` unless it holds a NaN or infinite number anywhere (JSON has none)."""
    for number in _numbers(value):
        if not math.isfinite(number):
            raise InvalidInputError(f"{field} holds {number}, which JSON cannot represent", "use a finite number")
    return value


def _numbers(value: Any) -> Iterable[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _numbers(item)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", tuple: "a list", bool: "true/false", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


# --- every ORM write ------------------------------------------------------------------

# (table, column) -> the limit its values obey. Columns of type String not listed are
# internal (hashes, states, enum values) and are checked against their length only.
COLUMNS: dict[tuple[str, str], Limit] = {
    ("labs", "name"): NAME,
    ("lab_names", "name"): NAME,
    ("lab_names", "name_key"): NAME,
    ("models", "name"): NAME,
    ("model_names", "name"): NAME,
    ("model_names", "name_key"): NAME,
    ("models", "family"): FAMILY,
    ("models", "tier"): TIER,
    ("models", "hf_repo"): HF_REPO,
    ("models", "hf_revision"): REVISION,
    ("models", "notes"): TEXT,
    ("benchmarks", "key"): KEY,
    ("benchmarks", "category"): KEY,
    ("benchmarks", "name"): TITLE,
    ("benchmarks", "version"): TITLE,
    ("benchmarks", "description"): TEXT,
    ("benchmarks", "url"): URL,
    ("benchmarks", "standard_setting"): TEXT,
    ("benchmarks", "nonstandard_markers"): TEXT,
    ("observations", "setting"): TEXT,
    ("observations", "source_url"): URL,
    ("observations", "note"): TEXT,
    ("panels", "name"): PANEL,
    ("panels", "description"): TEXT,
    ("predictions", "key"): PREDICTION_KEY,
    ("predictions", "title"): TITLE,
    ("predictions", "statement"): TEXT,
    ("predictions", "source"): TEXT,
    ("lab_hub_orgs", "org"): HUB_ORG,
    ("steering_jobs", "hf_repo"): HF_REPO,
    ("steering_jobs", "revision"): REVISION,
    ("model_edits", "reason"): TEXT,
    ("model_edits", "source_url"): URL,
}


# Tables whose numbers come from users (computed results, e.g. a fit's diagnostics, may
# legitimately hold NaN and are not checked).
INPUT_TABLES = frozenset({"models", "observations", "predictions", "panel_models", "benchmarks"})


def _field(table: str, column: str) -> str:
    return f"{table.removesuffix('s').replace('_', ' ')} {column.replace('_', ' ')}"


def check_row(obj: Any, columns: Iterable[Any]) -> None:
    """Check the given mapped columns of one ORM object against the contract."""
    from sqlalchemy import JSON, Float, String

    for column in columns:
        value = getattr(obj, column.key, None)
        if value is None:
            continue
        table = column.table.name
        field = _field(table, column.name)
        limit = COLUMNS.get((table, column.name))
        if limit is not None:
            check_text(value, field, limit)
        elif isinstance(column.type, String) and column.type.length and isinstance(value, str):
            if len(value) > column.type.length:
                raise InvalidInputError(
                    f"{field} is {len(value):,} characters long; at most {column.type.length}", "shorten it"
                )
        elif isinstance(column.type, String) and not isinstance(value, str):
            check_text(value, field, TEXT)  # a dict or list where text belongs
        elif table in INPUT_TABLES and isinstance(column.type, Float) and isinstance(value, float):
            check_finite(value, field)
        elif table in INPUT_TABLES and isinstance(column.type, JSON):
            check_json(value, field)


def _check_flush(session: Any, _context: Any, _instances: Any) -> None:
    from sqlalchemy import inspect

    for obj in session.new:
        mapper = inspect(obj).mapper
        check_row(obj, mapper.columns)
    for obj in session.dirty:
        state = inspect(obj)
        changed = [attr.key for attr in state.attrs if attr.history.added]
        if changed:
            check_row(obj, [c for c in state.mapper.columns if c.key in changed])


_installed = False


def install() -> None:
    """Check every ORM flush of every session (idempotent; registry.db calls it on import)."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "before_flush", _check_flush)
    _installed = True
