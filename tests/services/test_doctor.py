"""The installation check called from Python: the database line says what is wrong."""

from __future__ import annotations

from pathlib import Path

from phasewatch.migrations import HEAD_REVISION
from phasewatch.services.doctor import check_installation


def _by_name(url: str) -> dict[str, tuple[str, str]]:
    return {c.check: (c.status, c.detail) for c in check_installation(url)}


def test_a_current_database_passes_and_every_part_is_checked(db_url: str) -> None:
    checks = _by_name(db_url)
    assert checks["database"][0] == "ok" and checks["schema revision"] == ("ok", f"{HEAD_REVISION} (head)")
    assert {"data directory", "compile cache", "Hugging Face cache", "steering dependencies", "device"} <= set(checks)


def test_an_empty_or_unreachable_database_fails_with_what_to_do(empty_url: str, tmp_path: Path) -> None:
    status, detail = _by_name(empty_url)["schema revision"]
    assert status == "fail" and "phasewatch init" in detail
    missing = f"sqlite:///{tmp_path}/no/such/folder/registry.db"
    checks = _by_name(missing)
    assert checks["database"][0] == "fail" and "schema revision" not in checks
