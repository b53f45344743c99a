"""Option values coerced without pydantic where the answer is plain.

Typer 0.29 coerces every option value through a pydantic ``TypeAdapter``: importing
pydantic and building the adapters costs ~0.2 s of every command's ~1 s start-up
(docs/PERFORMANCE.md, "...after a leaner start-up"). Most values are plain: a string, a list of strings, a
choice that names one of its values, digits for a number. Those are coerced here, exactly
as the adapter would; anything else (an error to word, ``" 5"``, ``1_000``, ``inf``, a
path) goes to Typer's own adapter, so every message and every edge case stays Typer's.
``tests/cli/test_coercion.py`` compares the two on every option of the application.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from typer import core as typer_core
from typer._coercion import RuntimeParam, TypeDescriptor
from typer._coercion import build_runtime_param as typer_runtime_param
from typer._param_types import choice_coercion_annotation, coerce_cli_choice

_DIGITS = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_UNSURE = object()  # a plain parser's "ask Typer"

Parse = Callable[[Any, Any], Any]  # (value, click context) -> the coerced value, or _UNSURE


def _text(value: Any, _ctx: Any) -> Any:
    return value if type(value) is str else _UNSURE


def _flag(value: Any, _ctx: Any) -> Any:
    return value if type(value) is bool else _UNSURE


def _number(kind: type, pattern: re.Pattern[str], low: float | None, high: float | None) -> Parse:
    def parse(value: Any, _ctx: Any) -> Any:
        if type(value) is str and pattern.fullmatch(value):
            number = kind(value)
        elif type(value) is kind:
            number = value
        else:
            return _UNSURE
        if (low is not None and number < low) or (high is not None and number > high):
            return _UNSURE  # out of range: Typer words the error
        return number

    return parse


def _choice(choices: tuple[Any, ...], case_sensitive: bool) -> Parse:
    def parse(value: Any, ctx: Any) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            return _UNSURE

    return parse


def _leaf(annotation: Any, descriptor: TypeDescriptor) -> Parse | None:
    info = descriptor.parameter_info
    if info.parser is not None or descriptor.is_file or info.clamp:
        return None
    choice = choice_coercion_annotation(annotation, info)
    if choice is not None:
        return _choice(*choice)
    if annotation is bool:
        return _flag
    if annotation is str:
        return None if descriptor.is_path else _text
    if annotation is int:
        return _number(int, _DIGITS, info.min, info.max)
    if annotation is float:
        return _number(float, _DECIMAL, info.min, info.max)
    return None


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """Coerces plain values itself and hands the rest to Typer's pydantic adapter, built
    the first time it is needed."""

    descriptor: TypeDescriptor
    parse: Parse
    many: bool
    _typer: list[RuntimeParam] = field(default_factory=list)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.many and isinstance(value, list | tuple):
            items = [self.parse(item, ctx) for item in value]
            if all(item is not _UNSURE for item in items):
                return items
        elif not self.many:
            coerced = self.parse(value, ctx)
            if coerced is not _UNSURE:
                return coerced
        if not self._typer:
            self._typer.append(typer_runtime_param(self.descriptor))
        return self._typer[0]._coerce_value(value, param=param, ctx=ctx)


def runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    """A parameter's coercion: plain where :func:`_leaf` knows the type, else Typer's."""
    annotation, many = descriptor.annotation, False
    if get_origin(annotation) is list and len(get_args(annotation)) == 1:
        annotation, many = get_args(annotation)[0], True
    parse = _leaf(annotation, descriptor)
    if parse is None:
        return typer_runtime_param(descriptor)
    return PlainRuntimeParam(descriptor.parameter_info, descriptor.annotation, descriptor, parse, many)


def install() -> None:
    """Route Typer's parameters through :func:`runtime_param` (idempotent)."""
    typer_core.build_runtime_param = runtime_param  # type: ignore[attr-defined]
