"""Base-scale phase analysis on the registry's panels (the paper's and the sourced ones)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.models.phase import (
    WIDTH_CAVEAT,
    Correlation,
    CrossFamily,
    Isocline,
    LocalCoupling,
    NcEstimate,
    Point,
    calibrate_isocline,
    cross_family_prediction,
    isocline_phase,
    local_couplings,
    nc_gamma_bootstrap,
    nc_quadratic_bootstrap,
    permutation_correlation,
    width_normalised,
)
from phasewatch.registry.catalog import Catalog
from phasewatch.registry.errors import InvalidInputError, NotFoundError
from phasewatch.registry.names import did_you_mean
from phasewatch.registry.schema import Benchmark, Model, NcResult, Observation, PanelModel, PanelObservation

SOURCED = "base-families-2026-11"
PAPER_NC = "lying-nc-14"
NC_FAMILIES = ("Pythia-deduped", "Llama-1", "Llama-2")  # `phase nc`'s default pool (sourced)
PAPER_NC_FAMILIES = ("Pythia", "Llama-1", "Llama-2")  # the paper's pool on lying-nc-14
NC_RESAMPLES = 10_000
NC_SEED = 42
REASONING = "hellaswag"
TRUTHFULNESS = "truthfulqa_mc2"


@dataclass(frozen=True)
class FamilyPoints:
    family: str
    points: list[Point]
    notes: list[str] = field(default_factory=list)


def family_points(
    session: Session, panel: str = SOURCED, x: str = REASONING, y: str = TRUTHFULNESS
) -> dict[str, FamilyPoints]:
    """Each family's models with both benchmarks in the panel.

    The family is the panel's own label where it has one (the paper's panels),
    else the model's family; the size is the parameter count the panel's
    source used, else the registry's. Duplicate rows of one model are averaged
    (and said so).
    """
    catalog = Catalog(session)
    chosen = catalog.panel(panel)
    keys = (catalog.benchmark(x).key, catalog.benchmark(y).key)
    rows = session.execute(
        select(Model, Benchmark.key, Observation.value, PanelObservation.subset)
        .join(Observation, Observation.model_id == Model.id)
        .join(Benchmark)
        .join(PanelObservation, PanelObservation.observation_id == Observation.id)
        .where(PanelObservation.panel_id == chosen.id, Benchmark.key.in_(keys))
    )
    values: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    models: dict[int, Model] = {}
    for model, key, value, subset in rows:
        models[model.id] = model
        values[(subset or model.family or "(no family)", model.id)][key].append(value)
    sizes = dict(
        session.execute(select(PanelModel.model_id, PanelModel.params_b).where(PanelModel.panel_id == chosen.id)).all()
    )
    out: dict[str, FamilyPoints] = {}
    for (family, model_id), by_key in sorted(values.items()):
        entry = out.setdefault(family, FamilyPoints(family, []))
        model = models[model_id]
        params_b = sizes.get(model_id) or model.params_total_b
        if len(by_key) < 2:
            continue
        if params_b is None:
            entry.notes.append(f"{model.name}: no parameter count, left out")
            continue
        for key in keys:
            if len(set(by_key[key])) > 1:
                entry.notes.append(f"{model.name}: {len(by_key[key])} {key} rows {sorted(by_key[key])} averaged")
        mean = {key: sum(v) / len(v) for key, v in by_key.items()}
        entry.points.append(Point(model.name, params_b * 1e9, mean[keys[0]], mean[keys[1]], model.d_model))
    return {name: fp for name, fp in out.items() if fp.points}


@dataclass(frozen=True)
class FamilySummary:
    family: str
    n: int
    params_range_b: tuple[float, float]
    correlation: Correlation | None
    phases: dict[str, int]
    sign_change: bool
    nc_point_billions: float | None


def summarize_family(fp: FamilyPoints) -> FamilySummary:
    couplings = local_couplings(fp.points)
    phases: dict[str, int] = defaultdict(int)
    for c in couplings:
        phases[c.phase] += 1
    signs = {c.gamma > 0 for c in couplings if c.gamma != 0}
    nc = None
    if len(fp.points) >= 4 and len(signs) == 2:
        nc = nc_quadratic_bootstrap(fp.points, resamples=0).point_billions
    sizes = [p.params / 1e9 for p in fp.points]
    corr = (
        permutation_correlation([p.reasoning for p in fp.points], [p.truthfulness for p in fp.points], 20_000)
        if len(fp.points) >= 3
        else None
    )
    return FamilySummary(fp.family, len(fp.points), (min(sizes), max(sizes)), corr, dict(phases), len(signs) == 2, nc)


def list_families(
    session: Session, panel: str = SOURCED, x: str = REASONING, y: str = TRUTHFULNESS
) -> list[FamilySummary]:
    return [summarize_family(fp) for fp in family_points(session, panel, x, y).values()]


@dataclass(frozen=True)
class PhaseCorrelation:
    phase: str
    correlation: Correlation | None
    models: list[str]


@dataclass(frozen=True)
class FamilyDetail:
    family: str
    panel: str
    points: list[dict[str, Any]]
    couplings: list[LocalCoupling]
    overall: Correlation | None
    by_phase: list[PhaseCorrelation]
    nc_quadratic: NcEstimate | None
    nc_gamma: NcEstimate | None
    notes: list[str]
    width_caveat: str


def family_detail(
    session: Session,
    family: str,
    panel: str = SOURCED,
    *,
    resamples: int = 2000,
    seed: int = 42,
    x: str = REASONING,
    y: str = TRUTHFULNESS,
) -> FamilyDetail:
    families = family_points(session, panel, x, y)
    match = next((name for name in families if name.casefold() == family.casefold()), None)
    if match is None:
        raise NotFoundError(
            f"no family {family!r} with {x} and {y} in panel {panel}",
            did_you_mean(family, families) or "see `phasewatch phase families`",
        )
    fp = families[match]
    points = sorted(fp.points, key=lambda p: p.params)
    couplings = local_couplings(points)
    by_phase = []
    for phase in ("tax", "transition", "bonus"):
        names = sorted({n for c in couplings if c.phase == phase for n in (c.smaller, c.larger)})
        members = [p for p in points if p.name in names]
        corr = (
            permutation_correlation([p.reasoning for p in members], [p.truthfulness for p in members], 20_000, seed)
            if len(members) >= 3
            else None
        )
        if names:
            by_phase.append(PhaseCorrelation(phase, corr, names))
    rows = [
        {
            "model": p.name,
            "params_b": p.params / 1e9,
            x: p.reasoning,
            y: p.truthfulness,
            "d_model": p.d_model,
            f"{x}_width_normalised": width_normalised(p.reasoning, p.d_model) if p.d_model else None,
            f"{y}_width_normalised": width_normalised(p.truthfulness, p.d_model) if p.d_model else None,
        }
        for p in points
    ]
    enough = len(points) >= 4
    overall = (
        permutation_correlation([p.reasoning for p in points], [p.truthfulness for p in points], 20_000, seed)
        if len(points) >= 3
        else None
    )
    return FamilyDetail(
        match,
        panel,
        rows,
        couplings,
        overall,
        by_phase,
        nc_quadratic_bootstrap(points, resamples, seed) if enough else None,
        nc_gamma_bootstrap(points, resamples, seed) if enough else None,
        fp.notes,
        WIDTH_CAVEAT,
    )


def _pool(session: Session, families: list[str] | tuple[str, ...], panel: str) -> tuple[list[str], list[Point]]:
    """The families' canonical names (as the panel spells them) and their pooled points."""
    available = family_points(session, panel)
    names, points = [], []
    for family in families:
        match = next((name for name in available if name.casefold() == family.casefold()), None)
        if match is None:
            raise NotFoundError(
                f"no family {family!r} with HellaSwag and TruthfulQA in panel {panel}",
                f"families there: {', '.join(sorted(available))}",
            )
        names.append(match)
        points += available[match].points
    if len(points) < 4:
        held = f"{len(points)} model{'' if len(points) == 1 else 's'}"
        raise InvalidInputError(f"only {held} in {', '.join(families)}", "pool more families")
    return names, points


def pooled_points(session: Session, families: list[str], panel: str) -> list[Point]:
    return _pool(session, families, panel)[1]


def nc_estimates(
    session: Session, families: list[str], panel: str, resamples: int, seed: int, legacy_rng: bool = False
) -> tuple[NcEstimate, NcEstimate, int]:
    points = pooled_points(session, families, panel)
    quadratic = nc_quadratic_bootstrap(points, resamples, seed, legacy_rng=legacy_rng)
    return quadratic, nc_gamma_bootstrap(points, resamples, seed), len(points)


# --- stored N_c: computed by `phase nc` / `phase reproduce`, read by the report ------------------


@dataclass(frozen=True)
class StoredNc:
    """An N_c bootstrap as it was stored, and whether the panel still holds the same points."""

    panel: str
    families: list[str]
    resamples: int
    seed: int
    legacy_rng: bool
    points: int
    quadratic: NcEstimate
    gamma: NcEstimate
    command: str
    computed_at: dt.datetime
    current: bool  # False: the pooled points changed since; rerun the command


def points_hash(points: list[Point]) -> str:
    """SHA-256 of the pooled points (name, size, both scores) in pooling order."""
    rows = [[p.name, p.params, p.reasoning, p.truthfulness] for p in points]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _estimate(data: dict[str, Any]) -> NcEstimate:
    def pair(v: Any) -> tuple[float, float] | None:
        return None if v is None else (v[0], v[1])

    return NcEstimate(
        **{**data, "ci95_billions": pair(data["ci95_billions"]), "ci68_billions": pair(data["ci68_billions"])}
    )


def _json_ready(e: NcEstimate) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(e)))  # tuples as lists, exactly as the CLI's --json prints them


def store_nc(
    session: Session,
    families: list[str],
    panel: str,
    resamples: int,
    seed: int,
    legacy_rng: bool,
    points: list[Point],
    quadratic: NcEstimate,
    gamma: NcEstimate,
    *,
    command: str,
    now: dt.datetime,
) -> None:
    """Keep one bootstrap's result (replacing an earlier run of the same question)."""
    key = ",".join(families)
    row = session.scalars(
        select(NcResult).where(
            NcResult.panel == panel,
            NcResult.families == key,
            NcResult.resamples == resamples,
            NcResult.seed == seed,
            NcResult.legacy_rng == legacy_rng,
        )
    ).one_or_none()
    if row is None:
        row = NcResult(panel=panel, families=key, resamples=resamples, seed=seed, legacy_rng=legacy_rng)
        session.add(row)
    row.points, row.data_hash = len(points), points_hash(points)
    row.quadratic, row.gamma = _json_ready(quadratic), _json_ready(gamma)
    row.command, row.computed_at = command, now
    session.flush()


def run_nc(
    session: Session,
    families: list[str],
    panel: str,
    resamples: int,
    seed: int,
    legacy_rng: bool = False,
    *,
    now: dt.datetime,
    command: str = "phase nc",
) -> tuple[NcEstimate, NcEstimate, int]:
    """`nc_estimates`, stored for the report."""
    names, points = _pool(session, families, panel)
    quadratic = nc_quadratic_bootstrap(points, resamples, seed, legacy_rng=legacy_rng)
    gamma = nc_gamma_bootstrap(points, resamples, seed)
    store_nc(session, names, panel, resamples, seed, legacy_rng, points, quadratic, gamma, command=command, now=now)
    return quadratic, gamma, len(points)


def stored_nc(
    session: Session,
    families: list[str] | tuple[str, ...] = NC_FAMILIES,
    panel: str = SOURCED,
    resamples: int | None = NC_RESAMPLES,
    seed: int | None = NC_SEED,
    legacy_rng: bool | None = False,
) -> StoredNc | None:
    """The stored result for this question (None where a parameter is None: any, the latest run);
    None if no command has stored one."""
    names, points = _pool(session, families, panel)
    query = select(NcResult).where(NcResult.panel == panel, NcResult.families == ",".join(names))
    for column, value in ((NcResult.resamples, resamples), (NcResult.seed, seed), (NcResult.legacy_rng, legacy_rng)):
        if value is not None:
            query = query.where(column == value)
    row = session.scalars(query.order_by(NcResult.computed_at.desc(), NcResult.id.desc()).limit(1)).one_or_none()
    if row is None:
        return None
    return StoredNc(
        row.panel,
        row.families.split(","),
        row.resamples,
        row.seed,
        row.legacy_rng,
        row.points,
        _estimate(row.quadratic),
        _estimate(row.gamma),
        row.command,
        row.computed_at,
        row.data_hash == points_hash(points),
    )


# --- reproduce the paper, then check it on sourced data ---------------------------------------


@dataclass(frozen=True)
class Side:
    label: str
    pythia_r: Correlation | None
    pythia_points: str
    nc_quadratic: NcEstimate
    nc_gamma: NcEstimate
    nc_points: str
    cross_family: CrossFamily
    cross_family_points: str


@dataclass(frozen=True)
class Reproduction:
    paper: Side
    sourced: Side
    pythia_matches: list[str]


def _llama_points(session: Session, panel: str) -> tuple[list[Point], list[Point]]:
    families = family_points(session, panel)
    return families["Llama-1"].points, families["Llama-2"].points


def reproduce(
    session: Session, resamples: int = NC_RESAMPLES, seed: int = NC_SEED, *, now: dt.datetime | None = None
) -> Reproduction:
    """The paper's numbers from the paper's own points, beside the same analyses on
    the sourced base-family table (deduplicated Pythia, which has the v1 scores).
    With ``now``, both N_c bootstraps are stored (as `phase nc` would store them) for the report."""
    pythia8 = family_points(session, "lying-pythia-8")["Pythia"].points
    nc14 = family_points(session, PAPER_NC)
    paper_pool = nc14["Pythia"].points + nc14["Llama-1"].points + nc14["Llama-2"].points
    paper = Side(
        "paper's data",
        permutation_correlation([p.reasoning for p in pythia8], [p.truthfulness for p in pythia8]),
        "lying-pythia-8 (ai_free_energy_data.json, 8 Pythia points)",
        nc_quadratic_bootstrap(paper_pool, resamples, seed, legacy_rng=True),
        nc_gamma_bootstrap(paper_pool, resamples, seed),
        "lying-nc-14 (Pythia 8 + Llama-1 3 + Llama-2 3; the script's seed-42 legacy RNG replayed)",
        cross_family_prediction(nc14["Pythia"].points + nc14["Llama-1"].points, nc14["Llama-2"].points),
        "quadratic TQA(log10 N) on lying-nc-14 Pythia + Llama-1, predicting its Llama-2",
    )
    sourced_families = family_points(session, SOURCED)
    deduped = sourced_families["Pythia-deduped"].points
    llama1, llama2 = _llama_points(session, SOURCED)
    sourced_pool = deduped + llama1 + llama2
    sourced = Side(
        "sourced data",
        permutation_correlation([p.reasoning for p in deduped], [p.truthfulness for p in deduped]),
        f"{SOURCED} Pythia-deduped ({len(deduped)} points; non-deduplicated Pythia has HellaSwag for only "
        f"{len(sourced_families.get('Pythia', FamilyPoints('Pythia', [])).points)})",
        nc_quadratic_bootstrap(sourced_pool, resamples, seed),
        nc_gamma_bootstrap(sourced_pool, resamples, seed),
        f"{SOURCED} Pythia-deduped + Llama-1 + Llama-2 ({len(sourced_pool)} points; numpy default_rng seed {seed})",
        cross_family_prediction(deduped + llama1, llama2),
        f"quadratic TQA(log10 N) on {SOURCED} Pythia-deduped + Llama-1, predicting its Llama-2",
    )
    if now is not None:
        for side, panel, families, pool, legacy in (
            (paper, PAPER_NC, PAPER_NC_FAMILIES, paper_pool, True),
            (sourced, SOURCED, NC_FAMILIES, sourced_pool, False),
        ):
            store_nc(
                session,
                list(families),
                panel,
                resamples,
                seed,
                legacy,
                pool,
                side.nc_quadratic,
                side.nc_gamma,
                command="phase reproduce",
                now=now,
            )
    matches = [f"lying-pythia-8 {line}" for line in _pythia_matches(session, pythia8)]
    matches += [f"lying-nc-14 {line}" for line in _pythia_matches(session, nc14["Pythia"].points)]
    return Reproduction(paper, sourced, matches)


def _panel_values(session: Session, panel: str, keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    chosen = Catalog(session).panel(panel)
    rows = session.execute(
        select(Model.name, Benchmark.key, Observation.value)
        .join(Observation, Observation.model_id == Model.id)
        .join(Benchmark)
        .join(PanelObservation, PanelObservation.observation_id == Observation.id)
        .where(PanelObservation.panel_id == chosen.id, Benchmark.key.in_(keys))
    )
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for name, key, value in rows:
        out[name][key] = value
    return out


def _pythia_matches(session: Session, paper_points: list[Point]) -> list[str]:
    """Which leaderboard entry (non-deduplicated or deduplicated) each of the paper's
    Pythia values equals, benchmark by benchmark (within 0.05), computed."""
    sourced = _panel_values(session, SOURCED, (REASONING, TRUTHFULNESS))
    lines = []
    for name, hs, tqa in sorted({(p.name, p.reasoning, p.truthfulness) for p in paper_points}):
        size = name.removeprefix("pythia-")
        parts = []
        for key, label, value in ((REASONING, "HellaSwag", hs), (TRUTHFULNESS, "TruthfulQA", tqa)):
            matched = [
                entry
                for entry in (f"pythia-{size}", f"pythia-{size}-deduped")
                if key in sourced.get(entry, {}) and abs(sourced[entry][key] - value) <= 0.05
            ]
            parts.append(
                f"{label} {value:g} = {' and '.join(matched)}" if matched else f"{label} {value:g} matches neither"
            )
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


# --- classify a base model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    params_b: float
    reasoning: float
    truthfulness: float
    isocline: Isocline
    isocline_phase: str
    boundary_truthfulness: float
    size_vs_nc: list[str]
    width_normalised: dict[str, float] | None
    width_caveat: str | None


def classify(
    session: Session, params_b: float, reasoning: float, truthfulness: float, d_model: int | None = None
) -> Classification:
    from phasewatch.registry.catalog import check_score

    check_score(reasoning, benchmark="hellaswag")
    check_score(truthfulness, benchmark="truthfulqa_mc2")
    if not params_b > 0:
        raise InvalidInputError(f"--params-b must be positive, got {params_b}", "give billions of parameters, e.g. 1.4")
    if d_model is not None and d_model <= 0:
        raise InvalidInputError(f"--d-model must be positive, got {d_model}", "give the hidden size, e.g. 2048")
    olmo = family_points(session, "lying-63").get("OLMo")
    if olmo is None:
        raise NotFoundError("the paper's OLMo rows are not in the registry", "run `phasewatch init`")
    isocline = calibrate_isocline(olmo.points)
    phase, boundary = isocline_phase(isocline, reasoning, truthfulness)
    notes = []
    for label, panel, families in (
        ("paper's 14 points", "lying-nc-14", ["Pythia", "Llama-1", "Llama-2"]),
        ("sourced Pythia-deduped + Llama", SOURCED, ["Pythia-deduped", "Llama-1", "Llama-2"]),
    ):
        nc = nc_quadratic_bootstrap(pooled_points(session, families, panel), resamples=0).point_billions
        if nc is not None:
            side = "below" if params_b < nc else "above"
            notes.append(f"{side} N_c = {nc:.2f}B ({label}, quadratic fit on all points)")
    width = None
    if d_model:
        width = {
            "hellaswag": width_normalised(reasoning, d_model),
            "truthfulqa_mc2": width_normalised(truthfulness, d_model),
        }
    return Classification(
        params_b, reasoning, truthfulness, isocline, phase, boundary, notes, width, WIDTH_CAVEAT if d_model else None
    )
