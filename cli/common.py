"""What every command shares: opening the registry, errors, output (table, JSON or CSV) and wording."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from phasewatch.cli import coercion
from phasewatch.registry.errors import PhasewatchError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
FORMATS = ("table", "json", "csv")


def _format_choice(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower() not in FORMATS:
        from phasewatch.registry.errors import InvalidInputError

        raise InvalidInputError(
            f"--format must be table, json or csv, not {one_line(repr(value))}", "e.g. --format csv"
        )
    return value.lower()


FORMAT_OPTION = typer.Option(
    None,
    "--format",
    help="table (default), json or csv (full values, one row per line).",
    case_sensitive=False,
    metavar="table|json|csv",
    callback=_format_choice,
)


# --- option checks: the input contract (registry/validation.py) before the database opens ---


def checked(limit: str) -> Any:
    """A callback refusing text over ``limit``'s length or with control characters
    (``limit`` names one in registry/validation.py: NAME, FAMILY, KEY, URL, TEXT, ...)."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        from phasewatch.registry import validation

        kind = getattr(validation, limit)
        for item in value if isinstance(value, list | tuple) else [value]:
            validation.check_text(item, _name(param), kind)
        return value

    return check


def finite(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A callback refusing NaN and infinities (every float option takes it)."""
    if value is None or ctx.resilient_parsing:
        return value
    from phasewatch.registry.validation import check_finite

    return check_finite(value, _name(param))


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def device(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A callback accepting auto, cpu, cuda or cuda:N (whether this machine has it is checked later)."""
    if value is None or ctx.resilient_parsing or _DEVICE.fullmatch(value):
        return value
    from phasewatch.registry.errors import InvalidInputError

    raise InvalidInputError(f"unknown {_name(param)} {one_line(repr(value))}", "use auto, cpu, cuda or cuda:N")


_SYSTEM = ("/proc", "/sys", "/dev")


def _system_path(path: Path) -> bool:
    text = str(path)
    return any(text == root or text.startswith(root + "/") for root in _SYSTEM) and text not in (
        "/dev/stdout",
        "/dev/null",
    )


def new_file(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A callback for a file to write: its folder exists and is writable; not a folder, not /proc."""
    if value is None or ctx.resilient_parsing:
        return value
    from phasewatch.registry.errors import InvalidInputError

    name, path = _name(param), Path(value).expanduser().absolute()
    if _system_path(path):
        raise InvalidInputError(f"{name} {value} is a system path", "write to a file in one of your folders")
    if path.is_dir():
        raise InvalidInputError(f"{name} {value} is a folder", f"give a file name inside it, e.g. {value}/out.csv")
    if not path.parent.is_dir():
        raise InvalidInputError(f"{name} {value}: the folder {path.parent} does not exist", "create it first")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidInputError(f"{name} {value} is not writable", "check the permissions or write elsewhere")
    return value


def new_folder(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """A callback for a folder to write into (created if missing): not a file, not /proc, writable."""
    if value is None or ctx.resilient_parsing:
        return value
    from phasewatch.registry.errors import InvalidInputError

    name, path = _name(param), Path(value).expanduser().absolute()
    if _system_path(path):
        raise InvalidInputError(f"{name} {value} is a system path", "write to one of your folders")
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{name} {value} is a file, not a folder", "give a folder (new or existing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise InvalidInputError(f"{name} {value} cannot be written ({existing} is not writable)", "write elsewhere")
    return value


def _name(param: Any) -> str:
    opts = getattr(param, "opts", None) or []
    return opts[0] if opts and str(opts[0]).startswith("-") else (param.name or "value").upper()


_console: Console | None = None


def console() -> Console:
    """The stdout console, created on first use (rich costs start-up time that
    commands printing plain lines need not pay)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=False)
    return _console


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_ERROR_CHARS = 2_000


def one_line(message: str) -> str:
    """``message`` safe to print as one error line: no newline, no terminal escape, bounded length."""
    text = " ".join(part.strip() for part in message.splitlines() if part.strip())
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS // 2] + " … " + text[-_MAX_ERROR_CHARS // 2 :]
    return text


def fail(message: str, exit_code: int) -> None:
    """Print ``error: message`` as one line on stderr and exit with ``exit_code``."""
    sys.stderr.write(f"error: {one_line(message)}\n")
    raise typer.Exit(exit_code)


def usage_message(exc: Any) -> str:
    """Click's usage error as one phrase, with the command's ``--help`` to run."""
    text = exc.format_message()
    for noise in ("Value error, ", "Input should be "):
        text = text.replace(noise, "" if noise.startswith("Value") else "expected ")
    text = text.rstrip(". ")
    ctx = getattr(exc, "ctx", None)
    # the program is phasewatch however it was started (a script, python -m, a test runner)
    where = "phasewatch"
    if ctx is not None:
        root = ctx.find_root().info_name or ""
        where = " ".join(["phasewatch", *ctx.command_path.removeprefix(root).split()])
    return f"{text[:1].lower()}{text[1:]}; run '{where} --help'"


class PhasewatchGroup(TyperGroup):
    """The one error boundary: user errors, the science's input errors and usage errors
    each print one line on stderr and exit with their code (docs/cli.md); never a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        from phasewatch.models.errors import ModelInputError

        try:
            return super().invoke(ctx)
        except PhasewatchError as exc:
            fail(str(exc), exc.exit_code)
        except ModelInputError as exc:
            fail(str(exc), 2)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Click's standalone handling, except that a usage error (wrong type, missing
        argument, bad choice) is one line too, instead of a boxed panel."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
        from typer.exceptions import Abort

        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except PhasewatchError as exc:  # raised by an option's check while parsing
            sys.stderr.write(f"error: {one_line(str(exc))}\n")
            sys.exit(exc.exit_code)
        except NoArgsIsHelpError:
            sys.exit(2)  # the help is already printed, as Click does
        except UsageError as exc:
            sys.stderr.write(f"error: {one_line(usage_message(exc))}\n")
            sys.exit(2)
        except ClickException as exc:
            sys.stderr.write(f"error: {one_line(exc.format_message())}\n")
            sys.exit(exc.exit_code)
        except Abort:
            sys.stderr.write("error: aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _quiet_flag_types() -> None:
    """Help without type noise: a flag shows no ``<bool>``; a repeatable option shows ``<str>...``
    instead of ``<list[str]>`` (Typer renders both from ``display_type_rich``)."""
    from typer.core import TyperArgument, TyperOption

    for kind in (TyperOption, TyperArgument):
        if getattr(kind, "_phasewatch_quiet", False):
            continue
        kind.display_type_rich = _quiet(kind.display_type_rich)  # type: ignore[method-assign]
        kind._phasewatch_quiet = True  # type: ignore[attr-defined]


def _quiet(original: Any) -> Any:
    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        shown = original(self, ctx)
        if shown and shown.startswith("<list[") and shown.endswith("]>"):
            return f"<{shown[6:-2]}>..."
        return shown

    return display_type_rich


def new_app(help_text: str, *, completion: bool = False) -> typer.Typer:
    """A command group; ``completion=True`` on the root adds --install-completion/--show-completion."""
    _quiet_flag_types()
    coercion.install()
    return typer.Typer(
        cls=PhasewatchGroup,
        help=help_text,
        no_args_is_help=True,
        add_completion=completion,
        pretty_exceptions_enable=False,
    )


@contextmanager
def registry_engine(*, require_current: bool = True) -> Iterator[Engine]:
    """The configured registry's engine for one command, disposed after; the service it is
    handed owns the transactions. ``require_current=False`` for the commands that migrate
    (``init``, ``db``): the schema may be empty or behind."""
    from phasewatch.registry.db import open_registry

    engine = open_registry(require_current=require_current)
    try:
        yield engine
    finally:
        engine.dispose()


def status(text: str, *, quiet: bool = False):
    """A spinner on stderr for work that takes seconds; nothing when ``quiet`` (--json)."""
    from contextlib import nullcontext

    if quiet:
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(text)


def print_json(data: Any) -> None:
    """``data`` as JSON that every parser reads: a NaN or infinite number becomes ``null``
    with a ``<key>_note`` beside it saying why (JSON has no NaN)."""
    text = json.dumps(finite_json(_plain(data)), indent=2, ensure_ascii=False, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def _plain(data: Any) -> Any:
    """Dataclasses as dicts, so their non-finite numbers are found too."""
    import dataclasses

    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: _plain(getattr(data, f.name)) for f in dataclasses.fields(data)}
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    return data


def finite_json(data: Any) -> Any:
    """``data`` with every NaN or infinity replaced by ``None``; in an object, the key gets
    a ``<key>_note`` naming what the value was (e.g. a slope not computable from one release)."""
    import math

    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key] = finite_json(value)
            if isinstance(value, float) and not math.isfinite(value):
                what = "NaN" if math.isnan(value) else "infinite"
                out[f"{key}_note"] = f"{what}: not computable from the data held"
        return out
    if isinstance(data, list | tuple):
        return [finite_json(v) for v in data]
    return data


URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def short_url(url: str, width: int = 48) -> str:
    """``https://www.example.org/a/b/c/report.pdf`` -> ``https://example.org/…/report.pdf`` (at most ``width``)."""
    match = re.match(r"^([a-z][a-z0-9+.-]*://)(?:www\.)?([^/?#]+)([^?#]*)", url, re.IGNORECASE)
    if match is None:
        return url if len(url) <= width else url[: width - 1] + "…"
    scheme, host, path = match.group(1), match.group(2), match.group(3).rstrip("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        text = scheme + host
    elif len(parts) == 1:
        text = f"{scheme}{host}/{parts[0]}"
    else:
        text = f"{scheme}{host}/…/{parts[-1]}"
    return text if len(text) <= width else text[: width - 1] + "…"


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table that reads at any width: text wraps only between words, a word too long for the
    terminal ends in … (never split across lines), and URLs show as host/…/last-part (full values
    in --json and --format csv)."""
    from rich.table import Table

    cells = [[short_url(v) if isinstance(v, str) and URL.match(v) else fmt(v) for v in row] for row in rows]
    specs = []
    for i, column in enumerate(columns):
        # Cells wrap only between words (rich's minimum is the longest word); a word that still cannot
        # fit ends in … rather than folding onto the next line. Headers may wrap at their underscores.
        # A column of short values (numbers, dates, flags) is kept to its width, leaving room for names.
        header = column.replace("_", " ")
        values = [row[i] for row in cells if i < len(row)]
        longest = max((len(v) for v in values), default=0)
        longest_word = max((len(w) for v in values for w in v.split()), default=0)
        header_word = max((len(w) for w in header.split()), default=0)
        if longest <= 12:
            specs.append((header, max(longest, header_word), max(longest, header_word)))
        else:
            specs.append((header, max(min(longest_word, 24), header_word), None))
    if sum(low for _, low, _ in specs) + 3 * len(specs) + 1 > console().width:  # too many columns to keep
        specs = [(header, None, high) for header, _, high in specs]  # every word whole: rich shortens with …
    grid = Table(title=title, title_justify="left", show_lines=False)
    for header, low, high in specs:
        grid.add_column(header, overflow="ellipsis", min_width=low, max_width=high)
    for row in cells:
        grid.add_row(*row)
    console().print(grid)


def output_format(format_: str | None, json_: bool = False) -> str:
    """The chosen output: ``--format`` if given (table, json, csv), else json with ``--json``, else table."""
    if format_ is None:
        return "json" if json_ else "table"
    chosen = format_.lower()
    if chosen not in FORMATS:
        from phasewatch.registry.errors import InvalidInputError

        raise InvalidInputError(f"--format must be table, json or csv, not {format_!r}", "e.g. --format csv")
    return chosen


def print_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if not any(columns):  # a two-column "label: value" table
        columns = ["field", "value", *[f"value {i}" for i in range(2, len(columns))]]
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            ["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v for v in row]
        )
    sys.stdout.write(buffer.getvalue())


def emit(
    format_: str | None,
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_: bool = False,
    data: Any = None,
) -> None:
    """Print ``rows`` as a table, CSV (full values) or JSON (``data`` if given, else one object per row)."""
    chosen = output_format(format_, json_)
    if chosen == "json":
        print_json(data if data is not None else [dict(zip(columns, row, strict=False)) for row in rows])
    elif chosen == "csv":
        print_csv(columns, rows)
    else:
        table(title, columns, rows)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``plural(1, "model")`` -> "1 model"; ``plural(3, "family", "families")`` -> "3 families"."""
    return f"{n} {word if n == 1 else many or word + 's'}"


_AN_INITIALS = set("AEFHILMNORSX")  # letters whose spoken name starts with a vowel sound


def article(word: str) -> str:
    """ "a" or "an" before ``word``: "an Anthropic release", "a Google release", "an HLE score"."""
    if not word:
        return "a"
    head = word.split()[0].strip("\"'(")
    if len(head) > 1 and head.isupper():  # an initialism, read letter by letter
        return "an" if head[0] in _AN_INITIALS else "a"
    if head.lower().startswith(("uni", "use", "usu", "eu", "one")):
        return "a"
    if head.lower().startswith(("hour", "honest", "heir")):
        return "an"
    return "an" if head[:1].lower() in "aeiou" else "a"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return " / ".join(fmt(v) for v in value)
    return str(value)
