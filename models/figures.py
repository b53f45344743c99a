"""Static figures for the report: data in, SVG text out (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def frontier_scatter(points: Sequence[dict[str, Any]], band: dict[str, list[float]] | None, x_label: str,
                     y_label: str) -> str:  # fmt: skip
    """Models by lab; the population trend with its 95 % predictive band; post-cutoff releases ringed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    labs = sorted({p["lab"] for p in points})
    colours = plt.get_cmap("tab10" if len(labs) <= 10 else "tab20")
    if band:
        ax.fill_between(band["x"], band["low"], band["high"], color="0.85", label="95 % predictive band (new lab)")
        ax.plot(band["x"], band["mean"], color="0.3", lw=1.2, label="population trend (posterior mean)")
    for i, lab in enumerate(labs):
        mine = [p for p in points if p["lab"] == lab]
        ax.scatter([p["x"] for p in mine], [p["y"] for p in mine], s=28, color=colours(i % colours.N), label=lab, zorder=3)
    for p in points:
        if p.get("post_cutoff"):
            ax.scatter([p["x"]], [p["y"]], s=120, facecolors="none", edgecolors="black", lw=1.2, zorder=4)
        ax.annotate(p["name"], (p["x"], p["y"]), fontsize=6, xytext=(3, 2), textcoords="offset points", alpha=0.8)
    ax.scatter([], [], s=120, facecolors="none", edgecolors="black", label="post-cutoff (out of sample)")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="lower right")
    return _svg(fig)


def slope_forest(labs: Sequence[dict[str, Any]], population: dict[str, float]) -> str:
    """Each lab's coupling slope with its 95 % HDI, the population slope as a band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labs) + 1.2))
    ax.axvspan(population["low"], population["high"], color="0.9", label="population slope, 95 % HDI")
    ax.axvline(population["mean"], color="0.5", lw=1)
    for i, lab in enumerate(labs):
        s = lab["slope"]
        ax.errorbar([s["mean"]], [i], xerr=[[s["mean"] - s["low"]], [s["high"] - s["mean"]]], fmt="o", color="C0", capsize=3)
        if lab.get("ols_slope") is not None:
            ax.scatter([lab["ols_slope"]], [i], marker="x", color="C3", zorder=3)
    ax.scatter([], [], marker="x", color="C3", label="OLS slope (paper's method)")
    ax.set_yticks(range(len(labs)), [f"{lab['lab']} (n={lab['n_models']})" for lab in labs])
    ax.invert_yaxis()
    ax.set_xlabel("coupling slope dGPQA / dSWE")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _svg(fig)


def trajectories(series: dict[str, list[tuple[str, float]]]) -> str:
    """h over release dates, one line per lab (labs with at least two releases)."""
    import datetime as dt

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.axhline(0, color="0.6", lw=0.8)
    for lab, rows in sorted(series.items()):
        days = [dt.date.fromisoformat(d if len(d) == 10 else (d + "-01" if len(d) == 7 else d + "-07-01")) for d, _ in rows]
        ax.plot(days, [h for _, h in rows], marker="o", ms=3, label=lab)
    ax.set_ylabel("h-field (pp; + = reasoning-rich)")
    ax.legend(fontsize=7, ncol=3, frameon=False)
    fig.autofmt_xdate()
    return _svg(fig)


def spread_history(history: dict[str, list[tuple[str, float | None]]]) -> str:
    """Top-5 spread per benchmark at each quarter end."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for benchmark, rows in sorted(history.items()):
        kept = [(d[:7], v) for d, v in rows if v is not None]
        if kept:
            ax.plot([d for d, _ in kept], [v for _, v in kept], marker="o", ms=3, label=benchmark)
    ax.set_ylabel("top-5 spread (pp)")
    ax.legend(fontsize=7, ncol=3, frameon=False)
    return _svg(fig)


def phase_map(families: dict[str, list[tuple[float, float, float]]], nc_band: tuple[float, float] | None) -> str:
    """TruthfulQA against size per family (marker size ~ HellaSwag), with the N_c interval shaded."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if nc_band:
        ax.axvspan(nc_band[0] * 1e9, nc_band[1] * 1e9, color="#fde2c8", label="N_c, 95 % interval (sourced)")
    for family, rows in sorted(families.items()):
        rows = sorted(rows)
        ax.plot([r[0] for r in rows], [r[2] for r in rows], marker="o", ms=3, lw=1, label=family)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("TruthfulQA MC2 (%)")
    ax.legend(fontsize=6, ncol=4, frameon=False)
    return _svg(fig)


def steering_sweep(sweep: Sequence[dict[str, float]], title: str) -> str:
    """Corrected / broken across strengths, with the random-direction control dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    strengths = [r["strength"] for r in sweep]
    ax.plot(strengths, [r["corrected"] for r in sweep], marker="o", color="C2", label="corrected")
    ax.plot(strengths, [r["broken"] for r in sweep], marker="o", color="C3", label="broken")
    ax.plot(strengths, [r["control_corrected"] for r in sweep], ls="--", color="C2", alpha=0.6, label="control corrected")
    ax.plot(strengths, [r["control_broken"] for r in sweep], ls="--", color="C3", alpha=0.6, label="control broken")
    ax.set_xlabel("α (x typical residual norm)")
    ax.set_ylabel("share of items")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig)
