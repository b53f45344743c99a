"""The trigger without a human: new open-weight releases found on the Hugging Face Hub.

Each lab's Hub organisations are stored (``lab_hub_orgs``). :func:`watch_once` lists
each organisation's repositories, newest first (``GET /api/models?author=ORG&
sort=createdAt&direction=-1``), reads each repository it has not seen before
(``GET /api/models/ORG/NAME``), registers an open-weight release with its revision
(the commit sha), parameter count and licence, and queues its steering evaluation.
Every repository seen is recorded in ``hub_repos`` (registered or skipped, and why),
and the repo's unique key makes a second watcher, or a second poll, a no-op.
``HF_ENDPOINT`` points the client at any Hub (a mirror, or a fake one in tests).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phasewatch.registry.catalog import Catalog
from phasewatch.registry.clock import Clock
from phasewatch.registry.db import transaction
from phasewatch.registry.errors import ConflictError, InvalidInputError, PhasewatchError
from phasewatch.registry.schema import HubRepo, Lab, LabHubOrg, Model

DEFAULT_ENDPOINT = "https://huggingface.co"
WEIGHT_FILE = re.compile(r"\.(safetensors|bin|gguf|pt|pth)$")
ORG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


class HubError(PhasewatchError):
    """The Hub could not be reached or answered something unreadable."""


@dataclass(frozen=True)
class HubModel:
    """What the Hub says about one repository (``/api/models/REPO``)."""

    repo: str
    sha: str | None
    created_at: dt.datetime | None
    license: str | None
    params_total: int | None
    private: bool
    gated: bool
    disabled: bool
    weight_files: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> HubModel:
        card = data.get("cardData") or {}
        license_ = card.get("license") if isinstance(card, dict) else None
        if license_ is None:
            license_ = next((t.split(":", 1)[1] for t in data.get("tags") or [] if t.startswith("license:")), None)
        if isinstance(license_, list):
            license_ = ",".join(license_)
        total = (data.get("safetensors") or {}).get("total") or (data.get("gguf") or {}).get("total")
        created = data.get("createdAt")
        return cls(
            repo=data.get("id") or data["modelId"],
            sha=data.get("sha"),
            created_at=dt.datetime.fromisoformat(created) if created else None,
            license=license_,
            params_total=int(total) if total else None,
            private=bool(data.get("private")),
            gated=bool(data.get("gated")),
            disabled=bool(data.get("disabled")),
            weight_files=sum(1 for s in data.get("siblings") or [] if WEIGHT_FILE.search(s.get("rfilename", ""))),
        )

    def why_not_open_weight(self) -> str | None:
        if self.private:
            return "private"
        if self.disabled:
            return "disabled on the Hub"
        if not self.weight_files:
            return "no weight files (.safetensors, .bin, .gguf)"
        if not self.sha:
            return "no revision sha"
        return None


class HubClient:
    """A small client of the Hub's public JSON API (``HF_ENDPOINT``, ``HF_TOKEN``)."""

    def __init__(self, endpoint: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token if token is not None else os.environ.get("HF_TOKEN")
        self.timeout = timeout

    def _get(self, url: str) -> tuple[Any, str | None]:
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "phasewatch"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read()), response.headers.get("Link")
        except urllib.error.HTTPError as exc:
            raise HubError(
                f"the Hub answered {exc.code} for {url}", "check the organisation name and HF_ENDPOINT"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise HubError(
                f"cannot reach the Hub at {self.endpoint}: {getattr(exc, 'reason', exc)}",
                "check the network, or point HF_ENDPOINT at a reachable Hub",
            ) from None
        except json.JSONDecodeError:
            raise HubError(f"the Hub's answer for {url} is not JSON", "check HF_ENDPOINT points at a Hub API") from None

    def list_repos(self, org: str, *, limit: int = 100, max_pages: int = 5) -> list[str]:
        """The organisation's model repositories, newest first (following ``Link: rel=next``)."""
        query = urllib.parse.urlencode({"author": org, "sort": "createdAt", "direction": -1, "limit": limit})
        url: str | None = f"{self.endpoint}/api/models?{query}"
        repos: list[str] = []
        for _ in range(max_pages):
            if url is None:
                break
            page, link = self._get(url)
            repos += [entry.get("id") or entry["modelId"] for entry in page]
            match = NEXT_LINK.search(link or "")
            url = match.group(1) if match else None
        return repos

    def model(self, repo: str) -> HubModel:
        data, _ = self._get(f"{self.endpoint}/api/models/{urllib.parse.quote(repo, safe='/')}")
        return HubModel.from_api(data)


# --- labs' organisations -----------------------------------------------------------------------


@dataclass(frozen=True)
class LabOrgs:
    lab: str
    orgs: tuple[str, ...]


def set_orgs(session: Session, lab_name: str, orgs: list[str]) -> LabOrgs:
    """Replace a lab's Hub organisations (an empty list removes them)."""
    lab = Catalog(session).lab(lab_name)
    for org in orgs:
        if not ORG_PATTERN.fullmatch(org):
            raise InvalidInputError(f"{org!r} is not a Hub organisation name", "write it as on the Hub, e.g. Qwen")
        owner = session.scalar(select(LabHubOrg).where(LabHubOrg.org == org))
        if owner is not None and owner.lab_id != lab.id:
            raise ConflictError(
                f"Hub organisation {org!r} already belongs to {owner.lab.name}",
                f"remove it there first: phasewatch labs hub set {owner.lab.name!r}",
            )
    current = {row.org: row for row in session.scalars(select(LabHubOrg).where(LabHubOrg.lab_id == lab.id))}
    for org, row in current.items():
        if org not in orgs:
            session.delete(row)
    for org in dict.fromkeys(orgs):
        if org not in current:
            session.add(LabHubOrg(lab_id=lab.id, org=org))
    session.flush()
    return LabOrgs(lab.name, tuple(dict.fromkeys(orgs)))


def list_orgs(session: Session) -> list[LabOrgs]:
    rows = session.scalars(select(LabHubOrg).order_by(LabHubOrg.org))
    by_lab: dict[str, list[str]] = {}
    for row in rows:
        by_lab.setdefault(row.lab.name, []).append(row.org)
    return [LabOrgs(lab, tuple(orgs)) for lab, orgs in sorted(by_lab.items())]


# --- the watch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One repository seen for the first time by a watch."""

    repo: str
    lab: str
    status: str  # registered, skipped
    model: str | None = None
    revision: str | None = None
    params_b: float | None = None
    license: str | None = None
    job_id: int | None = None
    reason: str | None = None


def _model_name(catalog: Catalog, repo: str) -> str:
    short = repo.split("/", 1)[1]
    return short if catalog.find_model(short) is None else repo


def register(session: Session, lab_id: int, info: HubModel, *, endpoint: str, clock: Clock) -> Found:
    """Record one new repository; register it (model + queued evaluation) when its weights are open."""
    from phasewatch.registry.jobs import enqueue
    from phasewatch.registry.releases import ReleaseRequest, add_release

    catalog = Catalog(session)
    lab = session.get(Lab, lab_id)
    row = HubRepo(
        repo=info.repo,
        lab_id=lab_id,
        sha=info.sha,
        hub_created_at=info.created_at,
        license=info.license,
        params_total=info.params_total,
        seen_at=clock.now(),
    )
    params_b = info.params_total / 1e9 if info.params_total else None
    reason = info.why_not_open_weight()
    if reason is None:
        existing = session.scalar(select(Model).where(Model.hf_repo == info.repo))
        if existing is not None:  # logged by hand before: queue its evaluation at this revision
            job, _ = enqueue(session, info.repo, info.sha, model=existing)
            row.model_id, row.job_id = existing.id, job.id
            session.add(row)
            session.flush()
            return Found(info.repo, lab.name, "registered", existing.name, info.sha, params_b, info.license, job.id)
        created = (info.created_at or clock.now()).date()
        request = ReleaseRequest(
            name=_model_name(catalog, info.repo),
            lab=lab.name,
            date=created.isoformat(),
            open_weight=True,
            hf_repo=info.repo,
            hf_revision=info.sha,
            source_url=f"{endpoint}/{info.repo}",
            params_total_b=params_b,
            kind="base" if re.search(r"(?i)(^|[-_])base($|[-_])", info.repo) else "frontier",
        )
        try:
            with session.begin_nested():
                result = add_release(session, request, today=clock.today())
        except PhasewatchError as exc:
            reason = f"not registered: {exc}"
        else:
            row.model_id = session.scalar(select(Model.id).where(Model.name == result.model))
            row.job_id = result.steering_job
            session.add(row)
            session.flush()
            return Found(
                info.repo, lab.name, "registered", result.model, info.sha, params_b, info.license, result.steering_job
            )
    row.skipped = reason
    session.add(row)
    session.flush()
    return Found(info.repo, lab.name, "skipped", None, info.sha, params_b, info.license, None, reason)


def watch_once(engine: Engine, client: HubClient, *, clock: Clock, orgs: list[str] | None = None) -> list[Found]:
    """Poll every stored organisation (or ``orgs``) once; return the repositories seen for the first time."""
    with transaction(engine) as session:
        targets = [
            (r.id, r.org, r.lab_id)
            for r in session.scalars(select(LabHubOrg).order_by(LabHubOrg.org))
            if orgs is None or r.org in orgs
        ]
    if orgs is not None:
        unknown = sorted(set(orgs) - {org for _, org, _ in targets})
        if unknown:
            raise InvalidInputError(
                f"no lab has the Hub organisation {unknown[0]!r}", "add it: phasewatch labs hub set LAB ORG"
            )
    found: list[Found] = []
    for org_id, org, lab_id in targets:
        repos = client.list_repos(org)
        with transaction(engine) as session:
            seen = set(session.scalars(select(HubRepo.repo).where(HubRepo.repo.in_(repos)))) if repos else set()
        for repo in repos:
            if repo in seen:
                continue
            info = client.model(repo)
            try:
                with transaction(engine) as session:
                    found.append(register(session, lab_id, info, endpoint=client.endpoint, clock=clock))
            except IntegrityError:  # another watcher registered it first
                continue
        with transaction(engine) as session:
            row = session.get(LabHubOrg, org_id)
            if row is not None:
                row.last_polled_at = clock.now()
    return found
