"""Name normalisation and close-match suggestions for labs, models and benchmarks."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_SPACE = re.compile(r"\s+")


def name_key(name: str) -> str:
    """Case- and whitespace-insensitive key used for uniqueness and look-ups.

    ``"Claude  Opus 4.6"`` and ``"claude opus 4.6"`` share one key, so the
    database's unique constraint (not a read-then-write check) keeps them one model.
    """
    return _SPACE.sub(" ", name.strip()).casefold()


def suggest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` candidates close to ``name``, best first."""
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(name_key(candidate), candidate)
    keys = difflib.get_close_matches(name_key(name), list(by_key), n=limit, cutoff=0.5)
    return [by_key[k] for k in keys]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean …?" phrase, or ``None`` when nothing is close."""
    close = suggest(name, candidates)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"


_PREVIEW = re.compile(r"\(\s*preview\s*\)|[-_ ]preview\b", re.IGNORECASE)
_DATE = re.compile(r"\b20\d{2}[-_.]?(?:0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?\b")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def identity_key(name: str) -> str:
    """A name reduced to what identifies a release, for spotting likely duplicates.

    Case, punctuation and spacing, a "(preview)" / "-preview" tag and dates
    (``2026-04-24``, ``20260424``, ``2026-04``) are dropped:
    ``"DeepSeek-V4-Pro (preview)"`` and ``"deepseek v4 pro"`` share one key,
    while ``"Claude Opus 4.6"`` and ``"Claude Opus 4.5"`` do not.
    """
    text = _DATE.sub(" ", _PREVIEW.sub(" ", name))
    return _NOT_ALNUM.sub("", text.casefold())
