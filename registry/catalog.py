"""Resolving names and writing labs, models and observations.

:class:`Catalog` caches what one transaction has looked up, so bulk loads
(seeding, imports) do not query once per cell; every write still goes through
the database's unique constraints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phasewatch.registry.dates import DatePrecision
from phasewatch.registry.errors import ConflictError, InvalidInputError, NotFoundError
from phasewatch.registry.names import did_you_mean, name_key, suggest
from phasewatch.registry.schema import (
    Benchmark,
    Lab,
    LabName,
    Model,
    ModelKind,
    ModelName,
    Observation,
    Panel,
    PanelModel,
    PanelObservation,
    ReportedBy,
)

HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_score(value: float, *, benchmark: str, where: str = "") -> float:
    """A score in percent: finite and within [0, 100]."""
    prefix = f"{where}: " if where else ""
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise InvalidInputError(
            f"{prefix}score {value:g} for {benchmark} is outside [0, 100]",
            "scores are percentages; write 80.2, not 0.802 or 802",
        )
    return float(value)


def check_reported_by(text: str, *, where: str = "") -> ReportedBy:
    prefix = f"{where}: " if where else ""
    try:
        return ReportedBy(text.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        choices = ", ".join(r.value for r in ReportedBy)
        raise InvalidInputError(f"{prefix}unknown reporter {text!r}", f"use one of {choices}") from None


def check_hf_repo(repo: str) -> str:
    if not HF_REPO.match(repo):
        raise InvalidInputError(f"malformed Hugging Face repo id {repo!r}", "write it as ORG/NAME")
    return repo


def fingerprint(
    model_id: int,
    benchmark_id: int,
    value: float,
    *,
    stderr: float | None,
    setting: str | None,
    source_url: str | None,
    reported_by: str,
) -> str:
    """Content hash that makes loading the same figure twice a no-op.

    When a figure was read (``retrieved_on``) is not part of it: the same value
    from the same source, read twice, is one observation.
    """
    parts = [
        str(model_id),
        str(benchmark_id),
        f"{value:.6f}",
        "" if stderr is None else f"{stderr:.6f}",
        setting or "",
        source_url or "",
        str(reported_by),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class Counts:
    """What a load added (zero everywhere when it was already loaded)."""

    labs: int = 0
    models: int = 0
    benchmarks: int = 0
    observations: int = 0
    panels: int = 0
    panel_members: int = 0

    def total(self) -> int:
        return sum(vars(self).values())


@dataclass
class Catalog:
    """Look-ups and writes for one session, cached for bulk work."""

    session: Session
    bulk: bool = False  # preload every name and fingerprint (seeding, imports) instead of asking per item
    counts: Counts = field(default_factory=Counts)
    _labs: dict[str, Lab] | None = None
    _models: dict[str, Model] | None = None
    _benchmarks: dict[str, Benchmark] | None = None
    _fingerprints: dict[str, Observation] | None = None
    _members: dict[str, set[int]] = field(default_factory=dict)  # panel → id() of member observations

    # -- labs -------------------------------------------------------------
    @property
    def labs(self) -> dict[str, Lab]:
        if self._labs is None:
            rows = self.session.execute(select(LabName.name_key, Lab).join(Lab, LabName.lab_id == Lab.id))
            self._labs = {key: lab for key, lab in rows}
        return self._labs

    def lab(self, name: str) -> Lab:
        """The lab called ``name`` or one of its aliases."""
        found = self.labs.get(name_key(name))
        if found is None:
            by_name = {n.name: n.lab.name for lab in set(self.labs.values()) for n in lab.names}
            close = list(dict.fromkeys(by_name[s] for s in suggest(name, by_name)))
            hints = [f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else []
            hints.append(f"to register a new lab: phasewatch labs add {name!r}")
            raise NotFoundError(f"unknown lab {name!r}", "; ".join(hints))
        return found

    def add_lab(self, name: str, aliases: list[str] | tuple[str, ...] = ()) -> tuple[Lab, bool]:
        """Get or create a lab; aliases already taken by another lab are refused."""
        name = name.strip()
        if not name:
            raise InvalidInputError("a lab needs a name", "pass a non-empty name")
        existing = self.labs.get(name_key(name))
        lab = existing
        if lab is None:
            lab = Lab(name=name)
            self.session.add(lab)
            self.counts.labs += 1
        for label in (name, *aliases):
            key = name_key(label)
            owner = self.labs.get(key)
            if owner is not None and owner is not lab:
                raise ConflictError(f"the name {label!r} already belongs to lab {owner.name!r}", "choose another alias")
            if owner is None:
                lab.names.append(LabName(name=label.strip(), name_key=key))
                self.labs[key] = lab
        return lab, existing is None

    # -- benchmarks -------------------------------------------------------
    @property
    def benchmarks(self) -> dict[str, Benchmark]:
        if self._benchmarks is None:
            self._benchmarks = {b.key: b for b in self.session.scalars(select(Benchmark))}
        return self._benchmarks

    def benchmark(self, key: str, *, where: str = "") -> Benchmark:
        found = self.benchmarks.get(key.strip().lower())
        if found is None:
            prefix = f"{where}: " if where else ""
            hint = did_you_mean(key, self.benchmarks) or "see `phasewatch benchmarks list` for the known keys"
            raise NotFoundError(f"{prefix}unknown benchmark {key!r}", hint)
        return found

    def add_benchmark(self, key: str, **fields: str | None) -> Benchmark:
        found = self.benchmarks.get(key)
        if found is None:
            found = Benchmark(key=key, **fields)
            self.session.add(found)
            self.benchmarks[key] = found
            self.counts.benchmarks += 1
        return found

    # -- models -----------------------------------------------------------
    @property
    def models(self) -> dict[str, Model]:
        if self._models is None:
            rows = self.session.execute(select(ModelName.name_key, Model).join(Model, ModelName.model_id == Model.id))
            self._models = {key: model for key, model in rows}
        return self._models

    def find_model(self, name: str) -> Model | None:
        key = name_key(name)
        if self.bulk or self._models is not None:
            return self.models.get(key)
        return self.session.scalar(select(Model).join(ModelName).where(ModelName.name_key == key))

    def model(self, name: str) -> Model:
        found = self.find_model(name)
        if found is None:
            hint = did_you_mean(name, {m.name for m in self.models.values()}) or "see `phasewatch models list`"
            raise NotFoundError(f"unknown model {name!r}", hint)
        return found

    def add_model(
        self,
        name: str,
        lab: Lab,
        *,
        kind: ModelKind = ModelKind.FRONTIER,
        release_date: dt.date | None = None,
        release_date_precision: DatePrecision | None = None,
        aliases: list[str] | tuple[str, ...] = (),
        **fields: object,
    ) -> Model:
        """Create a model; its name (or an alias) already in use is a conflict.

        The check is the ``model_names`` unique constraint, flushed at once, so
        two writers racing to log one release end with one model.
        """
        name = " ".join(name.split())
        if not name:
            raise InvalidInputError("a model needs a name", "pass a non-empty name")
        for label in ("params_total_b", "params_active_b", "d_model", "n_layers", "n_heads"):
            value = fields.get(label)
            if value is not None and (not math.isfinite(float(value)) or float(value) <= 0):  # type: ignore[arg-type]
                raise InvalidInputError(f"{label} must be positive, got {value}", f"give {label} as a positive number")
        for label in (name, *aliases):
            taken = self.find_model(label)
            if taken is not None:
                raise ConflictError(
                    f"model {label!r} already exists (as {taken.name!r}, {taken.lab.name})",
                    "add scores to it with `phasewatch scores import`",
                )
        model = Model(
            name=name,
            lab=lab,
            kind=str(kind),
            release_date=release_date,
            release_date_precision=str(release_date_precision) if release_date_precision else None,
            **fields,
        )
        for label in dict.fromkeys((name, *aliases)):
            model.names.append(ModelName(name=label, name_key=name_key(label)))
        self.session.add(model)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError:
            raise ConflictError(
                f"model {name!r} already exists (another writer just added it)",
                "add scores to it with `phasewatch scores import`",
            ) from None
        if self._models is not None:
            for label in (name, *aliases):
                self._models[name_key(label)] = model
        self.counts.models += 1
        return model

    def add_alias(self, model: Model, alias: str) -> None:
        owner = self.find_model(alias)
        if owner is model:
            return
        if owner is not None:
            raise ConflictError(f"the name {alias!r} already belongs to model {owner.name!r}", "choose another alias")
        model.names.append(ModelName(name=alias, name_key=name_key(alias)))
        if self._models is not None:
            self._models[name_key(alias)] = model

    # -- observations -----------------------------------------------------
    @property
    def fingerprints(self) -> dict[str, Observation]:
        if self._fingerprints is None:
            self._fingerprints = {o.fingerprint: o for o in self.session.scalars(select(Observation))}
        return self._fingerprints

    def add_observation(
        self,
        model: Model,
        benchmark: Benchmark,
        value: float,
        *,
        reported_by: ReportedBy,
        stderr: float | None = None,
        setting: str | None = None,
        source_url: str | None = None,
        retrieved_on: dt.date | None = None,
        note: str | None = None,
        where: str = "",
    ) -> tuple[Observation, bool]:
        """Get or create one observation; returns it and whether it is new."""
        value = check_score(value, benchmark=benchmark.key, where=where)
        if stderr is not None and (not math.isfinite(stderr) or stderr < 0):
            raise InvalidInputError(
                f"{where + ': ' if where else ''}stderr {stderr:g} is negative", "give a standard error >= 0"
            )
        if model.id is None or benchmark.id is None:
            self.session.flush()
        key = fingerprint(
            model.id,
            benchmark.id,
            value,
            stderr=stderr,
            setting=setting or None,
            source_url=source_url or None,
            reported_by=str(reported_by),
        )
        if self.bulk or self._fingerprints is not None:
            found = self.fingerprints.get(key)
        else:
            found = self.session.scalar(select(Observation).where(Observation.fingerprint == key))
        if found is not None:
            return found, False
        observation = Observation(
            model=model,
            benchmark=benchmark,
            value=value,
            stderr=stderr,
            setting=setting or None,
            source_url=source_url or None,
            reported_by=str(reported_by),
            retrieved_on=retrieved_on,
            note=note or None,
            fingerprint=key,
        )
        self.session.add(observation)
        if self._fingerprints is not None:
            self._fingerprints[key] = observation
        self.counts.observations += 1
        return observation, True

    # -- panels -----------------------------------------------------------
    def panel(self, name: str) -> Panel:
        found = self.session.scalar(select(Panel).where(Panel.name == name.strip()))
        if found is None:
            names = list(self.session.scalars(select(Panel.name)))
            raise NotFoundError(f"unknown panel {name!r}", did_you_mean(name, names) or "see `phasewatch panels list`")
        return found

    def add_panel(self, name: str, *, description: str, source: str, licence: str) -> Panel:
        found = self.session.scalar(select(Panel).where(Panel.name == name))
        if found is None:
            found = Panel(name=name, description=description, source=source, licence=licence, frozen=True)
            self.session.add(found)
            self.session.flush()
            self.counts.panels += 1
        return found

    def add_to_panel(
        self, panel: Panel, observation: Observation, *, subset: str | None = None, loading: bool = False
    ) -> None:
        """Add a member; a frozen panel accepts members only while its bundled data loads."""
        if panel.frozen and not loading:
            raise ConflictError(f"panel {panel.name!r} is frozen", "create a new panel instead")
        members = self._members.get(panel.name)
        if members is None:
            members = self._members[panel.name] = {id(m.observation) for m in panel.members}
        if id(observation) in members:
            return
        panel.members.append(PanelObservation(observation=observation, subset=subset))
        members.add(id(observation))
        self.counts.panel_members += 1

    def add_panel_model(self, panel: Panel, model: Model, *, params_b: float | None, label: str | None) -> None:
        """Record the parameter count and label a panel's source used for a model (once)."""
        self.session.flush()
        if self.session.get(PanelModel, (panel.id, model.id)) is None:
            self.session.add(PanelModel(panel_id=panel.id, model_id=model.id, params_b=params_b, label=label))


BENCHMARK_KEY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


def register_benchmark(
    session: Session,
    key: str,
    *,
    name: str,
    category: str,
    standard_setting: str,
    version: str | None = None,
    url: str | None = None,
    description: str | None = None,
    nonstandard: tuple[str, ...] = (),
) -> str:
    """Add a benchmark (``benchmarks add``); its standard setting is required."""
    key = key.strip()
    if not BENCHMARK_KEY.match(key):
        raise InvalidInputError(
            f"malformed benchmark key {key!r}", "use lower-case letters, digits and _, e.g. swe_bench_pro"
        )
    if not name.strip() or not category.strip() or not standard_setting.strip():
        raise InvalidInputError(
            "a benchmark needs a name, a category and its standard setting",
            "pass --name, --category and --standard-setting",
        )
    if any("|" in m for m in nonstandard):
        raise InvalidInputError("a --nonstandard phrase contains '|'", "pass one phrase per --nonstandard")
    catalog = Catalog(session)
    if key in catalog.benchmarks:
        raise ConflictError(f"benchmark {key!r} already exists", "see `phasewatch benchmarks list`")
    benchmark = catalog.add_benchmark(
        key, name=name.strip(), category=category.strip(), version=version, url=url, description=description
    )
    benchmark.standard_setting = standard_setting.strip()
    benchmark.nonstandard_markers = "|".join(m.strip() for m in nonstandard if m.strip()) or None
    session.flush()
    return key
