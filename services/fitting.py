"""The ``fit`` use case: read a panel's data, sample the coupling model, store the fit;
the convergence gate and its one retry.

Sampling happens in a *backend*: the local fit server (:mod:`phasewatch.services.fit_server`,
which keeps compiled models across processes, so a refit costs about a second instead of
~14 s of compilation) or this process, whose compiled models are cached in
:data:`IN_PROCESS` (the only process-wide cache: ``models/`` holds no global state).
The data are read in one transaction, sampled outside any, and stored in another.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from phasewatch.models.coupling import (
    CouplingData,
    FitOutcome,
    ModelSpec,
    Priors,
    ProgressCallback,
    SamplerSettings,
)
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import UnconvergedFitError
from phasewatch.registry.fits import (
    DEFAULT_PANELS,
    DEFAULT_SPEC,
    DEFAULT_X,
    DEFAULT_Y,
    FitResult,
    check_bounded,
    panel_data,
    record_fit,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from phasewatch.models.coupling import CouplingSampler

SERVER_ENV = "PHASEWATCH_FIT_SERVER"  # "off" (or 0/no/false) fits in this process
Stage = Callable[[str], None]
Note = Callable[[str], None]


@dataclass(frozen=True)
class FitRequest:
    """What to fit: panels, benchmarks, model, priors (None: the model's defaults), sampler settings."""

    panels: tuple[str, ...] = DEFAULT_PANELS
    x: str = DEFAULT_X
    y: str = DEFAULT_Y
    settings: SamplerSettings = SamplerSettings()
    spec: ModelSpec = DEFAULT_SPEC
    priors: Priors | None = None
    accept_unconverged: bool = False


class Backend(Protocol):
    """Where sampling happens; ``name`` is shown with the result ("fit server", "in process")."""

    name: str

    def outcome(
        self,
        data: CouplingData,
        spec: ModelSpec,
        priors: Priors | None,
        settings: SamplerSettings,
        progress: ProgressCallback | None = None,
        stage: Stage | None = None,
    ) -> FitOutcome: ...


class CompiledModels:
    """Compiled coupling models kept for refits, least recently used first out.

    The key is what the compiled log density depends on: the number of labs (not their
    names, and not the number of rows: both change with new releases and neither needs a
    recompile), the priors, the model and the parametrisation of the lab effects.
    """

    name = "in process"

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._models: OrderedDict[tuple, CouplingSampler] = OrderedDict()
        self.fits = 0

    def sampler(self, data: CouplingData, priors: Priors | None, spec: ModelSpec) -> CouplingSampler:
        from phasewatch.models.coupling import CouplingSampler, choose_parametrisation

        parametrisation = choose_parametrisation(data)
        key = (len(data.lab_names), priors, spec, parametrisation)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key].relabelled(data.lab_names)
        sampler = CouplingSampler(data, priors, spec, parametrisation)
        self._models[key] = sampler
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)
        return sampler

    @property
    def keys(self) -> list[str]:
        """The cached models, in words (for `fit-server status`)."""
        return [f"{n} labs, {spec.label}, {param}" for n, _, spec, param in self._models]

    def outcome(
        self,
        data: CouplingData,
        spec: ModelSpec,
        priors: Priors | None,
        settings: SamplerSettings,
        progress: ProgressCallback | None = None,
        stage: Stage | None = None,
    ) -> FitOutcome:
        from phasewatch.models.coupling import fit_outcome

        if stage:
            stage("building the model")
        sampler = self.sampler(data, priors, spec)
        outcome = fit_outcome(sampler, data, settings, progress, stage, clock=time.perf_counter)
        self.fits += 1
        return outcome


IN_PROCESS = CompiledModels()  # this process's compiled models (the CLI process, or the fit server's)


class ServerWithFallback:
    """The fit server, started on demand; if it cannot start or fails, this process
    samples instead and ``note`` says why in one line."""

    def __init__(self, client, note: Note | None = None) -> None:
        self.client = client
        self.note = note
        self.name = "fit server"

    def outcome(
        self,
        data: CouplingData,
        spec: ModelSpec,
        priors: Priors | None,
        settings: SamplerSettings,
        progress: ProgressCallback | None = None,
        stage: Stage | None = None,
    ) -> FitOutcome:
        from phasewatch.services.fit_server import FitServerUnavailable

        try:
            if stage:
                stage("connecting to the fit server")
            outcome = self.client.fit(data, spec, priors, settings, progress, stage)
            self.name = "fit server"
            return outcome
        except FitServerUnavailable as exc:
            if self.note:
                self.note(f"note: {exc}; fitting in this process (slower: it compiles the model)")
            self.name = IN_PROCESS.name
            return IN_PROCESS.outcome(data, spec, priors, settings, progress, stage)


def server_wanted(flag: bool | None = None) -> bool:
    """``--server/--no-server`` if given, else the environment (``PHASEWATCH_FIT_SERVER=off``)."""
    if flag is not None:
        return flag
    return os.environ.get(SERVER_ENV, "on").strip().lower() not in {"off", "0", "no", "false"}


def backend(use_server: bool | None = None, note: Note | None = None) -> Backend:
    """The fit server (with fallback) when wanted, else this process."""
    if not server_wanted(use_server):
        return IN_PROCESS
    from phasewatch.services.fit_server import FitServerClient

    return ServerWithFallback(FitServerClient(), note)


def run_fit(
    engine: Engine,
    request: FitRequest = FitRequest(),
    *,
    sampler: Backend | None = None,
    progress: ProgressCallback | None = None,
    stage: Stage | None = None,
) -> FitResult:
    """Fit ``request`` once and store it (accepted for verdicts if it passes the gate or the
    request insists); ``sampler`` defaults to this process."""
    from phasewatch.registry.frontier import observations_used

    sampling = sampler if sampler is not None else IN_PROCESS
    with transaction(engine) as session:
        data = panel_data(session, request.panels, request.x, request.y)
        used = observations_used(session, request.panels, request.x, request.y, data.names)  # a fit records its inputs
    check_bounded(data, request.spec)
    started = time.perf_counter()
    outcome = sampling.outcome(data, request.spec, request.priors, request.settings, progress, stage)
    elapsed = time.perf_counter() - started
    with transaction(engine) as session:
        result = record_fit(
            session,
            data,
            request.panels,
            request.x,
            request.y,
            request.spec,
            request.settings,
            outcome,
            accept_unconverged=request.accept_unconverged,
            used=used,
            elapsed_s=elapsed,
        )
    return replace(result, via=sampling.name)


def stronger(settings: SamplerSettings) -> SamplerSettings:
    """The one retry's settings: twice the draws and tuning, smaller steps."""
    return replace(
        settings, draws=settings.draws * 2, tune=settings.tune * 2, target_accept=max(settings.target_accept, 0.995)
    )


@dataclass(frozen=True)
class FitAttempts:
    """A fit and, if it missed the gate, its one retry (``final`` is the one that counts)."""

    first: FitResult
    final: FitResult
    retry_settings: SamplerSettings | None

    @property
    def retried(self) -> bool:
        return self.retry_settings is not None

    def unconverged_error(self) -> UnconvergedFitError | None:
        """The error (exit 4) when no fit passed the gate, else None."""
        if self.final.accepted:
            return None
        settings = self.retry_settings or SamplerSettings(**self.final.spec["settings"])
        return UnconvergedFitError(
            f"fit #{self.final.id} did not pass the convergence gate ({'; '.join(self.final.problems)}), so no fit "
            "is used for verdicts",
            f"inspect it with `phasewatch fits show {self.final.id}`, then refit with more draws, e.g. "
            f"`phasewatch fit --draws {settings.draws * 2} --tune {settings.tune * 2} --target-accept 0.995`",
        )


def fit(
    engine: Engine,
    request: FitRequest = FitRequest(),
    *,
    retry: bool = True,
    use_server: bool | None = None,
    note: Note | None = None,
    on_retry: Callable[[FitResult, SamplerSettings], None] | None = None,
    progress: ProgressCallback | None = None,
    stage: Stage | None = None,
) -> FitAttempts:
    """Fit and store; if the fit misses the gate (and ``retry``), refit once with
    :func:`stronger` settings (``on_retry`` is told first). The caller raises
    :meth:`FitAttempts.unconverged_error` after showing the result."""
    sampling = backend(use_server, note)
    first = run_fit(engine, request, sampler=sampling, progress=progress, stage=stage)
    if first.accepted or not retry:
        return FitAttempts(first, first, None)
    settings = stronger(request.settings)
    if on_retry:
        on_retry(first, settings)
    final = run_fit(engine, replace(request, settings=settings), sampler=sampling, progress=progress, stage=stage)
    return FitAttempts(first, final, settings)
