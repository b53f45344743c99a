"""The science's own error type: an argument the computation cannot work with.

``models/`` imports nothing from the rest of phasewatch, so it cannot raise the
registry's errors; the CLI maps :class:`ModelInputError` (and so
:class:`SteeringError`) to one ``error:`` line and exit code 2.
"""

from __future__ import annotations


class ModelInputError(ValueError):
    """Data or settings a model cannot use (too few points, an unknown link, a cutoff with nothing before it)."""


class SteeringError(ModelInputError):
    """A model that cannot be loaded or hooked, or a steering setting it cannot use, with what to do."""
