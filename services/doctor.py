"""Is this installation ready? (``phasewatch doctor``): the database and its schema
revision, the writable caches, the optional steering dependencies and the compute device.

Unlike the other services this one takes no engine: whether the configured database
can be reached at all is one of the things it checks (a failure is a ``fail`` line,
not an exception). torch is imported only by the device check, and only if installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

STEERING = ("torch", "transformers", "safetensors", "gguf", "accelerate")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer."""

    check: str
    status: str  # ok, warn or fail
    detail: str


def _database(configured: str | None) -> list[Check]:
    from phasewatch.registry.db import current_revision, database_url, head_revision, make_engine, redact

    target = configured or database_url()
    url = redact(target)
    try:
        engine = make_engine(target)
        try:
            now = current_revision(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        return [Check("database", "fail", f"{url}: {str(exc).splitlines()[0]}")]
    head = head_revision()
    checks = [Check("database", "ok", f"{url} reachable")]
    if now is None:
        checks.append(Check("schema revision", "fail", f"empty (this phasewatch needs {head}): run `phasewatch init`"))
    elif now != head:
        checks.append(
            Check("schema revision", "fail", f"{now}, this phasewatch needs {head}: run `phasewatch db upgrade`")
        )
    else:
        checks.append(Check("schema revision", "ok", f"{now} (head)"))
    return checks


def _writable(label: str, path: Path, why: str) -> Check:
    if path.is_dir():
        ok = os.access(path, os.W_OK)
        return Check(label, "ok" if ok else "warn", f"{path} ({'writable' if ok else 'NOT writable'}; {why})")
    parent = next((p for p in path.parents if p.exists()), None)
    ok = parent is not None and os.access(parent, os.W_OK)
    return Check(
        label,
        "ok" if ok else "warn",
        f"{path} (not created yet{'' if ok else ', and its parent is not writable'}; {why})",
    )


def _caches() -> list[Check]:
    from platformdirs import user_data_path

    hf = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"
    )
    flags = dict(part.split("=", 1) for part in os.environ.get("PYTENSOR_FLAGS", "").split(",") if "=" in part)
    pytensor = Path(flags.get("base_compiledir") or Path.home() / ".pytensor")
    return [
        _writable("data directory", user_data_path("phasewatch"), "the default SQLite registry"),
        _writable(
            "compile cache", pytensor, "PyTensor's compiled fit model; PYTENSOR_FLAGS=base_compiledir=… moves it"
        ),
        _writable("Hugging Face cache", hf, "steering model weights; HF_HOME / HF_HUB_CACHE move it"),
    ]


def _steering() -> list[Check]:
    found, missing = [], []
    for name in STEERING:
        if importlib.util.find_spec(name) is None:
            missing.append(name)
        else:
            found.append(f"{name} {importlib.metadata.version(name)}")
    if missing:
        return [
            Check(
                "steering dependencies",
                "warn",
                f"missing {', '.join(missing)}: pip install 'phasewatch[steer]' (only steering needs them)",
            )
        ]
    return [Check("steering dependencies", "ok", ", ".join(found))]


def _device() -> list[Check]:
    if importlib.util.find_spec("torch") is None:
        return [Check("device", "warn", "torch is not installed: no steering on this machine")]
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return [Check("device", "ok", f"CUDA: {', '.join(names)} (steering runs in bf16)")]
    return [Check("device", "ok", "CPU only (steering runs in fp32; a small model takes minutes)")]


def check_installation(database_url: str | None = None) -> tuple[Check, ...]:
    """Every check, one line each: the database (default: the configured one, as every
    command opens it) and its revision, the caches, the steering dependencies, the device."""
    return tuple(_database(database_url) + _caches() + _steering() + _device())
