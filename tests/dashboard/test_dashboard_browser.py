"""The dashboard in a real headless chromium: every page loads without a console error, hover,
filters, the label toggle and both Analyze forms work, and the forms' numbers equal the CLI's."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from phasewatch.dashboard.build import PAGES
from tests.cli.test_cli import run
from tests.dashboard.cdp import Browser, find_chromium

pytestmark = pytest.mark.slow
TOLERANCE = 1e-9  # JS and numpy differ only in summation order: far below any printed digit


def _png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", header[16:20])[0]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(b))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_dashboard_in_a_real_browser(fitted_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEWATCH_DATABASE_URL", fitted_url)
    monkeypatch.setenv("PHASEWATCH_TODAY", "2026-12-01")
    code, _, err = run("init")  # the bundled predictions, so that each has its page
    assert code == 0, err
    code, _, err = run("phase", "reproduce", "--resamples", "2000", "--format", "json")  # stores both N_c
    assert code == 0, err
    _store_joint_matrix(fitted_url)  # the coupling tab's joint view (stored from synthetic draws: no sampling)
    code, out, err = run("report", "--out", str(tmp_path / "site"), "--json")
    assert code == 0, err
    page = Path(json.loads(out)["path"])
    index = page.read_text()
    assert "http" not in index and '<link rel="stylesheet" href="style.css">' in index  # local files only
    for name in ("plotly.min.js", "data.js", "app.js", "style.css"):
        assert (page.parent / name).stat().st_size > 1000
    chromium = find_chromium()
    browser = Browser(chromium, tmp_path / "profile")
    shots = Path(os.environ.get("PHASEWATCH_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        url = page.as_uri()
        for key, _ in PAGES:  # every page renders, with its tables and figures
            browser.open(f"{url}#{key}")
            assert browser.eval("document.documentElement.getAttribute('data-page')") == key
            assert browser.eval(f"document.querySelector('#{key} .body').children.length") > 0
            if key in ("frontier", "labs", "saturation", "phase", "coupling"):
                assert browser.eval(f"document.querySelectorAll('#{key} .js-plotly-plot .main-svg').length") > 0
        browser.open(f"{url}#coupling")
        assert browser.eval("document.querySelectorAll('[data-table=coupling-joint] tbody tr').length") == 21
        _frontier(browser, url)
        _tables(browser, url)
        _analyze(browser, url)
        _detail_pages(browser, url)
        for key, _ in PAGES:  # screenshots at both widths, each page loaded at that width
            for width in (1280, 390):
                browser.open(f"{url}#{key}", width=width)
                if key == "analyze":  # show the forms answered
                    browser.click("#analyze-form button")
                    browser.click("#classify-form button")
                browser.eval("new Promise(function(d){setTimeout(d,300)})")
                shot = shots / f"{key}-{width}.png"
                browser.screenshot(shot, width)
                assert _png_width(shot) == width and shot.stat().st_size > 10_000
        assert browser.errors == [], browser.errors
        assert browser.eval("window.__errors") == []
    finally:
        browser.close()


def _frontier(browser: Browser, url: str) -> None:
    browser.open(f"{url}#frontier")
    browser.wait_for("document.querySelector('#frontier-fig .scatterlayer .point')")
    # a real mouse over a release shows its name, lab, date, scores and h interval
    target = browser.eval("""(function(){
        var gd = document.getElementById('frontier-fig'), p = PHASEWATCH.frontier.points[0];
        var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
        return {name: p.name, lab: p.lab, x: box.left + xa._offset + xa.l2p(p.x), y: box.top + ya._offset + ya.l2p(p.y)};
    })()""")
    browser.mouse(target["x"] - 40, target["y"] - 40)
    browser.mouse(target["x"], target["y"])
    browser.wait_for("document.querySelector('#frontier-fig .hoverlayer .hovertext')")
    hover = browser.eval("document.querySelector('#frontier-fig .hoverlayer .hovertext').textContent")
    assert target["name"] in hover and target["lab"] in hover and "pp [" in hover and "gpqa_diamond" in hover
    # the label toggle places names without overlaps; the filter hides the fit's releases
    browser.click("#frontier-labels")
    browser.wait_for("document.getElementById('frontier-fig').__labelsPlaced > 5")
    boxes = browser.eval("""Array.from(document.querySelectorAll('#frontier-fig .annotation-text')).map(function(t){
        var r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    assert len(boxes) > 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1), (a, b)
    total = browser.eval("document.querySelectorAll('#frontier-fig .scatterlayer .point').length")
    browser.eval(
        "var s = document.getElementById('frontier-show'); s.value = 'since'; s.dispatchEvent(new Event('change'))"
    )
    since = browser.eval("PHASEWATCH.frontier.since")
    browser.wait_for(f"document.querySelectorAll('#frontier-fig .scatterlayer .point').length < {total}")
    assert 0 < since < total


def _store_joint_matrix(url: str) -> None:
    import datetime as dt

    from phasewatch.registry.comparison import matrix_panel
    from phasewatch.registry.db import make_engine, transaction
    from phasewatch.services.coupling_matrix import _store
    from tests.services.test_coupling_matrix import _matrix

    engine = make_engine(url)
    with transaction(engine) as session:
        panel = matrix_panel(session, dt.date(2026, 12, 1), 10)
        matrix = _matrix(panel.matrix_data())
        _store(session, "frontier", dt.date(2026, 12, 1), panel, matrix, 1.0, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    engine.dispose()


def _tables(browser: Browser, url: str) -> None:
    browser.open(f"{url}#provenance")
    rows = browser.eval("document.querySelectorAll('[data-table=observations] tbody tr').length")
    browser.click("[data-table=observations] input.filter")
    browser.send("Input.insertText", text="gpqa_diamond")
    browser.wait_for(f"document.querySelectorAll('[data-table=observations] tbody tr').length < {rows}")
    kept = browser.eval(
        "Array.from(document.querySelectorAll('[data-table=observations] tbody tr')).map(function(r){return r.textContent})"
    )
    assert kept and all("gpqa_diamond" in r for r in kept)
    csv = browser.eval(
        "decodeURIComponent(document.querySelector('[data-table=observations] a.csv').href.split(',').slice(1).join(','))"
    )
    assert csv.splitlines()[0] == "model,lab,kind,benchmark,value,setting,reported by,retrieved on,source url"
    assert len(csv.splitlines()) == rows + 1 and "https://" in csv  # full URLs in the CSV
    assert browser.eval("document.querySelectorAll('.tablebox').length") == browser.eval(
        "document.querySelectorAll('.tablebox a.csv').length"
    )


def _analyze(browser: Browser, url: str) -> None:
    browser.open(f"{url}#analyze")
    cases = [("Google", 70.0, 85.0), ("DeepSeek", 40.0, 45.0), ("OpenAI", 80.0, 99.5), ("Mistral AI", 55.5, 66.6)]
    for lab, x, y in cases:
        known = browser.eval(
            f"Array.from(document.querySelectorAll('#an-lab option')).some(function(o){{return o.value === {json.dumps(lab)}}})"
        )
        browser.eval(
            f"document.getElementById('an-lab').value = {json.dumps(lab if known else '(new lab)')};"
            f"document.getElementById('an-x').value = '{x}'; document.getElementById('an-y').value = '{y}';"
        )
        browser.eval("document.getElementById('an-result').removeAttribute('data-json')")
        browser.click("#analyze-form button")
        browser.wait_for("document.getElementById('an-result').getAttribute('data-json')")
        page = json.loads(browser.eval("document.getElementById('an-result').getAttribute('data-json')"))
        code, out, err = run("analyze", "--lab", lab, "--x", str(x), "--y", str(y), "--format", "json")
        assert code == 0, err
        cli = json.loads(out)
        assert page["lab_known"] == cli["lab_known"] == known
        assert page["inside"] == cli["inside"]
        for part in ("h", "predicted"):
            for k in ("mean", "low", "high"):
                assert _close(page[part][k], cli[part][k]), (lab, part, k, page[part][k], cli[part][k])
        text = browser.eval("document.getElementById('an-result').textContent")
        assert f"{cli['h']['mean']:+.1f}" in text and f"{cli['predicted']['low']:.1f}" in text
    for params_b, hs, tqa in ((6.9, 76.0, 36.0), (1.0, 40.0, 41.0), (3.44, 60.0, 33.0)):
        browser.eval(
            f"document.getElementById('cl-params').value = '{params_b}'; document.getElementById('cl-hs').value = '{hs}';"
            f"document.getElementById('cl-tqa').value = '{tqa}'; document.getElementById('cl-result').removeAttribute('data-json');"
        )
        browser.click("#classify-form button")
        browser.wait_for("document.getElementById('cl-result').getAttribute('data-json')")
        page = json.loads(browser.eval("document.getElementById('cl-result').getAttribute('data-json')"))
        code, out, err = run(
            "phase", "classify", "--params-b", str(params_b), "--hellaswag", str(hs), "--truthfulqa", str(tqa), "--json"
        )
        assert code == 0, err
        cli = json.loads(out)
        assert page["phase"] == cli["isocline_phase"]
        assert _close(page["boundary"], cli["boundary_truthfulness"])
        assert page["size_vs_nc"] == cli["size_vs_nc"]


def _detail_pages(browser: Browser, url: str) -> None:
    keys = browser.eval("PHASEWATCH.predictions.items.map(function(p){return p.key})")
    assert keys
    for key in keys:  # a page per prediction: statement, window, evidence, history, hash
        browser.open(f"{url}#predictions/{key}")
        text = browser.eval("document.getElementById('prediction-detail').textContent")
        content_hash = browser.eval(
            f"PHASEWATCH.predictions.items.filter(function(p){{return p.key === '{key}'}})[0].hash"
        )
        assert "Statement:" in text and "→" in text and content_hash in text
        assert (
            browser.eval(f"document.querySelectorAll('[data-table=\"prediction-{key}-evidence\"] tbody tr').length") > 0
        )
    for lab in browser.eval("PHASEWATCH.labs.map(function(l){return l.lab})"):
        browser.open(f"{url}#labs/{lab}")
        browser.wait_for("document.querySelector('#lab-trajectory .main-svg')")
        assert browser.eval("document.querySelector('#lab-detail h3').textContent") == lab


def test_screenshots_directory_is_documented() -> None:
    """docs/screenshots holds the pictures this test writes with PHASEWATCH_SCREENSHOTS=docs/screenshots."""
    folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if not folder.is_dir() or shutil.which("chromium") is None:
        pytest.skip("no screenshots committed or no chromium")
    names = {p.name for p in folder.glob("*.png")}
    assert {f"{key}-{w}.png" for key, _ in PAGES for w in (1280, 390)} <= names
