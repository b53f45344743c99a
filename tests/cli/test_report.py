"""The report: every section, written from the registry, checked in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from phasewatch.registry.report import SECTIONS
from tests.cli.test_cli import run

pytestmark = pytest.mark.slow
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars"]  # fmt: skip


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("PHASEWATCH_REQUIRE_BROWSER"):
            pytest.fail("PHASEWATCH_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def _browser(chromium: str, tmp_path: Path, profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / profile}", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def _png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", header[16:20])[0]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_report_in_a_real_browser(fitted_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    code, out, err = run("report", "--out", str(tmp_path / "site"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    page = Path(summary["path"])
    text = page.read_text()
    assert all(f'id="{key}"' in text for key, _ in SECTIONS)
    for external in ('src="http', "src='http", "<link ", "@import", "<script src", "url(http"):  # self-contained
        assert external not in text
    assert any("OLS slope 0.513" in line for line in summary["findings"])
    chromium = _chromium()
    dom = _browser(chromium, tmp_path, "p1", "--dump-dom", page.as_uri()).stdout
    assert 'data-errors="0"' in dom  # the page counts window errors and console.error calls
    assert all(f'<section id="{key}">' in dom for key, _ in SECTIONS)
    for name, width in (("desktop", 1280), ("phone", 390)):
        shot = tmp_path / f"{name}.png"
        _browser(chromium, tmp_path, f"s{name}", f"--screenshot={shot}", f"--window-size={width},2400", page.as_uri())
        assert shot.is_file() and shot.stat().st_size > 50_000 and _png_width(shot) == width
