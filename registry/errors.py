"""The one exception type users see.

The CLI renders a :class:`PhasewatchError` as a single line and exits with its
``exit_code``: 2 bad input or environment, 3 integrity failure, 4 no usable fit,
5 not found (docs/cli.md lists them once). The science's
:class:`phasewatch.models.errors.ModelInputError` is bad input too (exit 2);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PhasewatchError(Exception):
    """A problem with the user's input or environment, with a hint to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class NotFoundError(PhasewatchError):
    """A named lab, model, benchmark, panel, fit, prediction or job does not exist."""

    exit_code = 5


class InvalidInputError(PhasewatchError):
    """A value is malformed or out of range."""


class ConflictError(PhasewatchError):
    """The change would duplicate or contradict what the registry holds."""


class DatabaseError(PhasewatchError):
    """The database cannot be reached or its schema is not current."""


EXIT_CODES: dict[int, str] = {
    0: "done",
    1: "a check failed (`doctor`) or the command was aborted",
    2: "bad input or environment",
    3: "integrity failure",
    4: "no usable fit",
    5: "not found",
}


class UnconvergedFitError(PhasewatchError):
    """A fit (and its one retry) missed the convergence gate, so no fit is usable."""

    exit_code = 4


class IntegrityError(PhasewatchError):
    """A tamper-evident log (the prediction chain or the grading seal) does not verify."""

    exit_code = 3
