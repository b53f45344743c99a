"""Saturation: spreads, the ratio σ, the rotation rule and the next axis."""

from __future__ import annotations

import datetime as dt

import pytest

from phasewatch.models.criteria import Release
from phasewatch.models.saturation import pair_ratio, quarter_ends, saturation_report


def _releases() -> list[Release]:
    out = []
    for i in range(8):  # swe bunched (top-5 spread 0.3), gpqa wide, hle wide and tracking gpqa
        scores = {"swe_bench_verified": 80 + 0.1 * (i % 5), "gpqa_diamond": 60 + 4 * i, "hle": 10 + 3 * i + (i % 2)}
        day = dt.date(2025, 1 + i, 1)
        out.append(Release(f"m{i}", "L", day, day, scores))
    return out


def test_rotation_when_sigma_is_below_a_fifth() -> None:
    ratio = pair_ratio(_releases(), "swe_bench_verified", "gpqa_diamond", ["hle"])
    assert ratio.sigma == pytest.approx(0.3 / 16) and ratio.advice.startswith("rotate")  # top-5 swe 80.4..80.1
    assert ratio.next_axis == "hle"  # correlates with gpqa (r > 0.5) and is spread wide


def test_report_marks_the_saturating_axis_and_tracks_history() -> None:
    benchmarks, pairs = saturation_report(
        _releases(), ["swe_bench_verified", "gpqa_diamond", "hle"], dt.date(2025, 9, 1)
    )
    states = {b.benchmark: b.state for b in benchmarks}
    assert states["swe_bench_verified"].startswith("saturating") and states["hle"] == "active"
    gpqa = next(b for b in benchmarks if b.benchmark == "gpqa_diamond")
    assert gpqa.history[-1].spread == 16 and gpqa.history[0].spread is None  # too few models early on
    assert {(p.old, p.new) for p in pairs} >= {("swe_bench_verified", "gpqa_diamond"), ("gpqa_diamond", "hle")}


def test_quarter_ends() -> None:
    assert quarter_ends(dt.date(2025, 11, 5), dt.date(2026, 5, 1)) == [
        dt.date(2025, 12, 31),
        dt.date(2026, 3, 31),
        dt.date(2026, 5, 1),
    ]
