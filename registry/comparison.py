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
class BenchmarkMatrix:
    """The coupling matrix of the benchmarks with enough shared models (see
    :mod:`phasewatch.models.coupling_matrix`), as of a date."""

    benchmarks: list[str]
    n_models: int
    cells: list  # list[MatrixCell]

    def cell(self, x: str, y: str):
        return next(c for c in self.cells if c.x == x and c.y == y)


def benchmark_matrix(session, as_of=None, min_models: int = 10) -> BenchmarkMatrix:
    """Pairwise-complete correlations (logit scale, Fisher-z 95 % intervals) of every
    percentage benchmark reported by at least ``min_models`` frontier models (those with
    SWE-bench Verified or GPQA Diamond) released by ``as_of``.
    Values: each model's most recently logged score per benchmark."""
    from sqlalchemy.orm import selectinload

    from phasewatch.models.coupling_matrix import coupling_matrix
    from phasewatch.registry.schema import Benchmark, Model, Observation

    query = (
        select(Observation.model_id, Benchmark.key, Observation.value)
        .join(Benchmark)
        .order_by(Observation.created_at, Observation.id)
    )
    scores: dict[int, dict[str, float]] = {}
    for model_id, key, value in session.execute(query):
        scores.setdefault(model_id, {})[key] = value
    frontier = ("swe_bench_verified", "gpqa_diamond")  # a frontier model reports one of the pair the fits use
    scores = {k: v for k, v in scores.items() if any(f in v for f in frontier)}
    if as_of is not None:
        models = session.scalars(select(Model).options(selectinload(Model.lab)).where(Model.id.in_(scores)))
        late = {m.id for m in models if m.release_date is not None and m.release_date > as_of}
        scores = {k: v for k, v in scores.items() if k not in late}
    counts: dict[str, int] = {}
    for values in scores.values():
        for key, value in values.items():
            if 0 < value < 100:
                counts[key] = counts.get(key, 0) + 1
    keys = sorted((k for k, c in counts.items() if c >= min_models), key=lambda k: -counts[k])
    return BenchmarkMatrix(keys, len(scores), coupling_matrix(scores, keys))
