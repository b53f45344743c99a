"""Render the report (:mod:`phasewatch.services.report`) as the dashboard: one folder (index.html, data.js, app.js, style.css, plotly.min.js)
that opens from disk with no server and no network."""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from importlib import resources
from pathlib import Path

from phasewatch.services.report import ReportData

# (hash, title): the tabs, in order; each is one <section id="...">.
PAGES = (
    ("overview", "Overview"),
    ("frontier", "Frontier"),
    ("analyze", "Analyze"),
    ("labs", "Labs"),
    ("predictions", "Predictions"),
    ("saturation", "Saturation"),
    ("phase", "Phase map"),
    ("coupling", "Coupling matrix"),
    ("steering", "Steering"),
    ("provenance", "Provenance"),
)
STATIC = ("app.js", "style.css")


def plotly_js() -> Path:
    """The plotly.js bundle the plotly Python package ships (embedded offline)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def write_dashboard(data: ReportData, out_dir: Path) -> Path:
    """Render the report's data as the dashboard folder; returns its index.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data.page, ensure_ascii=False, separators=(",", ":"), default=str).replace("</", "<\\/")
    (out_dir / "data.js").write_text(f"window.PHASEWATCH = {payload};\n", encoding="utf-8")
    static = resources.files("phasewatch.dashboard") / "static"
    for name in STATIC:
        (out_dir / name).write_text(static.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copyfile(plotly_js(), out_dir / "plotly.min.js")
    path = out_dir / "index.html"
    path.write_text(page(data.today), encoding="utf-8")
    return path


def page(today: dt.date) -> str:
    nav = "".join(f'<a href="#{key}" data-page="{key}">{html.escape(title)}</a>' for key, title in PAGES)
    sections = "".join(
        f'<section id="{key}" hidden><h2>{html.escape(title)}</h2><div class="body"></div></section>'
        for key, title in PAGES
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>phasewatch dashboard {today.isoformat()}</title>"
        "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});"
        "var __ce=console.error;console.error=function(){window.__errors.push([].join.call(arguments,' '));__ce.apply(console,arguments)};</script>"
        '<link rel="stylesheet" href="style.css"></head><body>'
        "<header><h1>phasewatch</h1><span>capability coupling, predictions, phases, steering · generated "
        f"{today.isoformat()} from the registry</span></header><nav>{nav}</nav><main>{sections}</main>"
        '<script src="plotly.min.js"></script><script src="data.js"></script><script src="app.js"></script>'
        "</body></html>"
    )
