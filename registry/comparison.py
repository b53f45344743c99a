"""Model comparison on one panel: fit (or reuse stored fits of) each coupling
model on the same data, then PSIS-LOO, ELPD differences ± SE, stacking
weights and LOO-PIT coverage (see :mod:`phasewatch.models.comparison`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from phasewatch.models.comparison import CoverageAtLevel
from phasewatch.models.coupling import ModelSpec, SamplerSettings
from phasewatch.registry.db import transaction
from phasewatch.registry.fits import DEFAULT_PANELS, DEFAULT_X, DEFAULT_Y, METHOD, data_hash, panel_data, store_fit
from phasewatch.registry.schema import Fit

COMPARED = (
    ModelSpec("logit", "partial"),
    ModelSpec("identity", "partial"),
    ModelSpec("logit", "complete"),
    ModelSpec("logit", "none"),
    ModelSpec("identity", "complete"),
    ModelSpec("identity", "none"),
)


@dataclass(frozen=True)
class ComparisonRow:
    model: str
    method: str
    fit_id: int
    converged: bool
    rank: int
    elpd: float
    se: float
    elpd_diff: float
    diff_se: float
    p_loo: float
    weight: float
    high_k: int
    refitted: int
    coverage: list[CoverageAtLevel]


@dataclass(frozen=True)
class FitComparison:
    panels: str
    x: str
    y: str
    n_models: int
    data_hash: str
    default_method: str
    rows: list[ComparisonRow]

    @property
    def verdict(self) -> str:
        """Whether the comparison supports the default model, in words."""
        best = self.rows[0]
        default = next(r for r in self.rows if r.method == self.default_method)
        if default is best:
            runner = self.rows[1] if len(self.rows) > 1 else None
            margin = f"; next: {runner.model}, ΔELPD {runner.elpd_diff:.1f} ± {runner.diff_se:.1f}" if runner else ""
            return f"the default ({default.model}) has the best ELPD (stacking weight {default.weight:.2f}){margin}"
        close = abs(default.elpd_diff) < 2 * default.diff_se
        return (
            f"{best.model} has the best ELPD; the default ({default.model}) is {default.elpd_diff:.1f} ± "
            f"{default.diff_se:.1f} behind" + (" (within 2 SE: not a clear loss)" if close else " (more than 2 SE)")
        )


def _stored(session, method: str, x: str, y: str, digest: str) -> Fit | None:
    return session.scalar(
        select(Fit)
        .where(Fit.method == method, Fit.x_benchmark == x, Fit.y_benchmark == y, Fit.data_hash == digest)
        .order_by(Fit.id.desc())
        .limit(1)
    )


def compare_fits(
    engine: Engine,
    panels: tuple[str, ...] = DEFAULT_PANELS,
    x: str = DEFAULT_X,
    y: str = DEFAULT_Y,
    settings: SamplerSettings = SamplerSettings(),
    specs: tuple[ModelSpec, ...] = COMPARED,
    stage: Callable[[str], None] | None = None,
) -> FitComparison:
    """Compare ``specs`` on the panels' data; a model without a stored fit of
    exactly these data is fitted and stored first (never used for verdicts
    unless it is the default model)."""
    from phasewatch.models.comparison import compare, loo
    from phasewatch.models.coupling import Posterior

    with transaction(engine) as session:
        data = panel_data(session, panels, x, y)
    digest = data_hash(data)
    results, fits = {}, {}
    for spec in specs:
        with transaction(engine) as session:
            fit = _stored(session, spec.method, x, y, digest)
            stored = (fit.id, fit.converged, fit.posterior, fit.posterior_tree) if fit is not None else None
        if stored is None:
            if stage:
                stage(f"fitting {spec.label}")
            result = store_fit(engine, data, panels, x, y, settings, spec=spec)
            with transaction(engine) as session:
                fit = session.get(Fit, result.id)
                stored = (fit.id, fit.converged, fit.posterior, fit.posterior_tree)
        if stage:
            stage(f"PSIS-LOO of {spec.label}")
        posterior = Posterior.from_bytes(stored[2])
        refit = _Refitter(data, spec, settings)  # compiles only if a point needs an exact refit
        results[spec.label] = loo(posterior, data, refit=refit, log_lik=stored_log_likelihood(stored[3], posterior))
        fits[spec.label] = (spec, stored[0], stored[1])
    rows = [
        ComparisonRow(
            model=c.name,
            method=fits[c.name][0].method,
            fit_id=fits[c.name][1],
            converged=fits[c.name][2],
            rank=c.rank,
            elpd=c.elpd,
            se=c.se,
            elpd_diff=c.elpd_diff,
            diff_se=c.diff_se,
            p_loo=c.p_loo,
            weight=c.weight,
            high_k=len(c.loo.high_k),
            refitted=len(c.loo.refitted),
            coverage=list(c.loo.coverage),
        )
        for c in compare(results)
    ]
    return FitComparison(",".join(panels), x, y, data.n, digest, METHOD, rows)


class _Refitter:
    """Refits ``spec`` on subsets, compiling the model on the first call only."""

    def __init__(self, data, spec: ModelSpec, settings: SamplerSettings) -> None:
        self.data, self.spec, self.settings, self.sampler = data, spec, settings, None

    def __call__(self, subset):
        from phasewatch.models.coupling import CouplingSampler

        if self.sampler is None:
            self.sampler = CouplingSampler(self.data, None, self.spec)
        return self.sampler.fit(subset, self.settings)[0]


def stored_log_likelihood(tree_blob: bytes | None, posterior):
    """The log-likelihood stored with a fit (draws × n), read back from its DataTree; None
    for fits stored before the DataTree (and for thinned ones, whose draws are a subset)."""
    if tree_blob is None:
        return None
    from phasewatch.models.coupling import tree_from_bytes

    obs = tree_from_bytes(tree_blob)["log_likelihood"]["obs"]
    if int(obs.sizes["chain"]) * int(obs.sizes["draw"]) != posterior.n_draws:
        return None
    return obs.values.reshape(posterior.n_draws, -1).astype(float)


@dataclass(frozen=True)
class MatrixPanel:
    """The live frontier panel's scores as the coupling matrices see them: every benchmark
    with at least ``min_models`` models (values strictly inside (0, 100)), in descending
    order of models; ``scores`` is model → benchmark → percent; ``observations`` the id of
    each chosen figure (model, benchmark) → observation id."""

    as_of: str | None
    min_models: int
    benchmarks: list[str]
    n_panel: int  # frontier models in the live panel (before the benchmark filter)
    scores: dict[str, dict[str, float]]
    labs: dict[str, str]
    observations: dict[tuple[str, str], int]

    def matrix_data(self):
        """The :class:`~phasewatch.models.joint_matrix.MatrixData` of the kept benchmarks: every
        model with at least one of them; NaN where it has none."""
        import numpy as np

        from phasewatch.models.joint_matrix import MatrixData

        models = tuple(m for m, v in self.scores.items() if any(k in v for k in self.benchmarks))
        values = np.array(
            [[self.scores[m].get(k, np.nan) for k in self.benchmarks] for m in models], dtype=float
        ).reshape(len(models), len(self.benchmarks))
        return MatrixData(tuple(self.benchmarks), models, values)

    def data_hash(self) -> str:
        """SHA-256 of the (model, benchmark, value) cells of the kept benchmarks."""
        import hashlib
        import json

        cells = sorted((m, k, v) for m, vs in self.scores.items() for k, v in vs.items() if k in self.benchmarks)
        return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def matrix_panel(session, as_of=None, min_models: int = 10) -> MatrixPanel:
    """The live frontier panel as of ``as_of`` (:func:`~phasewatch.registry.frontier.select_frontier`:
    standard settings, same weights once, the reporter precedence), reduced to the benchmarks
    reported by at least ``min_models`` of its models. Scores of exactly 0 or 100 (infinite on
    the logit scale) are left out."""
    from phasewatch.registry.frontier import select_frontier

    selection = select_frontier(session, as_of=as_of)
    scores: dict[str, dict[str, float]] = {}
    labs: dict[str, str] = {}
    observations: dict[tuple[str, str], int] = {}
    for c in selection.chosen:
        labs[c.model] = c.lab
        scores.setdefault(c.model, {})
        if 0 < c.value < 100:
            scores[c.model][c.benchmark] = c.value
            observations[(c.model, c.benchmark)] = c.observation_id
    counts: dict[str, int] = {}
    for values in scores.values():
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    keys = sorted((k for k, c in counts.items() if c >= min_models), key=lambda k: (-counts[k], k))
    kept = {m: {k: v for k, v in vs.items() if k in keys} for m, vs in scores.items()}
    kept = {m: vs for m, vs in kept.items() if vs}
    return MatrixPanel(
        selection.as_of,
        min_models,
        keys,
        len(scores),
        kept,
        {m: labs[m] for m in kept},
        {mk: o for mk, o in observations.items() if mk[0] in kept and mk[1] in keys},
    )


@dataclass(frozen=True)
class BenchmarkMatrix:
    """The pairwise-complete coupling matrix of the benchmarks with enough shared models (see
    :mod:`phasewatch.models.coupling_matrix`), as of a date."""

    benchmarks: list[str]
    n_models: int
    cells: list  # list[MatrixCell]

    def cell(self, x: str, y: str):
        return next(c for c in self.cells if c.x == x and c.y == y)


def benchmark_matrix(session, as_of=None, min_models: int = 10) -> BenchmarkMatrix:
    """Pairwise-complete correlations (logit scale, Fisher-z 95 % intervals) of every
    benchmark reported by at least ``min_models`` models of the live frontier panel as of
    ``as_of`` (:func:`matrix_panel`: the same data the joint matrix is fitted on)."""
    from phasewatch.models.coupling_matrix import coupling_matrix

    panel = matrix_panel(session, as_of, min_models)
    return BenchmarkMatrix(panel.benchmarks, len(panel.scores), coupling_matrix(panel.scores, panel.benchmarks))
