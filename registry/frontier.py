"""The live ``frontier`` panel: every frontier observation known as of a date,
one value per model × benchmark, chosen by a stated policy (docs/registry.md).

The policy, in order:

1. *Known as of the date*: a model released after the date, or a figure first
   known (``retrieved_on``, else when it was logged) after it, is left out; a
   figure retracted (corrected) by then is left out.
2. *Standard setting only*: a figure whose setting names one of its benchmark's
   non-standard markers (``text-only``, ``with tools``, ``parallel`` …) is left
   out. Only the setting's first clause is read: text in parentheses and after
   the first ``;`` is commentary ("no tools (42.8 with tools)" is standard).
3. *Same weights counted once*: models joined by ``variant_of`` (compute tiers,
   previews) form one group, represented by the member holding the most
   benchmarks (ties: the group's root, then the earliest release). Aliases are
   names of one model row, so they never count twice.
4. *Precedence*: among the representative's remaining figures of a benchmark,
   the reporter earliest in the precedence wins (default lab > third_party >
   paper), then the most recently known figure, then the latest logged.

Every figure left out carries its reason, so ``panels show frontier`` explains
each chosen value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from phasewatch.registry.dates import format_partial_date, parse_partial_date
from phasewatch.registry.errors import InvalidInputError
from phasewatch.registry.schema import (
    Benchmark,
    Fit,
    FitObservation,
    Lab,
    Model,
    ModelKind,
    Observation,
    PanelObservation,
    ReportedBy,
)

LIVE_PANEL = "frontier"
DEFAULT_PRECEDENCE: tuple[str, ...] = (ReportedBy.LAB.value, ReportedBy.THIRD_PARTY.value, ReportedBy.PAPER.value)
_PARENS = re.compile(r"\([^)]*\)")


def is_live(name: str) -> bool:
    """``frontier`` or ``frontier@YYYY-MM-DD``."""
    return name.strip() == LIVE_PANEL or name.strip().startswith(LIVE_PANEL + "@")


def live_as_of(name: str) -> dt.date | None:
    """The as-of date of a live panel name (``None``: everything the registry holds)."""
    _, sep, date_text = name.strip().partition("@")
    if not sep:
        return None
    day, precision = parse_partial_date(date_text, what="as-of date of the live panel")
    if precision != "day":
        raise InvalidInputError(f"as-of date {date_text!r} is not a full date", "write frontier@YYYY-MM-DD")
    return day


def parse_precedence(text: str | None) -> tuple[str, ...]:
    """``"third_party,lab"`` → the reporters in that order, the unnamed ones after in default order."""
    if not text:
        return DEFAULT_PRECEDENCE
    named: list[str] = []
    for part in text.split(","):
        key = part.strip().lower().replace("-", "_")
        if key not in DEFAULT_PRECEDENCE:
            raise InvalidInputError(
                f"unknown reporter {part.strip()!r} in the precedence",
                "use lab, third_party and paper, comma-separated",
            )
        if key not in named:
            named.append(key)
    return (*named, *(r for r in DEFAULT_PRECEDENCE if r not in named))


@dataclass(frozen=True)
class Choice:
    """One value that enters the panel, and why it was the one chosen."""

    model: str
    lab: str
    release_date: str | None
    benchmark: str
    value: float
    reported_by: str
    setting: str | None
    source_url: str | None
    observation_id: int
    reason: str


@dataclass(frozen=True)
class Exclusion:
    """A figure the policy left out, with the rule that did it."""

    model: str
    benchmark: str
    value: float
    reported_by: str
    setting: str | None
    observation_id: int
    reason: str


@dataclass(frozen=True)
class LiveSelection:
    as_of: str | None
    precedence: tuple[str, ...]
    chosen: list[Choice] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def models(self) -> int:
        return len({c.model for c in self.chosen})

    def pairs(self, x: str, y: str) -> list[tuple[Choice, Choice]]:
        """The (x, y) choices of every model holding both, by release date then name."""
        by_model: dict[str, dict[str, Choice]] = defaultdict(dict)
        for choice in self.chosen:
            by_model[choice.model][choice.benchmark] = choice
        rows = [(b[x], b[y]) for b in by_model.values() if x in b and y in b]
        rows.sort(key=lambda p: (p[0].release_date or "9999", p[0].model))
        return rows


def _first_clause(setting: str | None) -> str:
    return _PARENS.sub(" ", (setting or "").split(";")[0]).casefold()


class _HasMarkers(Protocol):
    @property
    def nonstandard_markers(self) -> str | None: ...


def nonstandard_marker(benchmark: _HasMarkers, setting: str | None) -> str | None:
    """The non-standard marker a setting names, if any (``benchmark``: a Benchmark or a row holding its markers)."""
    clause = _first_clause(setting)
    for marker in (benchmark.nonstandard_markers or "").split("|"):
        if marker.strip() and marker.strip().casefold() in clause:
            return marker.strip()
    return None


@dataclass(frozen=True, slots=True)
class _Figure:
    """One frontier observation with what the policy reads of its model and benchmark (one SQL row)."""

    id: int
    model_id: int
    model: str
    lab: str
    release_date: dt.date | None
    release_precision: str | None
    variant_of_id: int | None
    benchmark_id: int
    benchmark: str
    nonstandard_markers: str | None
    standard_setting: str | None
    value: float
    reported_by: str
    setting: str | None
    source_url: str | None
    retrieved_on: dt.date | None
    created_at: dt.datetime | None
    retracted_on: dt.date | None


def _figures(session: Session, benchmarks: tuple[str, ...] | None, models: set[int] | None = None) -> list[_Figure]:
    """Every frontier observation (of ``benchmarks`` and ``models``, if named) as plain rows: no ORM objects."""
    query = (
        select(
            Observation.id,
            Observation.model_id,
            Model.name,
            Lab.name,
            Model.release_date,
            Model.release_date_precision,
            Model.variant_of_id,
            Observation.benchmark_id,
            Benchmark.key,
            Benchmark.nonstandard_markers,
            Benchmark.standard_setting,
            Observation.value,
            Observation.reported_by,
            Observation.setting,
            Observation.source_url,
            Observation.retrieved_on,
            Observation.created_at,
            Observation.retracted_on,
        )
        .join(Model, Observation.model_id == Model.id)
        .join(Lab, Model.lab_id == Lab.id)
        .join(Benchmark, Observation.benchmark_id == Benchmark.id)
        .where(Model.kind == ModelKind.FRONTIER.value)
    )
    if models is not None:
        if not models:
            return []
        # A few models' figures: found by model (SQLite would rather walk every figure of the
        # benchmarks, ~20,000 rows at 10,000 models), the benchmarks kept here.
        found = [_Figure(*row) for row in session.execute(query.where(Observation.model_id.in_(sorted(models))))]
        return found if benchmarks is None else [f for f in found if f.benchmark in benchmarks]
    if benchmarks is not None:
        query = query.where(Benchmark.key.in_(benchmarks))
    return [_Figure(*row) for row in session.execute(query)]


MAX_GROUPS_WALKED = 500  # more models than this: reading every model's parent at once is as quick


def variant_groups(session: Session, model_ids: set[int]) -> set[int]:
    """Every model in the same ``variant_of`` groups as ``model_ids`` (the ids themselves included)."""
    if not model_ids:
        return set()
    if len(model_ids) > MAX_GROUPS_WALKED:
        rows = session.execute(select(Model.id, Model.variant_of_id)).all()
        parents = {i: v for i, v in rows if v is not None}
        wanted = {_root(i, parents) for i in model_ids}
        return {i for i, _ in rows if _root(i, parents) in wanted} | set(model_ids)
    return _descendants(session, _roots(session, model_ids)) | set(model_ids)


def _roots(session: Session, model_ids: set[int]) -> set[int]:
    """The root of each model's ``variant_of`` chain, walking up one level per query."""
    parents: dict[int, int | None] = {}
    asked = set(model_ids)
    while asked:
        rows = session.execute(select(Model.id, Model.variant_of_id).where(Model.id.in_(sorted(asked)))).all()
        parents.update({i: v for i, v in rows})
        asked = {v for _, v in rows if v is not None and v not in parents}
    known = {i: v for i, v in parents.items() if v is not None}
    return {_root(i, known) for i in model_ids}


def _descendants(session: Session, roots: set[int]) -> set[int]:
    """``roots`` and every model whose ``variant_of`` chain reaches one, one level per query."""
    found, level = set(roots), set(roots)
    while level:
        children = set(session.scalars(select(Model.id).where(Model.variant_of_id.in_(sorted(level)))))
        level = children - found
        found |= level
    return found


def _variant_parents(session: Session, figures: list[_Figure]) -> dict[int, int]:
    """model id → the model it is a variant of, for every model on the chains above ``figures``."""
    parents = {f.model_id: f.variant_of_id for f in figures if f.variant_of_id is not None}
    missing = set(parents.values()) - {f.model_id for f in figures}
    while missing:
        rows = session.execute(select(Model.id, Model.variant_of_id).where(Model.id.in_(missing))).all()
        found = {i: v for i, v in rows if v is not None and i not in parents}
        parents.update(found)
        missing = set(found.values()) - set(parents) - {f.model_id for f in figures}
    return parents


def _root(model_id: int, parents: dict[int, int]) -> int:
    seen = {model_id}
    while (parent := parents.get(model_id)) is not None and parent not in seen:
        model_id = parent
        seen.add(model_id)
    return model_id


def _known_on(o: _Figure) -> dt.date:
    if o.retrieved_on is not None:
        return o.retrieved_on
    return o.created_at.date() if o.created_at else dt.date.max


def select_frontier(
    session: Session,
    *,
    as_of: dt.date | None = None,
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE,
    benchmarks: tuple[str, ...] | None = None,
    models: set[int] | None = None,
) -> LiveSelection:
    """Apply the selection policy (module docstring) to every frontier observation.

    ``models``: only these models' figures (ids); pass whole variant groups
    (:func:`variant_groups`), since a group's representative is chosen among its members.
    """
    figures = _figures(session, benchmarks, models)
    parents = _variant_parents(session, figures)
    excluded: list[Exclusion] = []

    def leave_out(o: _Figure, reason: str) -> None:
        excluded.append(Exclusion(o.model, o.benchmark, o.value, o.reported_by, o.setting, o.id, reason))

    eligible: dict[int, list[_Figure]] = defaultdict(list)  # model id → its eligible figures
    for o in figures:
        if as_of is not None and (o.release_date is None or o.release_date > as_of):
            leave_out(
                o,
                "release date unknown"
                if o.release_date is None
                else f"released {format_partial_date(o.release_date, o.release_precision)}, after {as_of}",
            )
        elif as_of is not None and _known_on(o) > as_of:
            leave_out(o, f"first known {_known_on(o)}, after {as_of}")
        elif o.retracted_on is not None and (as_of is None or o.retracted_on <= as_of):
            leave_out(o, f"retracted {o.retracted_on} (corrected; see `phasewatch models history`)")
        elif marker := nonstandard_marker(o, o.setting):
            leave_out(o, f"setting names {marker!r}: not the standard setting ({o.standard_setting})")
        else:
            eligible[o.model_id].append(o)

    groups: dict[int, list[int]] = defaultdict(list)  # root model id → the member model ids
    for model_id in eligible:
        groups[_root(model_id, parents)].append(model_id)
    chosen: list[Choice] = []
    rank = {r: i for i, r in enumerate(precedence)}
    for root_id, members in groups.items():
        members.sort(
            key=lambda m, root=root_id: (
                -len({o.benchmark_id for o in eligible[m]}),
                m != root,
                eligible[m][0].release_date or dt.date.max,
                eligible[m][0].model,
            )
        )
        representative = eligible[members[0]][0].model
        for other in members[1:]:
            for o in eligible[other]:
                leave_out(
                    o,
                    f"same weights as {representative} (variant_of): the group is counted once, via "
                    f"{representative}, the member with the most benchmarks",
                )
        by_benchmark: dict[str, list[_Figure]] = defaultdict(list)
        for o in eligible[members[0]]:
            by_benchmark[o.benchmark].append(o)
        for figures_of in by_benchmark.values():
            figures_of.sort(key=lambda o: (rank.get(o.reported_by, len(rank)), -_known_on(o).toordinal(), -o.id))
            best, rest = figures_of[0], figures_of[1:]
            chosen.append(_choice(best, _reason(best, rest, precedence)))
            for o in rest:
                why = (
                    ("precedence " + " > ".join(precedence)) if o.reported_by != best.reported_by else "a later figure"
                )
                leave_out(o, f"{best.value:g} ({best.reported_by}) chosen instead: {why}")
    chosen.sort(key=lambda c: (c.release_date or "9999", c.model, c.benchmark))
    excluded.sort(key=lambda e: (e.model, e.benchmark, e.value))
    return LiveSelection(as_of.isoformat() if as_of else None, precedence, chosen, excluded)


def _reason(best: _Figure, rest: list[_Figure], precedence: tuple[str, ...]) -> str:
    if not rest:
        return "the only standard-setting figure"
    beaten = [o for o in rest if o.reported_by != best.reported_by]
    same = [o for o in rest if o.reported_by == best.reported_by]
    parts = []
    if beaten:
        others = ", ".join(f"{o.value:g} ({o.reported_by})" for o in beaten)
        parts.append(f"{best.reported_by} precedes ({' > '.join(precedence)}) {others}")
    if same:
        parts.append(
            f"latest {best.reported_by} figure (known {_known_on(best)}) over "
            + ", ".join(f"{o.value:g}" for o in same)
        )
    return "; ".join(parts)


def _choice(o: _Figure, reason: str) -> Choice:
    return Choice(
        model=o.model,
        lab=o.lab,
        release_date=format_partial_date(o.release_date, o.release_precision) or None,
        benchmark=o.benchmark,
        value=o.value,
        reported_by=o.reported_by,
        setting=o.setting,
        source_url=o.source_url,
        observation_id=o.id,
        reason=reason,
    )


# --- fits ------------------------------------------------------------------------------


def coupling_data(session: Session, name: str, x: str, y: str):
    """The live panel's (x, y) rows for a fit; ``name`` is ``frontier`` or ``frontier@DATE``."""
    import numpy as np

    from phasewatch.models.coupling import CouplingData

    pairs = select_frontier(session, as_of=live_as_of(name), benchmarks=(x, y)).pairs(x, y)
    if len(pairs) < 5:
        raise InvalidInputError(
            f"only {len(pairs)} model{'' if len(pairs) == 1 else 's'} in {name} {'has' if len(pairs) == 1 else 'have'} both {x} and {y}",
            "log more releases with both scores",
        )
    return CouplingData(
        names=tuple(p[0].model for p in pairs),
        labs=tuple(p[0].lab for p in pairs),
        x=np.array([p[0].value for p in pairs]),
        y=np.array([p[1].value for p in pairs]),
        dates=tuple(p[0].release_date for p in pairs),
    )


def observations_used(session: Session, panels: tuple[str, ...], x: str, y: str, names: tuple[str, ...]) -> list[int]:
    """The observation ids behind a fit's rows (``names`` are the fitted models)."""
    if len(panels) == 1 and is_live(panels[0]):
        pairs = select_frontier(session, as_of=live_as_of(panels[0]), benchmarks=(x, y)).pairs(x, y)
        return sorted({c.observation_id for p in pairs for c in p})
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.schema import ModelName

    catalog = Catalog(session)
    panel_ids = [catalog.panel(p).id for p in panels]
    rows = session.execute(
        select(Observation.id)
        .join(Benchmark)
        .join(PanelObservation, PanelObservation.observation_id == Observation.id)
        .join(Model, Observation.model_id == Model.id)
        .where(
            PanelObservation.panel_id.in_(panel_ids),
            Benchmark.key.in_((x, y)),
            Model.id.in_(select(ModelName.model_id).where(ModelName.name.in_(names))),
        )
    )
    return sorted({r for (r,) in rows})


def record_fit_observations(session: Session, fit_id: int, observation_ids: list[int]) -> None:
    session.add_all(FitObservation(fit_id=fit_id, observation_id=i) for i in observation_ids)


@dataclass(frozen=True)
class Staleness:
    """The releases a fit has not seen that its panel would hold now.

    For a fit of the live panel: every model the live panel (as of the fit's
    as-of date, if it had one) holds with both of the fit's benchmarks and the
    fit did not see. For a fit of frozen panels: the panels' models it did not
    see (none, unless observations were added to the panels), and the releases
    whose pair of scores was completed at or after the fit was made, which only
    a live-panel fit takes in. Figures that were already in the registry when a
    frozen panel was fitted (e.g. the bundled sourced panel beside the paper's)
    were left out by choosing that panel, and do not count as arrived since.
    """

    fit_id: int
    fit_panels: str
    fit_models: int
    frozen: bool
    unseen: list[str]
    command: str

    @property
    def stale(self) -> bool:
        return bool(self.unseen)

    def sentence(self) -> str:
        if not self.unseen:
            return f"fit #{self.fit_id} ({self.fit_panels}) is current: no release with both scores has arrived since"
        shown = ", ".join(self.unseen[:5]) + (f" and {len(self.unseen) - 5} more" if len(self.unseen) > 5 else "")
        n = len(self.unseen)
        them = "it" if n == 1 else "them"
        take = f"only a live-panel fit takes {them} in" if self.frozen else f"a refit takes {them} in"
        return (
            f"fit #{self.fit_id} ({self.fit_panels}) is stale: {n} release{'s' if n != 1 else ''} with both scores "
            f"arrived since ({shown}); {take}: run `{self.command}`"
        )


def _seen_models(session: Session, fit: Fit) -> tuple[set[int], set[str]]:
    seen_ids = set(
        session.scalars(
            select(Observation.model_id)
            .join(FitObservation, FitObservation.observation_id == Observation.id)
            .where(FitObservation.fit_id == fit.id)
        )
    )
    return seen_ids, {m["name"] for m in (fit.summary or {}).get("models", [])}


def staleness(session: Session, fit: Fit, selection: LiveSelection | None = None) -> Staleness:
    """What has arrived since ``fit`` that its panel would hold (class docstring).

    ``selection``: the live panel already selected for the fit's two benchmarks
    (as of now), to share one selection among many fits (`fits list`).
    """
    panels = tuple(p for p in fit.panels.split(",") if p)
    live = len(panels) == 1 and is_live(panels[0])
    as_of = live_as_of(panels[0]) if live else None
    x, y = fit.x_benchmark, fit.y_benchmark
    seen_ids, seen_names = _seen_models(session, fit)
    in_panels: set[str] = set()
    if not live:
        try:
            from phasewatch.registry.fits import panel_data

            in_panels = set(panel_data(session, panels, x, y).names)
        except InvalidInputError:  # a panel with fewer than five pairs: nothing of it can be missed
            pass
    if selection is None or as_of is not None:
        candidates = _staleness_candidates(session, fit, live, in_panels) - seen_ids
        selection = select_frontier(session, as_of=as_of, benchmarks=(x, y), models=variant_groups(session, candidates))
    pairs = selection.pairs(x, y)
    ids = [c.observation_id for p in pairs for c in p]
    rows = session.execute(
        select(Observation.id, Observation.model_id, Observation.created_at).where(Observation.id.in_(ids))
    ).all()
    model_of = {i: m for i, m, _ in rows}
    logged = {i: _aware(t) for i, _, t in rows}

    def unseen_pair(p: tuple[Choice, Choice]) -> bool:
        return model_of[p[0].observation_id] not in seen_ids and p[0].model not in seen_names

    if live:
        unseen = [p[0].model for p in pairs if unseen_pair(p)]
    else:
        made = _aware(fit.created_at)
        unseen = [
            p[0].model
            for p in pairs
            if unseen_pair(p)
            and (p[0].model in in_panels or max(logged[p[0].observation_id], logged[p[1].observation_id]) >= made)
        ]
    command = "phasewatch fit --panel frontier"
    if (x, y) != ("swe_bench_verified", "gpqa_diamond"):
        command += f" --x {x} --y {y}"
    return Staleness(fit.id, fit.panels, fit.n_models, not live, unseen, command)


def _staleness_candidates(session: Session, fit: Fit, live: bool, in_panels: set[str]) -> set[int]:
    """The frontier models that may hold a release ``fit`` has not seen (a superset, found in
    SQL, so that the selection runs on them alone rather than on the whole frontier): with a
    figure of the fit's benchmarks and, for a frozen-panel fit, one logged at or after the fit
    or a place in its panels."""
    from phasewatch.registry.schema import ModelName

    query = (
        select(Observation.model_id)
        .distinct()
        .join(Model, Observation.model_id == Model.id)
        .join(Benchmark, Observation.benchmark_id == Benchmark.id)
        .where(Model.kind == ModelKind.FRONTIER.value, Benchmark.key.in_((fit.x_benchmark, fit.y_benchmark)))
    )
    if live:
        return set(session.scalars(query))
    made = select(Fit.created_at).where(Fit.id == fit.id).scalar_subquery()  # as stored: compared like with like
    recent = set(session.scalars(query.where(Observation.created_at >= made)))
    named = set(session.scalars(select(ModelName.model_id).where(ModelName.name.in_(sorted(in_panels)))))
    return recent | named


def _aware(value: dt.datetime | None) -> dt.datetime:
    """A stored timestamp comparable with another (SQLite returns naive UTC)."""
    if value is None:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def releases_since_fit(session: Session, fit: Fit) -> int:
    """How many releases arrived since ``fit`` that its panel would hold (see :class:`Staleness`)."""
    return len(staleness(session, fit).unseen)


def freeze_panel(
    session: Session,
    name: str,
    *,
    as_of: dt.date | None,
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE,
    description: str | None = None,
) -> tuple[str, int, int]:
    """Snapshot the live panel into a frozen panel; returns (name, models, observations)."""
    from phasewatch.registry.catalog import Catalog
    from phasewatch.registry.errors import ConflictError
    from phasewatch.registry.schema import Panel

    name = name.strip()
    if not name or is_live(name) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise InvalidInputError(f"bad panel name {name!r}", "use letters, digits, '.', '_' and '-', not 'frontier'")
    if session.scalar(select(Panel).where(Panel.name == name)) is not None:
        raise ConflictError(f"panel {name!r} already exists", "frozen panels never change: choose another name")
    selection = select_frontier(session, as_of=as_of, precedence=precedence)
    if not selection.chosen:
        raise InvalidInputError(f"the live panel as of {as_of} is empty", "choose a later --as-of date")
    catalog = Catalog(session)
    when = f"as of {as_of}" if as_of else "with everything the registry held"
    panel = catalog.add_panel(
        name,
        description=description
        or f"Frozen snapshot of the live frontier panel {when} (precedence {' > '.join(precedence)}).",
        source=f"phasewatch panels freeze {name} --from frontier" + (f" --as-of {as_of}" if as_of else ""),
        licence="as each observation's source",
    )
    chosen = {c.observation_id for c in selection.chosen}
    for o in session.scalars(select(Observation).where(Observation.id.in_(chosen))):
        catalog.add_to_panel(panel, o, loading=True)
    session.flush()
    return name, selection.models, len(chosen)
